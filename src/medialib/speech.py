"""Speech to words: faster-whisper with VAD, word timestamps and hallucination guards.

Whisper's own "segments" stay inside this module; what leaves it is a `Transcript`
of `Word`s with integer millisecond times.
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
