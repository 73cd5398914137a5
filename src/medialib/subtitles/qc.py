"""Quality checks a translator sees per cue and in the QC list; the browser runs the same numbers live.

Every rule's numbers come from `SubtitleRules.for_language(language)` (config
``[subtitles]`` and ``[subtitles.line_chars]``); `qc_rules_json` hands the same numbers
to the browser, so the page and the server never disagree.

    rule      what                                                          severity
    cpl       a line longer than max_line_chars (EN 42, RU 39)              warn
    lines     more than max_lines lines                                     warn
    cps       reading speed over max_cps, in characters per second:         warn
                  CPS = characters / (duration_ms / 1000)
              where characters are all of the cue's text, letters, digits,
              spaces and punctuation alike, line breaks not counted
              (`Cue.chars`): "Hi, you!\\nGo." is 11 characters, over 1.1 s 10.0 CPS
    duration  on screen under min_duration_ms (0.83 s) or over max_duration_ms (7 s)   warn
    gap       starts less than min_gap_ms (80 ms, 2 frames at 25 fps) after the cue before   warn
    empty     no text (a track cannot keep it: delete the cue or type its text)            warn
    overlap   starts before the cue before it ends                          block
    timing    a negative time, or ends at or before it starts               block
    glossary  a source cue overlapping in time holds a glossary term's      warn, suggestion: the term
              source and no target cue overlapping that source cue holds its target
    spelling  a word the language's dictionary does not know               warn, suggestion: a correction

Only `block` issues stop approval (`blocking`): a track with them cannot even be stored.
Checks take the editor's cues as they are (`check_cue_dicts`), inverted or overlapping
ones too, not only valid Tracks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from medialib.clock import format_timestamp_ms
from medialib.config import SubtitleRules
from medialib.errors import InputError
from medialib.subtitles.cues import Track
from medialib.subtitles.spelling import Speller
from medialib.translate.glossary import Term, find_term

RULES = ("cpl", "lines", "cps", "duration", "gap", "empty", "overlap", "timing", "glossary", "spelling")
BLOCKING_RULES = ("overlap", "timing")
CPS_FORMULA = "characters (letters, digits, spaces and punctuation; line breaks not counted) / duration in seconds"


@dataclass(frozen=True)
class Issue:
    """One broken rule on one cue; `suggestion` is text the editor may offer to insert or replace with."""

    cue_id: str
    rule: str  # one of RULES
    severity: str  # "warn" | "block"
    message: str
    suggestion: str = ""

    def __post_init__(self) -> None:
        if self.severity not in ("warn", "block"):
            raise ValueError(f"issue severity {self.severity!r} is not 'warn' or 'block'")


@dataclass(frozen=True)
class _Row:
    """A cue as the editor holds it: times may be inverted, text empty."""

    id: str
    start_ms: int
    end_ms: int
    text: str

    @property
    def chars(self) -> int:
        return len(self.text) - self.text.count("\n")


def check_track(track: Track, rules: SubtitleRules, *, source: Track | None = None,
                glossary_terms: Sequence[Term] = (), speller: Speller | None = None) -> list[Issue]:
    """The issues of a track, in cue order; rules for the track's language.

    `source`: the track it was translated or interpreted from (read-only), for the
    glossary rule with `glossary_terms` (source language -> this track's). `speller`:
    `spelling.speller_for(track.language)` to check spelling; None skips it.
    """
    rows = [_Row(c.id, c.start_ms, c.end_ms, c.text) for c in track.cues]
    return _check(rows, track.language, rules, source=source, glossary_terms=glossary_terms, speller=speller)


def check_cue_dicts(cues: Iterable[Mapping], language: str, rules: SubtitleRules, *, source: Track | None = None,
                    glossary_terms: Sequence[Term] = (), speller: Speller | None = None) -> list[Issue]:
    """`check_track` for the editor's cues as JSON dicts (id, start_ms, end_ms, text), broken ones included.

    Raises InputError for a dict without those fields or with times that are not integers.
    """
    rows = []
    for n, d in enumerate(cues, start=1):
        try:
            start, end = d["start_ms"], d["end_ms"]
            if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
                raise TypeError
            rows.append(_Row(str(d.get("id") or f"#{n}"), start, end, str(d.get("text", ""))))
        except (KeyError, TypeError, AttributeError):
            raise InputError(f"cue {n}: expected an object with integer start_ms and end_ms and a text, found {d!r:.80}") from None
    rows.sort(key=lambda r: (r.start_ms, r.end_ms))
    return _check(rows, language, rules, source=source, glossary_terms=glossary_terms, speller=speller)


def blocking(issues: Iterable[Issue]) -> list[Issue]:
    """The issues that stop approval (overlaps, negative or inverted times); empty when it may go ahead."""
    return [i for i in issues if i.severity == "block"]


def issue_to_dict(issue: Issue) -> dict:
    return asdict(issue)


def qc_rules_json(rules: SubtitleRules, language: str) -> dict:
    """The numbers the browser checks cues with as the translator types: the same ones `check_track` uses."""
    r = rules.for_language(language)
    return {
        "language": language,
        "max_line_chars": r.max_line_chars,
        "max_lines": r.max_lines,
        "max_cps": r.max_cps,
        "target_cps": r.target_cps,
        "min_duration_ms": r.min_duration_ms,
        "max_duration_ms": r.max_duration_ms,
        "min_gap_ms": r.min_gap_ms,
        "max_cue_chars": r.max_cue_chars,
        "cps_formula": CPS_FORMULA,
        "blocking_rules": list(BLOCKING_RULES),
    }


def cps(chars: int, duration_ms: int) -> float:
    """Reading speed as the module docstring defines it; inf for a cue of no duration."""
    return chars * 1000 / duration_ms if duration_ms > 0 else float("inf")


# --- the rules -----------------------------------------------------------------------


def _check(rows: Sequence[_Row], language: str, rules: SubtitleRules, *, source: Track | None,
           glossary_terms: Sequence[Term], speller: Speller | None) -> list[Issue]:
    r = rules.for_language(language)
    issues: list[Issue] = []
    prev_end: int | None = None
    accept = tuple({w for t in glossary_terms for w in (t.source, t.target)})
    for row in rows:
        issues.extend(_timing(row, prev_end, r))
        issues.extend(_layout(row, r))
        if speller is not None:
            for word in speller.misspelled(row.text, accept):
                issues.append(Issue(row.id, "spelling", "warn", f"unknown word '{word}'", speller.suggest(word)))
        if row.end_ms > row.start_ms:
            prev_end = row.end_ms if prev_end is None else max(prev_end, row.end_ms)
    if source is not None and glossary_terms:
        issues.extend(_glossary(rows, source, glossary_terms))
    order = {row.id: n for n, row in enumerate(rows)}
    issues.sort(key=lambda i: order.get(i.cue_id, len(rows)))  # stable: rule order within a cue
    return issues


def _timing(row: _Row, prev_end: int | None, r: SubtitleRules) -> Iterable[Issue]:
    span = f"{_ts(row.start_ms)} --> {_ts(row.end_ms)}"
    if row.start_ms < 0 or row.end_ms < 0:
        yield Issue(row.id, "timing", "block", f"negative time ({span}); times start at 00:00:00.000")
        return
    if row.end_ms <= row.start_ms:
        yield Issue(row.id, "timing", "block", f"ends at or before it starts ({span}); set its end after its start")
        return
    if prev_end is not None and row.start_ms < prev_end:
        yield Issue(row.id, "overlap", "block",
                    f"starts at {_ts(row.start_ms)}, before the cue before it ends ({_ts(prev_end)}); "
                    "move its start or end the cue before earlier")
    elif prev_end is not None and row.start_ms - prev_end < r.min_gap_ms:
        yield Issue(row.id, "gap", "warn",
                    f"starts {row.start_ms - prev_end} ms after the cue before, less than {r.min_gap_ms} ms")
    duration = row.end_ms - row.start_ms
    if duration < r.min_duration_ms:
        yield Issue(row.id, "duration", "warn", f"on screen {duration / 1000:.2f} s, less than {r.min_duration_ms / 1000:g} s")
    elif duration > r.max_duration_ms:
        yield Issue(row.id, "duration", "warn", f"on screen {duration / 1000:.2f} s, more than {r.max_duration_ms / 1000:g} s")
    speed = cps(row.chars, duration)
    if speed > r.max_cps:
        yield Issue(row.id, "cps", "warn", f"reading speed {speed:.1f} characters/s, more than {r.max_cps:g}")


def _layout(row: _Row, r: SubtitleRules) -> Iterable[Issue]:
    if not row.text.strip():
        yield Issue(row.id, "empty", "warn", "no text; delete the cue or type its text")
        return
    lines = row.text.split("\n")
    if len(lines) > r.max_lines:
        yield Issue(row.id, "lines", "warn", f"{len(lines)} lines, more than {r.max_lines}")
    for n, line in enumerate(lines, start=1):
        if len(line) > r.max_line_chars:
            yield Issue(row.id, "cpl", "warn", f"line {n} has {len(line)} characters, more than {r.max_line_chars}")


def _glossary(rows: Sequence[_Row], source: Track, terms: Sequence[Term]) -> Iterable[Issue]:
    """Per source cue: its terms (longest first, a matched stretch not matched again) against the target cues it overlaps."""
    valid = sorted((row for row in rows if row.end_ms > row.start_ms), key=lambda row: row.start_ms)
    starts = [row.start_ms for row in valid]
    longest = max((row.end_ms - row.start_ms for row in valid), default=0)
    ordered = [(t, _lower(t.source.split()[0])[:3]) for t in sorted(terms, key=lambda t: -len(t.source))]
    seen: set[tuple[str, str]] = set()
    for s in source.cues:
        found: list[Term] = []
        taken: list[tuple[int, int]] = []
        low = _lower(s.text)
        for term, prefix in ordered:
            if prefix not in low:
                continue  # every match, inflected too, starts with the term's first three letters
            spans = [sp for sp in find_term(s.text, term.source) if not any(sp[0] < b and a < sp[1] for a, b in taken)]
            if spans:
                taken.extend(spans)
                found.append(term)
        if not found:
            continue
        window = [row for row in valid[bisect_left(starts, s.start_ms - longest):bisect_left(starts, s.end_ms)]
                  if row.end_ms > s.start_ms]
        if not window:
            continue  # nothing on screen for it: not a glossary matter
        text = "\n".join(row.text for row in window)
        target = max(window, key=lambda row: min(row.end_ms, s.end_ms) - max(row.start_ms, s.start_ms))
        for term in found:
            if not find_term(text, term.target) and (target.id, term.target) not in seen:
                seen.add((target.id, term.target))
                yield Issue(target.id, "glossary", "warn",
                            f"'{term.source}' is said here; the glossary translates it as '{term.target}'", term.target)


def _lower(text: str) -> str:
    return text.lower().replace("ё", "е")


def _ts(ms: int) -> str:
    return format_timestamp_ms(ms) if ms >= 0 else "-" + format_timestamp_ms(-ms)


def issues_by_cue(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    """The issues grouped per cue id, in their order: what the editor shows beside each cue."""
    out: dict[str, list[Issue]] = {}
    for i in issues:
        out.setdefault(i.cue_id, []).append(i)
    return out

