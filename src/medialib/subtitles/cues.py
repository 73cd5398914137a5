"""Cue and Track records: integer milliseconds, checked where built, so VTT/SRT round trips are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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

    def __post_init__(self) -> None:
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
        object.__setattr__(self, "cues", tuple(self.cues))
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


def track_to_dict(track: Track) -> dict:
    """A track with its provenance (origin, model, per-cue confidence), for JSON."""
    return {"language": track.language, "origin": track.origin, "model": track.model,
            "cues": [[c.start_ms, c.end_ms, c.text, c.confidence] for c in track.cues]}


def track_from_dict(data: dict) -> Track:
    return Track(language=data["language"], origin=data["origin"], model=data.get("model", ""),
                 cues=tuple(Cue(int(a), int(b), t, None if p is None else float(p)) for a, b, t, p in data["cues"]))
