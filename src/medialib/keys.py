"""Every object key medialib writes, in one place: the storage layout of DESIGN.md as functions.

    archive bucket (private)   originals/<lecture-id>/<sha256><ext>
                               lectures/<lecture-id>/publish.json what the bundle is made from
                               tracks/<lecture-id>/<lang>/v<N>.json one immutable track version
                               tracks/<lecture-id>/<lang>/live.json which version learners see
                               tracks/<lecture-id>/peaks.json     waveform peaks of the speech
                               work/by-sha256/<sha256>.json       which lecture the bytes became
                               work/<lecture-id>/...              intermediate artifacts (a cache)
    publish bucket             lectures/<lecture-id>/...          one bundle per lecture
                               index.html, catalog.json           the catalog page and its records
                               search/<lang>/...                  the search index (Pagefind), per language
                               assets/<sha256-12>/<name>          shared page files (content-hashed)

Learners may read only what PUBLIC_READ lists; nothing else in either bucket is public.
"""

from __future__ import annotations

CATALOG = "catalog.json"
CATALOG_PAGE = "index.html"
LECTURES = "lectures"
SEARCH = "search"
ASSETS = "assets"
PUBLIC_READ = (f"{LECTURES}/*", CATALOG_PAGE, CATALOG, f"{SEARCH}/*", f"{ASSETS}/*")  # object patterns anyone may GET


def original(lecture_id: str, sha256: str, suffix: str) -> str:
    return f"originals/{lecture_id}/{sha256}{suffix.lower()}"


def sha256_index(sha256: str) -> str:
    return f"work/by-sha256/{sha256}.json"


def work_prefix(lecture_id: str) -> str:
    return f"work/{lecture_id}"


def ladder_prefix(lecture_id: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/ladder-{digest}"


def ladder_published(ladder_prefix: str) -> str:
    """Beside a ladder's small files once its renditions are dropped from work/: they live in the bundle."""
    return f"{ladder_prefix}/published.json"


def speech_audio(lecture_id: str, stream: int) -> str:
    return f"{work_prefix(lecture_id)}/speech-{stream}.flac"


def transcript(lecture_id: str, audio_stem: str, task: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/transcript-{audio_stem}-{task}-{digest}.json"


def track(lecture_id: str, language: str, origin: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/track-{language}-{origin}-{digest}.json"


def peaks(lecture_id: str) -> str:
    """Waveform peaks of the floor speech, in the archive bucket outside work/ (the review app reads them)."""
    return f"{TRACKS}/{lecture_id}/peaks.json"


def bundle_prefix(lecture_id: str) -> str:
    return f"{LECTURES}/{lecture_id}"


def publish_record(lecture_id: str) -> str:
    """In the archive bucket, outside work/ (a cache that may be cleaned), like the original."""
    return f"{LECTURES}/{lecture_id}/publish.json"


TRACKS = "tracks"


def track_versions_prefix(lecture_id: str, language: str) -> str:
    """Versions live outside work/ (a cache): a translator's work must survive a cleanup."""
    return f"{TRACKS}/{lecture_id}/{language}/"


def track_version(lecture_id: str, language: str, number: int) -> str:
    return f"{track_versions_prefix(lecture_id, language)}v{number}.json"


def track_live(lecture_id: str, language: str) -> str:
    return f"{track_versions_prefix(lecture_id, language)}live.json"


def track_machine(lecture_id: str, language: str) -> str:
    """Which version the pipeline wrote last (review.store keeps it so a re-run reads one version, not all)."""
    return f"{track_versions_prefix(lecture_id, language)}machine.json"


def conditional_probe(token: str) -> str:
    """A scratch object for check_conditional_writes, deleted after the probe."""
    return f"{work_prefix('probes')}/conditional-{token}"
