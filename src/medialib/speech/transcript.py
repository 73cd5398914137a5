"""Transcript records: words with times and confidence, as Whisper heard them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One recognised word. Times in ms from the start of the recording."""

    start_ms: int
    end_ms: int
    text: str  # without Whisper's leading space; punctuation attached ("police,")
    probability: float

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise ValueError(f"word {self.text!r} ends ({self.end_ms}) before it starts ({self.start_ms})")


@dataclass(frozen=True)
class Transcript:
    """What one audio track said, with the settings that produced it."""

    language: str
    language_probability: float
    duration_ms: int
    words: tuple[Word, ...]
    model: str
    dropped_segments: int = 0  # segments removed by the hallucination guards

    def to_json(self) -> dict:
        return {
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "duration_ms": self.duration_ms,
            "model": self.model,
            "dropped_segments": self.dropped_segments,
            "words": [[w.start_ms, w.end_ms, w.text, round(w.probability, 4)] for w in self.words],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Transcript":
        return cls(
            language=data["language"],
            language_probability=data["language_probability"],
            duration_ms=data["duration_ms"],
            model=data["model"],
            dropped_segments=data.get("dropped_segments", 0),
            words=tuple(Word(int(a), int(b), t, float(p)) for a, b, t, p in data["words"]),
        )
