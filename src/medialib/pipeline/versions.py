"""Cache versions: part of every cached stage's key, so a changed record or algorithm is never
served from a cache that an older medialib filled.

A run over a $MEDIALIB_HOME made by an older version then recomputes what changed (and
reuses the rest): it never unpickles a record whose class has moved or changed shape.
Bump RECORDS when a stage record (pipeline/records.py, or one inside it) changes shape;
bump a stage's number when its output changes for the same input.
"""

from __future__ import annotations

RECORDS = 2   # 2: the library reshaped into sub-packages (records moved, count fields renamed)

STAGES = {
    "ladder": 1,
    "audio": 2,                # 2: FLAC, not PCM WAV (the same samples, ~half the bytes)
    "peaks": 1,
    "transcribe": 2,           # 2: transcripts keep Whisper's segment statistics
    "cues": 2,                 # 2: cues carry risk and flags (subtitles/risk.py)
    "interpretation": 2,       # 2: risk and flags, with the interpreter's drift per cue
    "machine-translation": 2,  # 2: risk and flags, glossary misses per cue
    # one long recording across workers (flows/chunked.py)
    "ladder-chunk": 1,
    "ladder-audio": 1,
    "ladder-join": 1,
    "speech-windows": 1,
    "transcribe-window": 1,
}


def cache_version(stage: str) -> str:
    """'r2.s1': the records' shape and the stage's algorithm, for the stage's cache key."""
    return f"r{RECORDS}.s{STAGES[stage]}"
