"""Versioned subtitle tracks in the archive bucket: immutable v<N>.json, created only if absent.

    tracks/<lecture-id>/<lang>/v<N>.json   one version, never rewritten
    tracks/<lecture-id>/<lang>/live.json   which version learners see, and whether it is approved
    tracks/<lecture-id>/<lang>/machine.json  {"version": N}: the machine version written last (a hint)

A new version is N+1 of the version the writer started from (its base). The server
decides who gets N+1 (If-None-Match: *), so of two writers saving on the same base one
wins and the other gets a VersionConflict naming the winner; nobody's work is silently
replaced. Stores that ignore conditional writes are refused (check_conditional_writes).
The machine's output is kept as versions too, so a re-run never replaces a translator's
work: it adds a machine version they can compare with.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from medialib import keys
from medialib.errors import ConflictError, InputError, NotFoundError, OperatorError
from medialib.storage.errors import endpoint_of, wrap_errors
from medialib.storage.s3 import check_conditional_writes, get_bytes, put_bytes, put_bytes_if_absent
from medialib.subtitles.cues import Track, track_from_dict, track_to_dict
from medialib.review.edits import apply_provenance

log = logging.getLogger(__name__)

SCHEMA = 1
KINDS = ("machine", "human")
_VERSION_NAME = re.compile(r"v([1-9][0-9]*)\.json")


@dataclass(frozen=True)
class TrackVersion:
    """One saved state of a lecture's track in one language."""

    lecture_id: str
    language: str
    number: int              # 1, 2, ...
    base: int | None         # the version it was edited from; None for the first
    kind: str                # "machine" | "human"
    author: str              # the model ("whisper-base, ...") or the user name
    created_at: str          # ISO 8601, UTC, seconds
    message: str
    track: Track

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"track version kind {self.kind!r}; use one of {KINDS}")
        if self.number < 1 or (self.base is not None and not 1 <= self.base < self.number):
            raise ValueError(f"track version {self.number} with base {self.base}: bases are earlier versions")


@dataclass(frozen=True)
class LivePointer:
    """Which version learners see (live.json)."""

    version: int
    approved: bool
    by: str
    at: str


class VersionConflict(ConflictError):
    """Someone saved a newer version than the one this edit started from; `latest` is theirs."""

    def __init__(self, message: str, latest: TrackVersion | None = None):
        super().__init__(message)
        self.latest = latest


def version_to_dict(v: TrackVersion) -> dict:
    return {"schema": SCHEMA, "lecture_id": v.lecture_id, "language": v.language, "number": v.number,
            "base": v.base, "kind": v.kind, "author": v.author, "created_at": v.created_at,
            "message": v.message, "track": track_to_dict(v.track)}


def version_from_dict(d: dict) -> TrackVersion:
    if d.get("schema") != SCHEMA:
        raise OperatorError(f"track version schema {d.get('schema')!r}; this medialib reads {SCHEMA}; upgrade medialib")
    return TrackVersion(lecture_id=d["lecture_id"], language=d["language"], number=int(d["number"]),
                        base=None if d.get("base") is None else int(d["base"]), kind=d["kind"],
                        author=d["author"], created_at=d["created_at"], message=d.get("message", ""),
                        track=track_from_dict(d["track"]))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def list_versions(client, bucket: str, lecture_id: str, language: str) -> tuple[int, ...]:
    """The version numbers stored for the track, ascending (empty when it has none)."""
    prefix = keys.track_versions_prefix(lecture_id, language)
    found = []
    with wrap_errors("list", bucket=bucket, key=prefix, endpoint=endpoint_of(client)):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                m = _VERSION_NAME.fullmatch(o["Key"][len(prefix):])
                if m:
                    found.append(int(m.group(1)))
    return tuple(sorted(found))


def load_version(client, bucket: str, lecture_id: str, language: str, number: int) -> TrackVersion:
    key = keys.track_version(lecture_id, language, number)
    data = get_bytes(client, bucket, key)
    if data is None:
        raise NotFoundError(f"{lecture_id} {language}: no version {number} ({key}); "
                            f"list the versions and pick one of them")
    return version_from_dict(json.loads(data))


def latest_version(client, bucket: str, lecture_id: str, language: str) -> TrackVersion | None:
    numbers = list_versions(client, bucket, lecture_id, language)
    return load_version(client, bucket, lecture_id, language, numbers[-1]) if numbers else None


def latest_machine_version(client, bucket: str, lecture_id: str, language: str) -> TrackVersion | None:
    """The newest version the pipeline made: the one machine.json names, two reads however many people saved.

    machine.json is written before each machine version is created (create_version), so
    it names the newest machine version unless that create never happened (a crash, a
    refusal): then the version it names is missing or a person's, and, as for stores from
    before machine.json, the versions are read newest first until a machine one.
    """
    data = get_bytes(client, bucket, keys.track_machine(lecture_id, language))
    if data is not None:
        try:
            v = load_version(client, bucket, lecture_id, language, int(json.loads(data)["version"]))
        except NotFoundError:
            v = None
        if v is not None and v.kind == "machine":
            return v
    for n in reversed(list_versions(client, bucket, lecture_id, language)):
        v = load_version(client, bucket, lecture_id, language, n)
        if v.kind == "machine":
            return v
    return None


def _conflict(lecture_id: str, language: str, base: int | None, latest: TrackVersion) -> VersionConflict:
    started = f"version {base}" if base else "no version"
    return VersionConflict(
        f"{lecture_id} {language}: version {latest.number} was saved by {latest.author} at {latest.created_at} "
        f"after you started from {started}; open version {latest.number}, bring your changes over, and save again",
        latest)


def create_version(client, bucket: str, lecture_id: str, language: str, track: Track, *, base: int | None,
                   author: str, kind: str = "human", message: str = "", now: str | None = None,
                   base_track: Track | None = None) -> TrackVersion:
    """Save track as the next version; VersionConflict when base is not the head (see head_version).

    base: the version the writer started from (None: the track had no version). For a
    human version, per-cue provenance is applied against base (apply_provenance): cues
    the author changed carry their name and this version's number. base_track: version
    base's track when the caller holds it already (versions are immutable), saving a read.

    No listing on the way in (a LIST reads every version's entry, so saves would slow as
    versions pile up): v<base+1> is created if absent, which is the whole check when base
    is the newest. Only a refused create lists: machine versions that a re-run put on top
    of a person's head do not count against them (the save goes after them); anything
    else is a conflict naming who saved what.
    """
    if track.language != language:
        raise InputError(f"{lecture_id}: a {track.language!r} track cannot be saved as {language!r}")
    if not author.strip():
        raise InputError(f"{lecture_id} {language}: a version needs an author; pass the user name")
    check_conditional_writes(client, bucket)
    if base is not None and base_track is None:
        base_track = load_version(client, bucket, lecture_id, language, base).track   # NotFoundError if absent
    if kind == "human":
        track = apply_provenance(base_track if base else None, track, author, (base or 0) + 1)
    number = (base or 0) + 1
    while True:
        v = TrackVersion(lecture_id=lecture_id, language=language, number=number, base=base, kind=kind,
                         author=author, created_at=now or _now(), message=message, track=track)
        body = json.dumps(version_to_dict(v), ensure_ascii=False).encode()
        if kind == "machine":   # before the create: a crash between leaves a pointer that fails its check
            put_bytes(client, bucket, keys.track_machine(lecture_id, language),
                      json.dumps({"version": number}).encode(), content_type="application/json")
        if put_bytes_if_absent(client, bucket, keys.track_version(lecture_id, language, number), body,
                               "application/json"):
            log.info("%s %s: version %d saved by %s (%s)", lecture_id, language, number, author, kind)
            return v
        number = _next_after_machine_versions(client, bucket, lecture_id, language, base, kind, number)
        if kind == "human" and number != v.number:
            track = _renumber(track, v.number, number)


def _next_after_machine_versions(client, bucket: str, lecture_id: str, language: str, base: int | None,
                                 kind: str, refused: int) -> int:
    """After v<refused> was refused: the number to try next, or VersionConflict.

    A person's save on the head goes after the machine versions a re-run added on top of
    it; any other newer version (a person's, or anything when base is None) wins.
    """
    numbers = list_versions(client, bucket, lecture_id, language)
    if refused not in numbers:
        # a 409 ConditionalRequestConflict: their write is still in flight (or failed)
        raise VersionConflict(f"{lecture_id} {language}: someone else is saving version {refused} right now; "
                              "wait a moment, reload, bring your changes over, and save again")
    newer = [load_version(client, bucket, lecture_id, language, n) for n in numbers if n > (base or 0)]
    people = [v for v in newer if v.kind != "machine"]
    if kind != "human" or base is None or people:
        raise _conflict(lecture_id, language, base, people[-1] if people else newer[-1])
    return numbers[-1] + 1


def _renumber(track: Track, old: int, new: int) -> Track:
    """Cues stamped with the version number first tried carry the one finally written."""
    return replace(track, cues=tuple(replace(c, version=new) if c.origin == "human" and c.version == old else c
                                     for c in track.cues))


def head_number(kinds) -> int | None:
    """Of (number, kind) pairs, oldest first: the version people work on (None when there are none).

    The newest a person saved, else the newest machine version. A re-run of the pipeline
    adds machine versions after a translator's (to compare with); they never become what
    the translator edits, approves or publishes.
    """
    kinds = list(kinds)
    people = [n for n, kind in kinds if kind != "machine"]
    return people[-1] if people else (kinds[-1][0] if kinds else None)


def head_version(client, bucket: str, lecture_id: str, language: str) -> TrackVersion | None:
    """The version people work on (head_number's rule), read newest first until a person's."""
    seen = []
    for n in reversed(list_versions(client, bucket, lecture_id, language)):
        v = load_version(client, bucket, lecture_id, language, n)
        seen.append(v)
        if v.kind != "machine":
            return v
    return seen[0] if seen else None


def _same_cues(a: Track, b: Track) -> bool:
    return track_to_dict(a)["cues"] == track_to_dict(b)["cues"]


def record_machine_version(client, bucket: str, lecture_id: str, track: Track, *,
                           author: str | None = None, attempts: int = 5) -> TrackVersion:
    """Keep the pipeline's track as a machine version, unless the newest machine version has the same cues.

    Returns the version that holds these cues (new or existing). Never touches live.json:
    whether learners see it is publish's decision.
    """
    language = track.language
    for _ in range(attempts):
        previous = latest_machine_version(client, bucket, lecture_id, language)
        if previous is not None and _same_cues(previous.track, track):
            return previous
        numbers = list_versions(client, bucket, lecture_id, language)
        try:
            return create_version(client, bucket, lecture_id, language, track,
                                  base=numbers[-1] if numbers else None, author=author or track.model or track.origin,
                                  kind="machine", message="machine output")
        except VersionConflict:
            continue   # someone saved meanwhile: look again
    raise OperatorError(f"{lecture_id} {language}: could not record the machine track after {attempts} tries; "
                        "other writers keep saving, run publish again")


def live(client, bucket: str, lecture_id: str, language: str) -> LivePointer | None:
    """What learners see for this track, or None when no person has published one (machine output then)."""
    data = get_bytes(client, bucket, keys.track_live(lecture_id, language))
    if data is None:
        return None
    d = json.loads(data)
    return LivePointer(version=int(d["version"]), approved=bool(d["approved"]), by=d.get("by", ""), at=d.get("at", ""))


def set_live(client, bucket: str, lecture_id: str, language: str, version: int, *, approved: bool, by: str,
             now: str | None = None) -> LivePointer:
    """Point learners at version (which must exist); the caller republishes the subtitles afterwards."""
    if version not in list_versions(client, bucket, lecture_id, language):
        raise NotFoundError(f"{lecture_id} {language}: no version {version} to publish")
    p = LivePointer(version=version, approved=approved, by=by, at=now or _now())
    put_bytes(client, bucket, keys.track_live(lecture_id, language),
              json.dumps({"version": p.version, "approved": p.approved, "by": p.by, "at": p.at}).encode(),
              content_type="application/json")
    return p
