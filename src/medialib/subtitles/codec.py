"""SRT and WebVTT files in and out: bytes to text, text to cues, cues to files, with line numbers.

Translators bring files from Subtitle Edit and the like, saved in whatever encoding
their system used, so reading goes in three steps, each with its own clear error:

    decode_subtitles   bytes -> text: a BOM (UTF-8, UTF-16 LE/BE), else UTF-16 when NUL
                       bytes show it, else UTF-8, else cp1251 (Russian Windows); or the
                       encoding the caller names. Short files make statistical guessing
                       unreliable, so only these are tried. Empty and binary data refused.
    parse_srt          text -> ParsedCue records, each with the line of its timing;
    parse_webvtt       CRLF, a missing final newline, SRT's optional numbers, ``,`` or ``.``
                       before the milliseconds, WebVTT headers, NOTE/STYLE/REGION blocks
                       and cue settings are all accepted; tags are dropped, entities decoded
    find_cue_problems  what a Track cannot hold or a lecture cannot use, with line numbers:
                       inverted times, overlaps, over-long cues, cues past the lecture's end

`read_subtitles` runs them all and returns a Track (or raises `SubtitleFileError`, an
InputError carrying `.line` and every problem found); `write_subtitles` is the way out.
`match_ids` gives a re-imported file the ids of the cues it came from, so comments,
risk and provenance of untouched cues survive a round trip through another editor.

Writing: WebVTT escapes ``&``, ``<`` and ``>`` (``<script>`` stays text: ``&lt;script&gt;``);
SRT has no escapes and is written as is. Reading SRT drops only its formatting tags
(<i>, <b>, <u>, <s>, <font ...>) and ``{\\an8}``-style position codes, so other text in
angle brackets survives a round trip.
"""

from __future__ import annotations

import codecs
import html
import logging
import re
import secrets
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from medialib.clock import format_timestamp_ms
from medialib.errors import InputError
from medialib.subtitles.cues import Cue, Track

logger = logging.getLogger(__name__)

FORMATS = ("srt", "vtt")
END_SLACK_MS = 1000  # a cue may end this much after the lecture (players stop anyway); more means another lecture
SAME_TIME_MS = 20  # times this close count as unchanged in match_ids (half a frame at 25 fps)


class SubtitleFileError(InputError):
    """A subtitle file that cannot be read; `line` is 1-based (None: the whole file), `problems` all messages."""

    def __init__(self, message: str, line: int | None = None, problems: Sequence[str] = ()):
        super().__init__(message)
        self.line = line
        self.problems = tuple(problems) or (message,)


@dataclass(frozen=True)
class ParsedCue:
    """A cue as read from a file, before the checks a Track makes: times may be inverted or overlap."""

    line: int  # the line of its timing, 1-based
    start_ms: int
    end_ms: int
    text: str


# --- bytes to text -------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# control characters text never holds: all below 0x20 but \t \n \f \r and \x1a (DOS end-of-file, in old files)
_CONTROLS = "[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]"
_CONTROL_BYTES, _CONTROL_CHARS = re.compile(_CONTROLS.encode()), re.compile(_CONTROLS)


def decode_subtitles(data: bytes, *, name: str = "", encoding: str | None = None) -> tuple[str, str]:
    """The file's text (BOM removed, line ends as ``\\n``) and the encoding it was read with.

    Raises SubtitleFileError for empty or binary data, an unknown `encoding`, or bytes
    that are not in the `encoding` named.
    """
    label = name or "subtitle file"
    if not data.strip():
        raise SubtitleFileError(f"{label}: the file is empty; export the subtitles again")
    if encoding:
        text, used = _decode_as(data, encoding, label), encoding
    else:
        text, used = _detect(data, label)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SubtitleFileError(f"{label}: the file is empty; export the subtitles again")
    return text, used


def _decode_as(data: bytes, encoding: str, label: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SubtitleFileError(f"{label}: unknown encoding {encoding!r}; use e.g. utf-8, utf-16 or cp1251") from None
    try:  # a BOM that the codec keeps (utf-8, utf-16-le) decodes to U+FEFF, removed by the caller
        return data.decode(name)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SubtitleFileError(
            f"{label} line {line}: byte {e.start} is not {encoding} ({e.reason}); "
            "give the file's real encoding, or leave it out to detect it",
            line=line,
        ) from None


def _detect(data: bytes, label: str) -> tuple[str, str]:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, enc, label), enc
    if b"\0" in data and (enc := _utf16_without_bom(data)):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            text = "\0"  # not UTF-16 after all: binary
        if not _CONTROL_CHARS.search(text):
            return text, enc
    if control := _CONTROL_BYTES.search(data):
        raise _binary(label, control.start())
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x98" in data:  # the one byte cp1251 leaves undefined
        raise _binary(label, data.index(b"\x98"))
    return data.decode("cp1251"), "cp1251"


def _utf16_without_bom(data: bytes) -> str | None:
    """utf-16-le/be when the NULs sit on one side of each pair, as in text made mostly of ASCII and Cyrillic."""
    sample = data[:65536]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    pairs = len(sample) // 2
    if len(data) % 2 or pairs == 0:
        return None
    # timing lines alone are a tenth of any subtitle file, each ASCII character giving one NUL
    # on the same side; binary data has NULs on both sides
    if odd >= pairs / 10 and even <= odd / 100:
        return "utf-16-le"
    if even >= pairs / 10 and odd <= even / 100:
        return "utf-16-be"
    return None


def _binary(label: str, offset: int) -> SubtitleFileError:
    return SubtitleFileError(
        f"{label}: not a text file (binary data at byte {offset}); "
        "export the subtitles from your editor as SRT or WebVTT"
    )


# --- text to cues --------------------------------------------------------------------

_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[,.](\d{3})"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+(.*))?$")
_TIMING_LIKE = re.compile(r"^\s*-?\d+:\d+(?::\d+)?[,.:]\d+\s*-")  # "00:00:03,000 -> 00:00:04,000", "-00:00:01,000 --> ..."
_SRT_TAGS = re.compile(r"</?(?:i|b|u|s)>|<font(?:\s[^>]*)?>|</font>|\{\\[^{}]*\}", re.IGNORECASE)
_VTT_TAGS = re.compile(r"<[^>\n]*>")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_SKIPPED_BLOCKS = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")


def parse_srt(text: str, *, name: str = "") -> tuple[ParsedCue, ...]:
    """SubRip cues in file order; numbers optional, times ``HH:MM:SS,mmm`` (``.`` accepted)."""
    cues = []
    for block in _blocks(text):
        (n0, first), rest = block[0], block[1:]
        if first.strip().isdigit() and rest:
            (n0, first), rest = rest[0], rest[1:]
        if "-->" not in first and not _TIMING_LIKE.match(first):
            raise SubtitleFileError(
                f"{_at(name, 'srt', n0)}: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', found {first.strip()[:60]!r}; "
                "each cue is a number, a timing line, its text and a blank line",
                line=n0,
            )
        start, end = _timing(first, name, "srt", n0)
        cues.extend(_cue(n0, start, end, [_SRT_TAGS.sub("", line) for _, line in rest], name, "srt"))
    return tuple(cues)


def parse_webvtt(text: str, *, name: str = "", language: str = "") -> tuple[ParsedCue, ...]:
    """WebVTT cues in file order; header, NOTE/STYLE/REGION blocks, identifiers and settings skipped.

    A ``Language:`` header that disagrees with `language` is logged, not refused: the
    caller knows which track the file is meant for.
    """
    blocks = _blocks(text)
    if not blocks or not _VTT_HEADER.fullmatch(blocks[0][0][1].strip()):
        first = text.split("\n", 1)[0][:40]
        raise SubtitleFileError(
            f"{name or 'VTT subtitles'}: the first line must start with 'WEBVTT', found {first!r}; "
            "save the file as WebVTT, or read it as SRT",
            line=1,
        )
    header, cues = blocks[0][1:], []
    if header and "-->" in header[0][1]:  # no blank line after WEBVTT: the first cue follows at once
        blocks[0], header = header, ()
    else:
        blocks = blocks[1:]
    if language:
        _warn_on_language([line for _, line in header], language)
    for block in blocks:
        n0, first = block[0]
        if _VTT_SKIPPED_BLOCKS.fullmatch(first.strip()):
            continue
        if "-->" not in first and len(block) > 1 and ("-->" in block[1][1] or _TIMING_LIKE.match(block[1][1])):
            block = block[1:]  # a cue identifier
            n0, first = block[0]
        if "-->" not in first and not _TIMING_LIKE.match(first):
            raise SubtitleFileError(
                f"{_at(name, 'vtt', n0)}: expected a cue timing 'HH:MM:SS.mmm --> HH:MM:SS.mmm', found {first.strip()[:60]!r}; "
                "each cue is an optional identifier, a timing line, its text and a blank line",
                line=n0,
            )
        start, end = _timing(first, name, "vtt", n0)
        lines = [html.unescape(_VTT_TAGS.sub("", line)) for _, line in block[1:]]
        cues.extend(_cue(n0, start, end, lines, name, "vtt"))
    return tuple(cues)


def parse_text(text: str, *, name: str = "", fmt: str | None = None, language: str = "") -> tuple[str, tuple[ParsedCue, ...]]:
    """The format (`fmt`, else "vtt" when the text starts with WEBVTT or the name ends .vtt, else "srt") and its cues."""
    if fmt is None:
        fmt = "vtt" if text.lstrip("\ufeff").startswith("WEBVTT") or name.lower().endswith(".vtt") else "srt"
    if fmt == "vtt":
        return fmt, parse_webvtt(text, name=name, language=language)
    if fmt == "srt":
        return fmt, parse_srt(text, name=name)
    raise SubtitleFileError(f"subtitle format {fmt!r} is not supported; use 'vtt' or 'srt'")


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Runs of non-blank lines with their 1-based numbers."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        if line.strip():
            current.append((number, line.rstrip()))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _timing(line: str, name: str, fmt: str, number: int) -> tuple[int, int]:
    m = _TIMING.match(line)
    if m is None or max(int(m[2]), int(m[3]), int(m[6]), int(m[7])) > 59:
        sep = "," if fmt == "srt" else "."
        raise SubtitleFileError(
            f"{_at(name, fmt, number)}: bad timestamp {line.strip()!r}; "
            f"write it as HH:MM:SS{sep}mmm --> HH:MM:SS{sep}mmm",
            line=number,
        )
    g = m.groups()
    return _ms(*g[0:4]), _ms(*g[4:8])


def _ms(h: str | None, m: str, s: str, ms: str) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _cue(line: int, start: int, end: int, lines: Iterable[str], name: str, fmt: str) -> list[ParsedCue]:
    body = "\n".join(text for text in (" ".join(raw.split()) for raw in lines) if text)
    if not body:
        logger.warning("%s: cue at %s has no text; skipped", _at(name, fmt, line), format_timestamp_ms(start))
        return []
    return [ParsedCue(line, start, end, body)]


def _at(name: str, fmt: str, line: int) -> str:
    return f"{name} line {line}" if name else f"{fmt.upper()} subtitles, line {line}"


def _warn_on_language(header: Sequence[str], language: str) -> None:
    for line in header:
        key, _, value = line.partition(":")
        if key.strip().lower() == "language" and value.strip() and value.strip().lower() != language.lower():
            logger.warning("WebVTT header says Language: %s, reading it as %s", value.strip(), language)


# --- checks --------------------------------------------------------------------------


def find_cue_problems(cues: Sequence[ParsedCue], *, name: str = "", fmt: str = "srt",
                      duration_ms: int | None = None, max_cue_chars: int | None = 500) -> list[tuple[int, str]]:
    """(line, message) for every cue a Track or the lecture cannot take, in line order.

    Inverted or zero-length times, a cue overlapping the one before it (after sorting by
    start), a cue of more than `max_cue_chars` characters (line breaks not counted), and
    with `duration_ms` a cue ending more than END_SLACK_MS after the lecture ends.
    """
    problems: list[tuple[int, str]] = []
    order = sorted(range(len(cues)), key=lambda i: (cues[i].start_ms, cues[i].end_ms))
    prev: int | None = None
    for i in order:
        c = cues[i]
        at, k, span = _at(name, fmt, c.line), i + 1, _span(c)
        if c.end_ms <= c.start_ms:
            problems.append((c.line, f"{at}: cue {k} ({span}) does not end after it starts; fix its timings"))
            continue
        chars = len(c.text) - c.text.count("\n")
        if max_cue_chars is not None and chars > max_cue_chars:
            problems.append((c.line, f"{at}: cue {k} has {chars} characters, more than {max_cue_chars}; split it into shorter cues"))
        if duration_ms is not None and c.end_ms > duration_ms + END_SLACK_MS:
            problems.append((c.line, f"{at}: cue {k} ({span}) ends after the lecture, which is "
                                     f"{format_timestamp_ms(duration_ms)} long; is this the file for another lecture?"))
        if prev is not None and c.start_ms < cues[prev].end_ms:
            p = cues[prev]
            problems.append((c.line, f"{at}: cue {prev + 1} ({_span(p)}) overlaps cue {k} ({span}); "
                                     f"end cue {prev + 1} by {format_timestamp_ms(c.start_ms)}"))
        if prev is None or c.end_ms > cues[prev].end_ms:
            prev = i
    problems.sort(key=lambda p: p[0])
    return problems


def _span(c: ParsedCue) -> str:
    return f"{format_timestamp_ms(c.start_ms)} --> {format_timestamp_ms(c.end_ms)}"


# --- whole files ---------------------------------------------------------------------


def parse_subtitles(text: str, language: str, origin: str, fmt: str = "vtt", *, name: str = "",
                    duration_ms: int | None = None, max_cue_chars: int | None = None) -> Track:
    """A WebVTT or SRT file's text as a Track, cues sorted by start, times exact to the millisecond.

    Cue text is plain: tags dropped, WebVTT character references decoded; empty cues are
    skipped. Raises SubtitleFileError (an InputError) naming the first problem's line.
    """
    fmt, parsed = parse_text(text, name=name, fmt=fmt, language=language)
    problems = find_cue_problems(parsed, name=name, fmt=fmt, duration_ms=duration_ms, max_cue_chars=max_cue_chars)
    if problems:
        (line, first), more = problems[0], len(problems) - 1
        message = first + (f" ({more} more problem{'s' if more > 1 else ''} after it)" if more else "")
        raise SubtitleFileError(message, line=line, problems=[m for _, m in problems])
    ordered = sorted(parsed, key=lambda c: (c.start_ms, c.end_ms))
    return Track(language, origin, tuple(Cue(c.start_ms, c.end_ms, c.text) for c in ordered))


def read_subtitles(data: bytes, *, language: str, name: str = "", encoding: str | None = None,
                   duration_ms: int | None = None, max_cue_chars: int = 500, fmt: str | None = None,
                   origin: str = "human") -> tuple[Track, str]:
    """An uploaded SRT or WebVTT file as a Track (ids c00001...) and the encoding it was read in.

    The format is `fmt`, else WebVTT when the text starts with WEBVTT, else SRT. Raises
    SubtitleFileError (422) for empty, binary or undecodable data, a bad line, and the
    problems `find_cue_problems` finds; `.problems` lists them all.
    """
    text, used = decode_subtitles(data, name=name, encoding=encoding)
    track = parse_subtitles(text, language, origin, fmt, name=name, duration_ms=duration_ms,
                            max_cue_chars=max_cue_chars)
    if not track.cues:
        raise SubtitleFileError(f"{name or 'subtitle file'}: no cues with text found; export the subtitles again")
    logger.info("%s: %d cues read as %s", name or "subtitles", len(track.cues), used)
    return track, used


# --- cues to files -------------------------------------------------------------------


def to_webvtt(track: Track) -> str:
    """The track as a WebVTT file with a ``Language:`` header line; text escaped (&, <, >)."""
    blocks = [f"WEBVTT\nLanguage: {track.language}\n"]
    for cue in track.cues:
        text = "\n".join(html.escape(line, quote=False) for line in _lines(cue))
        blocks.append(f"{format_timestamp_ms(cue.start_ms)} --> {format_timestamp_ms(cue.end_ms)}\n{text}\n")
    return "\n".join(blocks)


def to_srt(track: Track) -> str:
    """The track as a SubRip file (times ``HH:MM:SS,mmm``, numbered from 1); text as is."""
    blocks = []
    for n, cue in enumerate(track.cues, start=1):
        start, end = (format_timestamp_ms(t).replace(".", ",") for t in (cue.start_ms, cue.end_ms))
        blocks.append(f"{n}\n{start} --> {end}\n" + "\n".join(_lines(cue)) + "\n")
    return "\n".join(blocks)


def write_subtitles(track: Track, fmt: str) -> bytes:
    """The track as a UTF-8 file in `fmt` ("srt" or "vtt"), no BOM."""
    if fmt == "vtt":
        return to_webvtt(track).encode("utf-8")
    if fmt == "srt":
        return to_srt(track).encode("utf-8")
    raise InputError(f"subtitle format {fmt!r} is not supported; use 'vtt' or 'srt'")


def _lines(cue: Cue) -> list[str]:
    """Cue lines without blank ones, which would end the cue block in VTT and SRT."""
    return [line for line in cue.text.split("\n") if line.strip()]


# --- ids across a round trip ---------------------------------------------------------


def match_ids(parsed: Track, base: Track) -> Track:
    """`parsed` with the ids of the `base` cues it came from, so a file round trip keeps them.

    A parsed cue with the same text as a base cue and both times within SAME_TIME_MS is
    untouched: the base cue is kept (id, origin, risk, flags, editor, version), with the
    parsed times, which a round trip keeps exact, so the result is as valid as `parsed`.
    Every other parsed cue is changed: it takes the id of the not yet used base cue it
    overlaps longest (so a split keeps its first half's id), else a new "n" + 8 hex id.
    Changed cues carry no provenance; the caller records who edited them.
    """
    by_text: dict[str, list[Cue]] = {}
    for b in base.cues:
        by_text.setdefault(b.text, []).append(b)
    used: set[str] = set()
    out: list[Cue | None] = []
    for c in parsed.cues:
        same = next((b for b in by_text.get(c.text, ()) if b.id not in used
                     and abs(b.start_ms - c.start_ms) <= SAME_TIME_MS and abs(b.end_ms - c.end_ms) <= SAME_TIME_MS), None)
        if same is not None:
            used.add(same.id)
        out.append(same)
    taken = {b.id for b in base.cues} | {c.id for c in parsed.cues}
    starts = [b.start_ms for b in base.cues]
    result = []
    for c, kept in zip(parsed.cues, out):
        if kept is not None:
            result.append(replace(kept, start_ms=c.start_ms, end_ms=c.end_ms))
            continue
        best, best_overlap = None, 0
        for b in _overlapping(base.cues, starts, c):
            overlap = min(b.end_ms, c.end_ms) - max(b.start_ms, c.start_ms)
            if b.id not in used and overlap > best_overlap:
                best, best_overlap = b, overlap
        if best is not None:
            used.add(best.id)
            new_id = best.id
        else:
            new_id = _new_id(taken)
        taken.add(new_id)
        result.append(Cue(c.start_ms, c.end_ms, c.text, id=new_id))
    return replace(parsed, cues=tuple(result))


def _overlapping(cues: Sequence[Cue], starts: Sequence[int], c: Cue) -> Iterable[Cue]:
    """Base cues overlapping `c`; base cues do not overlap each other, so a bisect finds the first."""
    i = max(0, bisect_right(starts, c.start_ms) - 1)
    while i < len(cues) and cues[i].start_ms < c.end_ms:
        if cues[i].end_ms > c.start_ms:
            yield cues[i]
        i += 1


def _new_id(taken: set[str]) -> str:
    while (cue_id := "n" + secrets.token_hex(4)) in taken:
        pass
    return cue_id
