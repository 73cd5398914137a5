"""Cue and Track records: integer milliseconds, checked where built, so VTT/SRT round trips are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from medialib.clock import format_timestamp_ms

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class Cue:
    """One subtitle on screen. Times in ms; lines of `text` joined with "\\n"."""

    start_ms: int
    end_ms: int
    text: str
    confidence: float | None = None  # mean word probability; None when unknown (human, parsed)
    id: str = ""             # stable within a track across versions; Track assigns "c00001"... when empty
    risk: float | None = None  # 0..1, how likely the cue holds an error (review/risk); None: not scored
    flags: tuple[str, ...] = ()  # why it is risky: "low-confidence", "mt", "glossary:<term>", ...
    origin: str = ""         # per-cue provenance; "" = the track's origin. "human" once a person edits it
    editor: str = ""         # who last edited it (origin == "human")
    version: int = 0         # the track version in which it was last edited (0: machine)

    def __post_init__(self) -> None:
        object.__setattr__(self, "flags", tuple(self.flags))
        if self.risk is not None and not 0.0 <= self.risk <= 1.0:
            raise ValueError(f"cue {self.id or self.text!r}: risk {self.risk} is outside 0..1")
        if not 0 <= self.start_ms < self.end_ms:
            raise ValueError(
                f"cue {self.text!r}: times {self.start_ms}..{self.end_ms} ms must satisfy 0 <= start < end"
            )
        if not self.text.strip():
            raise ValueError(f"cue at {self.start_ms} ms has no text")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def chars(self) -> int:
        """Characters a viewer reads: the text without its line breaks."""
        return len(self.text) - self.text.count("\n")


@dataclass(frozen=True)
class Track:
    """All cues of one language and origin, in time order and never overlapping."""

    language: str  # BCP-47, e.g. "en", "ru", "pt-BR"
    origin: str  # asr | interpretation | machine-translation | speech-translation | human
    cues: tuple[Cue, ...]
    model: str = ""  # what made it, with its version: "whisper-base", "argos:translate-en_ru-1.9"

    def __post_init__(self) -> None:
        if not _LANGUAGE.fullmatch(self.language):
            raise ValueError(f"track language {self.language!r} is not a BCP-47 tag like 'en' or 'pt-BR'")
        if not self.origin.strip():
            raise ValueError("track origin is empty; use e.g. 'asr'")
        object.__setattr__(self, "cues", with_ids(self.cues))
        for n, (a, b) in enumerate(pairwise(self.cues), start=2):
            if b.start_ms < a.start_ms:
                raise ValueError(
                    f"cue {n} starts at {format_timestamp_ms(b.start_ms)}, before cue {n - 1} ({format_timestamp_ms(a.start_ms)}); sort the cues"
                )
            if b.start_ms < a.end_ms:
                raise ValueError(
                    f"cue {n - 1} ({format_timestamp_ms(a.start_ms)} --> {format_timestamp_ms(a.end_ms)}) overlaps cue {n} "
                    f"({format_timestamp_ms(b.start_ms)} --> {format_timestamp_ms(b.end_ms)}); end cue {n - 1} by {format_timestamp_ms(b.start_ms)}"
                )


def with_ids(cues) -> tuple[Cue, ...]:
    """The cues, each with a unique id: kept where set, else the next free "c00001"-style one.

    Ids let a reviewer's comment, a risk flag and an edit follow a cue through splits,
    merges and versions; a duplicate id is a bug in whoever built the cues.
    """
    cues = tuple(cues)
    taken = {c.id for c in cues if c.id}
    if len(taken) != sum(1 for c in cues if c.id):
        seen: set[str] = set()
        dup = next(c.id for c in cues if c.id and (c.id in seen or seen.add(c.id)))
        raise ValueError(f"cue id {dup!r} is used twice in one track")
    if len(taken) == len(cues):
        return cues
    out, n = [], 0
    for c in cues:
        if not c.id:
            n += 1
            while f"c{n:05d}" in taken:
                n += 1
            c = replace(c, id=f"c{n:05d}")
        out.append(c)
    return tuple(out)


_CUE_DEFAULTS = {"confidence": None, "risk": None, "flags": (), "origin": "", "editor": "", "version": 0}


def cue_to_dict(c: Cue) -> dict:
    """One cue for JSON: times, text and id always; provenance and risk only where set."""
    d = {"id": c.id, "start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text}
    for name, default in _CUE_DEFAULTS.items():
        value = getattr(c, name)
        if value != default:
            d[name] = list(value) if name == "flags" else value
    return d


def cue_from_dict(d) -> Cue:
    """A cue from cue_to_dict's form, or the [start, end, text, confidence] list tracks stored before ids."""
    if isinstance(d, (list, tuple)):
        a, b, t, p = d
        return Cue(int(a), int(b), t, None if p is None else float(p))
    return Cue(int(d["start_ms"]), int(d["end_ms"]), d["text"],
               confidence=None if d.get("confidence") is None else float(d["confidence"]),
               id=d.get("id", ""), risk=None if d.get("risk") is None else float(d["risk"]),
               flags=tuple(d.get("flags", ())), origin=d.get("origin", ""), editor=d.get("editor", ""),
               version=int(d.get("version", 0)))


def track_to_dict(track: Track) -> dict:
    """A track with its provenance (origin, model, per-cue ids, confidence, risk), for JSON."""
    return {"language": track.language, "origin": track.origin, "model": track.model,
            "cues": [cue_to_dict(c) for c in track.cues]}


def track_from_dict(data: dict) -> Track:
    return Track(language=data["language"], origin=data["origin"], model=data.get("model", ""),
                 cues=tuple(cue_from_dict(c) for c in data["cues"]))
