"""Transcript records: words with times and confidence, as Whisper heard them, and the
decoder's statistics of the stretches (Whisper "segments") they came from.
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
class Segment:
    """Whisper's decoding statistics for one stretch of kept words (times in ms, recording timeline).

    Kept because they say how sure the decoder was about a whole phrase, which a word's
    probability alone does not: review ranks cues by them (subtitles/risk.py).
    near_misses names the hallucination guards the segment came close to without being
    dropped ("no-speech", "log-prob", "compression-ratio", "word-probability",
    "known-phrase"); temperature > 0 means Whisper had to re-decode it (a fallback).
    """

    start_ms: int
    end_ms: int
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float = 0.0
    near_misses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "near_misses", tuple(self.near_misses))
        if self.end_ms < self.start_ms:
            raise ValueError(f"segment ends ({self.end_ms}) before it starts ({self.start_ms})")

    def to_json(self) -> dict:
        d = {"start_ms": self.start_ms, "end_ms": self.end_ms, "avg_logprob": round(self.avg_logprob, 4),
             "no_speech_prob": round(self.no_speech_prob, 4), "compression_ratio": round(self.compression_ratio, 4),
             "temperature": round(self.temperature, 2)}
        if self.near_misses:
            d["near_misses"] = list(self.near_misses)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Segment":
        return cls(int(d["start_ms"]), int(d["end_ms"]), float(d["avg_logprob"]), float(d["no_speech_prob"]),
                   float(d["compression_ratio"]), float(d.get("temperature", 0.0)), tuple(d.get("near_misses", ())))


@dataclass(frozen=True)
class Transcript:
    """What one audio track said, with the settings that produced it."""

    language: str
    language_probability: float
    duration_ms: int
    words: tuple[Word, ...]
    model: str
    dropped_segments: int = 0  # segments removed by the hallucination guards
    segments: tuple[Segment, ...] = ()  # the kept ones, in time order; empty in transcripts stored before them

    def to_json(self) -> dict:
        return {
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "duration_ms": self.duration_ms,
            "model": self.model,
            "dropped_segments": self.dropped_segments,
            "words": [[w.start_ms, w.end_ms, w.text, round(w.probability, 4)] for w in self.words],
            "segments": [s.to_json() for s in self.segments],
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
            segments=tuple(Segment.from_json(s) for s in data.get("segments", ())),
        )
