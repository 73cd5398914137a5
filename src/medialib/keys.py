"""Every object key medialib writes, in one place: the storage layout of DESIGN.md as functions.

    archive bucket (private)   originals/<lecture-id>/<sha256><ext>
                               lectures/<lecture-id>/publish.json what the bundle is made from
                               work/by-sha256/<sha256>.json       which lecture the bytes became
                               work/<lecture-id>/...              intermediate artifacts (a cache)
    publish bucket             lectures/<lecture-id>/...          one bundle per lecture
                               index.html, catalog.json

Learners may read only what PUBLIC_READ lists; nothing else in either bucket is public.
"""

from __future__ import annotations

CATALOG = "catalog.json"
CATALOG_PAGE = "index.html"
LECTURES = "lectures"
PUBLIC_READ = (f"{LECTURES}/*", CATALOG_PAGE, CATALOG)  # object patterns anyone may GET


def original(lecture_id: str, sha256: str, suffix: str) -> str:
    return f"originals/{lecture_id}/{sha256}{suffix.lower()}"


def sha256_index(sha256: str) -> str:
    return f"work/by-sha256/{sha256}.json"


def work_prefix(lecture_id: str) -> str:
    return f"work/{lecture_id}"


def ladder_prefix(lecture_id: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/ladder-{digest}"


def speech_audio(lecture_id: str, stream: int) -> str:
    return f"{work_prefix(lecture_id)}/speech-{stream}.wav"


def transcript(lecture_id: str, audio_stem: str, task: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/transcript-{audio_stem}-{task}-{digest}.json"


def track(lecture_id: str, language: str, origin: str, digest: str) -> str:
    return f"{work_prefix(lecture_id)}/track-{language}-{origin}-{digest}.json"


def peaks(lecture_id: str) -> str:
    """Waveform peaks of the floor speech, in the archive bucket outside work/ (the review app reads them)."""
    return f"tracks/{lecture_id}/peaks.json"


def bundle_prefix(lecture_id: str) -> str:
    return f"{LECTURES}/{lecture_id}"


def publish_record(lecture_id: str) -> str:
    """In the archive bucket, outside work/ (a cache that may be cleaned), like the original."""
    return f"{LECTURES}/{lecture_id}/publish.json"
