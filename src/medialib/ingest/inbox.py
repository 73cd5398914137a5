"""The watched inbox: recordings dropped under `inbox/` in the archive bucket start processing.

    inbox/<name>.mp4            a recording (S3 shows an object only once it is complete)
    inbox/<name>.mp4.toml       its sidecar (optional): title, speaker, language, audio, event, event_date
    inbox-claims/<id>.json      who took which object version (created once: If-None-Match: *)
    inbox-claims/<id>.state.json what became of it (lecture id, sha256), written by the claimer
    inbox-rejected/<name>.txt   why a file was refused (the probe's message)

A recording is taken when it is complete and stable: its object exists and it has a
sidecar that the upload page has finished with (status not "uploading" or "verifying"), or
`grace_s` has passed since it appeared. The claim id is the sha256 of key, ETag and
size (and the sidecar's ETag), so the same name dropped again with other bytes is a new
claim, and two watchers racing for one object create its claim once: the store decides.

The taker downloads the object, probes it and hashes it. A non-media file is rejected
with the probe's message and removed from the inbox; bytes already ingested are named
as that lecture and removed; anything else goes to `start_processing(request)`, which
the caller chooses (a thread, a subprocess, a Prefect deployment). The recording stays
in the inbox until its bytes are archived (the sha256 index exists), so a processor
that dies early loses nothing; a later scan removes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from medialib import keys, media, storage
from medialib.config import StorageOptions
from medialib.errors import InputError
from medialib.ids import file_sha256, make_lecture_id
from medialib.pipeline.plan import check_audio_specs
from medialib.pipeline.records import LectureRequest
from medialib.pipeline.stages import check_date

log = logging.getLogger(__name__)

INBOX = "inbox/"
CLAIMS = "inbox-claims/"
REJECTED = "inbox-rejected/"
SIDECAR_SUFFIX = ".toml"
UPLOADING = "uploading"      # sidecar status while the upload page has not verified the bytes
VERIFYING = "verifying"      # the bytes are complete; the upload page's server is checking size and sha256
NOT_YET_CHECKED = frozenset({UPLOADING, VERIFYING})
SIDECAR_KEYS = frozenset({"title", "speaker", "language", "audio", "event", "event_date", "recorded_date",
                          "status", "sha256", "size_bytes", "uploaded_by"})

StartProcessing = Callable[[LectureRequest], object]


def sidecar_key(key: str) -> str:
    return key + SIDECAR_SUFFIX


def rejected_key(key: str) -> str:
    return REJECTED + key[len(INBOX):] + ".txt"


def claim_key(claim_id: str) -> str:
    return f"{CLAIMS}{claim_id}.json"


def state_key(claim_id: str) -> str:
    return f"{CLAIMS}{claim_id}.state.json"


@dataclass(frozen=True)
class Sidecar:
    """What staff said about one recording; defaults come from its file name."""

    title: str
    speaker: str | None = None
    language: str | None = None
    audio: tuple[str, ...] = ()
    event: str | None = None
    event_date: str | None = None
    recorded_date: str | None = None
    status: str = "ready"          # "uploading", "verifying": the upload page has not finished checking the bytes
    sha256: str | None = None      # declared by the uploader (checked by the upload page)
    size_bytes: int | None = None
    uploaded_by: str | None = None

    def to_toml(self) -> str:
        """The sidecar as TOML (strings escaped by json, which TOML basic strings accept)."""
        lines = []
        for k in ("title", "speaker", "language", "event", "event_date", "recorded_date", "status", "sha256",
                  "uploaded_by"):
            v = getattr(self, k)
            if v is not None:
                lines.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
        if self.size_bytes is not None:
            lines.append(f"size_bytes = {int(self.size_bytes)}")
        if self.audio:
            lines.append("audio = [" + ", ".join(json.dumps(a, ensure_ascii=False) for a in self.audio) + "]")
        return "\n".join(lines) + "\n"


def title_from_name(name: str) -> str:
    """'0900_interviewing-witnesses.mp4' -> '0900 interviewing witnesses'."""
    stem = PurePosixPath(name).stem
    return re.sub(r"[\s_]+", " ", stem.replace("-", " ")).strip() or stem or "lecture"


def parse_sidecar(text: str, name: str) -> Sidecar:
    """A sidecar's TOML as a Sidecar; InputError naming the file and the field for anything wrong.

    name: the recording's file name (the default title, and the name in messages).
    """
    where = f"{name}{SIDECAR_SUFFIX}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{where}: not valid TOML ({e}); fix the sidecar and drop it again") from None
    unknown = sorted(set(data) - SIDECAR_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                         f"use {', '.join(sorted(SIDECAR_KEYS - {'status', 'sha256', 'size_bytes', 'uploaded_by'}))}")

    def text_field(k: str) -> str | None:
        v = data.get(k)
        if v is None:
            return None
        if k in ("event_date", "recorded_date") and hasattr(v, "isoformat"):   # a bare TOML date
            return v.isoformat()
        if not isinstance(v, str):
            raise InputError(f"{where}: {k} must be a string, not {v!r}")
        return v.strip() or None

    audio = data.get("audio", ())
    if isinstance(audio, str):
        audio = (audio,)
    if not isinstance(audio, (list, tuple)) or not all(isinstance(a, str) for a in audio):
        raise InputError(f"{where}: audio must be a list like [\"0:floor\", \"1:interpretation:en\"], not {audio!r}")
    check_audio_specs(tuple(audio))
    size = data.get("size_bytes")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise InputError(f"{where}: size_bytes must be a whole number of bytes, not {size!r}")
    language = text_field("language")
    return Sidecar(
        title=text_field("title") or title_from_name(name),
        speaker=text_field("speaker"),
        language=language.lower() if language else None,
        audio=tuple(audio),
        event=text_field("event"),
        event_date=check_date(text_field("event_date"), f"{where}: event_date"),
        recorded_date=check_date(text_field("recorded_date"), f"{where}: recorded_date"),
        status=text_field("status") or "ready",
        sha256=text_field("sha256"),
        size_bytes=size,
        uploaded_by=text_field("uploaded_by"),
    )


@dataclass(frozen=True)
class Candidate:
    """One recording in the inbox, as the listing saw it."""

    key: str
    size_bytes: int
    etag: str
    last_modified: datetime
    sidecar_etag: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def claim_id(self) -> str:
        """The same object version (and sidecar) always gives the same id; new bytes, a new id."""
        h = hashlib.sha256(f"{self.key}\0{self.etag}\0{self.size_bytes}\0{self.sidecar_etag or ''}".encode())
        return h.hexdigest()[:32]


@dataclass(frozen=True)
class Outcome:
    """What a scan did with one recording."""

    key: str
    action: str                    # "started", "duplicate", "rejected", "waiting", "lost-claim", "tidied"
    lecture_id: str | None = None
    sha256: str | None = None
    message: str = ""
    request: LectureRequest | None = field(default=None, compare=False)


def _listing(client, bucket: str, prefix: str) -> list[dict]:
    with storage.wrap_errors("list", bucket=bucket, key=prefix, endpoint=storage.endpoint_of(client)):
        out = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.extend(page.get("Contents", []))
        return out


def _delete(client, bucket: str, *keys_: str) -> None:
    with storage.wrap_errors("delete from", bucket=bucket, key=keys_[0], endpoint=storage.endpoint_of(client)):
        for k in keys_:
            client.delete_object(Bucket=bucket, Key=k)


def list_inbox(client, bucket: str) -> tuple[list[Candidate], dict[str, dict]]:
    """Every recording under inbox/ (sidecars attached, not listed) and the sidecar objects by their key."""
    objs = _listing(client, bucket, INBOX)
    by_key = {o["Key"]: o for o in objs}
    sidecars = {k: o for k, o in by_key.items() if k.endswith(SIDECAR_SUFFIX)}
    out = []
    for k, o in sorted(by_key.items()):
        if k in sidecars or k.endswith("/"):
            continue
        side = sidecars.get(sidecar_key(k))
        out.append(Candidate(key=k, size_bytes=int(o["Size"]), etag=o["ETag"].strip('"'),
                             last_modified=o["LastModified"], sidecar_etag=side["ETag"].strip('"') if side else None))
    return out, sidecars


def read_sidecar(client, bucket: str, cand: Candidate) -> Sidecar:
    """The candidate's sidecar, or defaults from its file name when it has none."""
    if cand.sidecar_etag is None:
        return Sidecar(title=title_from_name(cand.name))
    raw = storage.get_bytes(client, bucket, sidecar_key(cand.key))
    if raw is None:                      # removed since the listing
        return Sidecar(title=title_from_name(cand.name))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{cand.name}{SIDECAR_SUFFIX}: not UTF-8 text; save the sidecar as UTF-8") from None
    return parse_sidecar(text, cand.name)


def is_ready(cand: Candidate, sidecar: Sidecar, *, now: datetime, grace_s: float) -> bool:
    """Complete (the object exists) and stable: a finished sidecar, or no sidecar for grace_s seconds."""
    if cand.sidecar_etag is not None:
        return sidecar.status not in NOT_YET_CHECKED
    return (now - cand.last_modified).total_seconds() >= grace_s


def claim(client, bucket: str, cand: Candidate, owner: str) -> bool:
    """Create the candidate's claim object; True for exactly one caller per object version."""
    record = {"key": cand.key, "etag": cand.etag, "size_bytes": cand.size_bytes, "owner": owner,
              "claimed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return storage.put_bytes_if_absent(client, bucket, claim_key(cand.claim_id),
                                       json.dumps(record).encode(), "application/json")


def _reject(client, bucket: str, cand: Candidate, message: str, *, remove: bool) -> Outcome:
    note = f"{cand.key}\n{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n{message}\n"
    storage.put_bytes(client, bucket, rejected_key(cand.key), note.encode(), content_type="text/plain; charset=utf-8")
    if remove:
        _delete(client, bucket, cand.key, sidecar_key(cand.key))
    log.warning("inbox: rejected %s: %s", cand.key, message)
    return Outcome(key=cand.key, action="rejected", message=message)


def take(client, opts: StorageOptions, cand: Candidate, sidecar: Sidecar, work_dir: Path,
         start_processing: StartProcessing) -> Outcome:
    """Process one claimed recording: download, probe, hash, then reject, recognise or start it."""
    local_dir = Path(work_dir) / cand.claim_id
    local_dir.mkdir(parents=True, exist_ok=True)
    local = local_dir / cand.name
    bucket = opts.archive_bucket
    with storage.wrap_errors("download", bucket=bucket, key=cand.key, endpoint=storage.endpoint_of(client)):
        client.download_file(bucket, cand.key, str(local))
    try:
        media.probe_media(local)
    except InputError as e:
        shutil.rmtree(local_dir, ignore_errors=True)
        return _reject(client, bucket, cand, str(e), remove=True)
    sha = file_sha256(local)
    known = storage.get_bytes(client, bucket, keys.sha256_index(sha))
    if known is not None:
        lecture_id = json.loads(known)["lecture_id"]
        shutil.rmtree(local_dir, ignore_errors=True)
        _delete(client, bucket, cand.key, sidecar_key(cand.key))
        _write_state(client, bucket, cand, sha, lecture_id, "duplicate")
        log.info("inbox: %s holds the same bytes as lecture %s; removed from the inbox", cand.key, lecture_id)
        return Outcome(key=cand.key, action="duplicate", lecture_id=lecture_id, sha256=sha,
                       message=f"{cand.name}: the same recording as lecture {lecture_id}; nothing to do")
    lecture_id = make_lecture_id(sidecar.title, sha)
    request = LectureRequest(source=str(local), title=sidecar.title, language=sidecar.language,
                             speaker=sidecar.speaker, event=sidecar.event, lecture_id=lecture_id,
                             audio=sidecar.audio, event_date=sidecar.event_date, recorded_date=sidecar.recorded_date)
    _write_state(client, bucket, cand, sha, lecture_id, "started")
    start_processing(request)
    log.info("inbox: %s started as lecture %s", cand.key, lecture_id)
    return Outcome(key=cand.key, action="started", lecture_id=lecture_id, sha256=sha, request=request)


def _write_state(client, bucket: str, cand: Candidate, sha: str, lecture_id: str, action: str) -> None:
    storage.put_bytes(client, bucket, state_key(cand.claim_id),
                      json.dumps({"key": cand.key, "sha256": sha, "lecture_id": lecture_id,
                                  "action": action}).encode(), content_type="application/json")


def _tidy(client, bucket: str, cand: Candidate) -> Outcome | None:
    """Remove a claimed recording from the inbox once its bytes are archived (the sha256 index exists)."""
    raw = storage.get_bytes(client, bucket, state_key(cand.claim_id))
    if raw is None:
        return None
    state = json.loads(raw)
    if storage.get_bytes(client, bucket, keys.sha256_index(state["sha256"])) is None:
        return None
    _delete(client, bucket, cand.key, sidecar_key(cand.key))
    return Outcome(key=cand.key, action="tidied", lecture_id=state.get("lecture_id"), sha256=state["sha256"])


def scan_inbox(client, opts: StorageOptions, work_dir: Path, start_processing: StartProcessing, *,
               grace_s: float, owner: str, now: datetime | None = None) -> list[Outcome]:
    """One pass over the inbox: take every ready, unclaimed recording; returns what happened to each.

    A bad sidecar leaves the recording in place (a note in inbox-rejected/ says why; a
    corrected sidecar is a new claim). Claims are listed once per pass; a claim lost to
    another watcher is reported as "lost-claim".
    """
    bucket = opts.archive_bucket
    now = now or datetime.now(timezone.utc)
    candidates, _ = list_inbox(client, bucket)
    if not candidates:
        return []
    claimed = {PurePosixPath(o["Key"]).name.removesuffix(".json") for o in _listing(client, bucket, CLAIMS)}
    out: list[Outcome] = []
    for cand in candidates:
        if cand.claim_id in claimed:
            if (t := _tidy(client, bucket, cand)) is not None:
                out.append(t)
            continue
        try:
            sidecar = read_sidecar(client, bucket, cand)
        except InputError as e:
            out.append(_reject(client, bucket, cand, str(e), remove=False))
            continue
        if not is_ready(cand, sidecar, now=now, grace_s=grace_s):
            out.append(Outcome(key=cand.key, action="waiting"))
            continue
        if not claim(client, bucket, cand, owner):
            out.append(Outcome(key=cand.key, action="lost-claim"))
            continue
        out.append(take(client, opts, cand, sidecar, work_dir, start_processing))
    return out


def watch_inbox(client, opts: StorageOptions, work_dir: Path, start_processing: StartProcessing, *,
                grace_s: float, interval_s: float, owner: str, once: bool = False,
                on_outcome: Callable[[Outcome], None] | None = None,
                should_stop: Callable[[], bool] = lambda: False) -> None:
    """scan_inbox every interval_s seconds (once: a single pass); checks If-None-Match support first."""
    storage.check_conditional_writes(client, opts.archive_bucket)
    while True:
        for o in scan_inbox(client, opts, work_dir, start_processing, grace_s=grace_s, owner=owner):
            if on_outcome and o.action != "waiting":
                on_outcome(o)
        if once or should_stop():
            return
        time.sleep(interval_s)


__all__ = ["Candidate", "Outcome", "Sidecar", "claim", "is_ready", "list_inbox", "parse_sidecar", "read_sidecar",
           "scan_inbox", "take", "title_from_name", "watch_inbox"]

