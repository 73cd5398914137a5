"""WebVTT and SRT in and out through webvtt-py, with exact millisecond round trips.
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Iterable, Sequence

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from medialib.errors import InputError
from medialib.clock import format_timestamp_ms
from medialib.subtitles.cues import Cue, Track

logger = logging.getLogger(__name__)



_SRT_TIMING = re.compile(r"\s*\d+:\d{1,2}:\d{1,2}[,.]\d+\s*-->\s*\d+:\d{1,2}:\d{1,2}[,.]\d+")


# what a person meant as a timing line, e.g. "00:00:03,000 -> 00:00:04,000"
_SRT_TIMING_LIKE = re.compile(r"\s*\d+:\d{1,2}:\d{1,2}[,.]\d+\s*-")


def to_webvtt(track: Track) -> str:
    """The track as a WebVTT file with a ``Language:`` header line; text escaped (&, <, >)."""
    doc = webvtt.WebVTT(
        captions=[_caption(cue, [html.escape(line, quote=False) for line in _lines(cue)]) for cue in track.cues],
        metadata=[f"Language: {track.language}"],
    )
    return doc.content


def to_srt(track: Track) -> str:
    """The track as a SubRip file (times ``HH:MM:SS,mmm``), ending with a newline.

    SRT has no escapes and players read ``<...>`` as a tag, so webvtt-py drops such text.
    """
    doc = webvtt.WebVTT(captions=[_caption(cue, _lines(cue)) for cue in track.cues])
    buf = io.StringIO()
    doc.write(buf, format="srt")
    return buf.getvalue() + "\n" if track.cues else ""


def parse_subtitles(text: str, language: str, origin: str, fmt: str = "vtt") -> Track:
    """Read a WebVTT or SRT file's text into a Track; times exact to the millisecond.

    Cue tags (<i>, <v Name>) are dropped and WebVTT character references decoded, so
    cue text is plain. Cues are sorted by start; empty cues are skipped.

    Raises InputError when the text is not in the format, a cue's timing cannot be
    read, or cues overlap.
    """
    what = f"{fmt.upper()} subtitles"
    if fmt == "vtt":
        try:
            doc = webvtt.from_string(text, strict=True)
        except MalformedFileError:
            first = text.lstrip("\ufeff").split("\n", 1)[0][:40]
            raise InputError(
                f"{what}: the first line must start with 'WEBVTT', found {first!r}; "
                "save the file as WebVTT, or read it as SRT"
            ) from None
        except MalformedCaptionError as e:
            raise InputError(
                f"{what}: cannot read a cue ({e}); write cue timings as HH:MM:SS.mmm --> HH:MM:SS.mmm"
            ) from None
        _warn_on_language(doc.metadata, language)
        decode = html.unescape
    elif fmt == "srt":
        _check_srt_timings(text)
        try:
            doc = webvtt.from_buffer(io.StringIO(text), format="srt")
        except MalformedFileError:
            first = text.lstrip("\ufeff").split("\n", 1)[0][:40]
            raise InputError(
                f"{what}: expected a cue number and then a 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line at the start, "
                f"found {first!r}; save the file as SubRip, or read it as WebVTT"
            ) from None
        decode = str
    else:
        raise InputError(f"subtitle format {fmt!r} is not supported; use 'vtt' or 'srt'")

    cues = []
    for n, caption in enumerate(doc.captions, start=1):
        lines = [" ".join(decode(line).split()) for line in caption.text.split("\n")]
        body = "\n".join(line for line in lines if line)
        start, end = caption.start_time.in_milliseconds(), caption.end_time.in_milliseconds()
        if not body:
            logger.warning("%s: cue %d (%s) has no text; skipped", what, n, caption.start)
            continue
        if end <= start:
            raise InputError(
                f"{what}: cue {n} ({caption.start} --> {caption.end}) does not end after it starts; fix its timings"
            )
        cues.append(Cue(start, end, body))
    cues.sort(key=lambda c: (c.start_ms, c.end_ms))
    try:
        return Track(language, origin, tuple(cues))
    except ValueError as e:
        raise InputError(f"{what}: {e}") from None


def _lines(cue: Cue) -> list[str]:
    """Cue lines without blank ones, which would end the cue block in VTT and SRT."""
    return [line for line in cue.text.split("\n") if line.strip()]


def _caption(cue: Cue, lines: Iterable[str]) -> webvtt.Caption:
    return webvtt.Caption(format_timestamp_ms(cue.start_ms), format_timestamp_ms(cue.end_ms), list(lines))


def _check_srt_timings(text: str) -> None:
    """webvtt-py skips SRT cues whose timing it cannot read; name the first one instead."""
    for number, line in enumerate(text.splitlines(), start=1):
        if ("-->" in line or _SRT_TIMING_LIKE.match(line)) and not _SRT_TIMING.match(line):
            raise InputError(
                f"SRT subtitles, line {number}: cannot read the timing {line.strip()!r}; "
                "write it as HH:MM:SS,mmm --> HH:MM:SS,mmm"
            )


def _warn_on_language(metadata: Sequence[str], language: str) -> None:
    for line in metadata:
        key, _, value = line.partition(":")
        if key.strip().lower() == "language" and value.strip() and value.strip().lower() != language.lower():
            logger.warning("WebVTT header says Language: %s, reading it as %s", value.strip(), language)
