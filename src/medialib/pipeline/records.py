"""What stages hand each other: small records (ids, keys, digests) that any worker can take
and a workflow engine can cache.

    LectureRequest --ingest--> Lecture --ladder, audio, transcribe, cues, languages-->
    PublishRecord (everything a bundle is made from) --publish--> Published

The PublishRecord is also kept as JSON in the archive bucket, so a lecture can be
republished (a player fix, a corrected track) without transcoding or transcribing again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medialib import media
from medialib.pipeline.plan import AudioRole, LanguagePlan

Progress = Callable[[float], None]


@dataclass(frozen=True)
class LectureRequest:
    """What staff asked for: one recording and what they said about it."""

    source: str                # the recording's path on the machine that submits it
    title: str
    language: str | None = None
    speaker: str | None = None
    event: str | None = None
    lecture_id: str | None = None
    audio: tuple[str, ...] = ()   # stream roles, e.g. ("0:floor", "1:interpretation:ru")
    event_date: str | None = None      # ISO date of the event (F's manifest), shown and sorted by in the catalog
    recorded_date: str | None = None   # ISO date this recording was made


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
    word_count: int
    dropped_segments: int


@dataclass(frozen=True)
class TrackResult:
    key: str                   # track JSON (cues with provenance) in the archive bucket
    language: str
    origin: str                # asr | interpretation | machine-translation | speech-translation
    cue_count: int
    model: str = ""
    violations: tuple[str, ...] = ()   # glossary terms the translation lost
    detail: str = ""           # e.g. the interpreter's lag, the Argos route


@dataclass(frozen=True)
class Published:
    lecture_id: str
    player_url: str
    master_url: str
    uploaded_bytes: int
    uploaded_count: int
    skipped_count: int
    languages: tuple[str, ...]
    notes: tuple[str, ...]
    missing: tuple[LanguagePlan, ...] = ()    # languages that could not be made, with the fix
    violations: tuple[str, ...] = ()          # glossary terms lost in machine translation
    video_bytes: int = 0                      # video/audio segment bytes sent (0 for a subtitles-only republish)
    catalog_url: str | None = None            # the catalog page (bucket root) that lists the lecture


@dataclass(frozen=True)
class RepublishFailure:
    """A lecture that could not be republished; a run over many goes on with the others."""

    lecture_id: str
    message: str          # the error's own message (it says what to do)
    user_fault: bool      # an InputError (a wrong id, a lecture's missing data): exit 2; else the operator's: exit 1


@dataclass(frozen=True)
class Lecture:
    """A recording on its way: the request, what ingest found, and what each audio stream carries."""

    request: LectureRequest
    ingested: Ingested
    roles: tuple[AudioRole, ...]

    @property
    def floor(self) -> AudioRole | None:
        return next((r for r in self.roles if r.role == "floor"), None)

    @property
    def interpretations(self) -> tuple[AudioRole, ...]:
        return tuple(r for r in self.roles if r.role == "interpretation")

    def interpretation(self, language: str) -> AudioRole:
        return next(r for r in self.interpretations if r.language == language)


@dataclass(frozen=True)
class PublishRecord:
    """Everything a lecture's bundle is made from; kept (as JSON) for republishing."""

    lecture: Lecture
    ladder: LadderResult
    transcript: TranscriptResult | None     # the floor's, None when there is no audio
    tracks: tuple[TrackResult, ...]         # one per subtitle language, the floor's first
    plans: tuple[LanguagePlan, ...]         # where each language came from, or why it is missing
