"""What stages hand each other: small records (ids, keys, digests) that any worker can take and a workflow engine can cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medialib import media
from medialib.pipeline.plan import LanguagePlan

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Ingested:
    lecture_id: str
    sha256: str
    archive_key: str
    info: media.MediaInfo
    local_path: str            # where this machine saw the original; a hint, not a promise
    existing: bool             # the same bytes were ingested before (same lecture id)


@dataclass(frozen=True)
class LadderResult:
    prefix: str                # work/<id>/ladder-<digest>/ in the archive bucket
    ladder: media.Ladder
    poster_key: str | None


@dataclass(frozen=True)
class TranscriptResult:
    key: str
    language: str
    words: int
    dropped_segments: int


@dataclass(frozen=True)
class TrackResult:
    key: str                   # track JSON (cues with provenance) in the archive bucket
    language: str
    origin: str                # asr | interpretation | machine-translation | speech-translation
    cues: int
    model: str = ""
    violations: tuple[str, ...] = ()   # glossary terms the translation lost
    detail: str = ""           # e.g. the interpreter's lag, the Argos route


@dataclass(frozen=True)
class Published:
    lecture_id: str
    player_url: str
    master_url: str
    uploaded_bytes: int
    uploaded: int
    skipped: int
    languages: tuple[str, ...]
    notes: tuple[str, ...]
    missing: tuple[LanguagePlan, ...] = ()    # languages that could not be made, with the fix
    violations: tuple[str, ...] = ()          # glossary terms lost in machine translation
