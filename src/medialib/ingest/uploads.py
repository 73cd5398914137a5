"""Staff browser uploads: presigned S3 multipart requests straight into the archive bucket's inbox/.

The browser (Uppy's @uppy/aws-s3 6.x, `signRequest` mode) sends every S3 request itself;
this module signs them, one at a time, for keys it prepared, and checks the result:

    prepare_upload   the browser declares name, size, sha256 and the metadata; the key is
                     inbox/<sha256-16>-<name>, so the same file always gets the same key, and
                     a multipart upload already started for it (another tab, before a reload)
                     is returned to resume from its stored parts (ListParts)
    sign_request     one presigned URL for CreateMultipartUpload, UploadPart, ListParts,
                     CompleteMultipartUpload or AbortMultipartUpload on a prepared key
    begin_finish     after completion: the sidecar turns "verifying" (a HEAD and a small
                     write, so the page's request returns at once)
    verify_upload    the check, run in the background: size and sha256 of the stored object
                     against the declaration (streamed: tens of seconds for a multi-GB
                     recording), then the sidecar turns "ready" and the inbox watcher takes
                     the recording; a mismatch removes the object and leaves a check record
                     (inbox-rejected/<name>.check.json) that upload_status reports
    finish_upload    both, in one call (cleanup, scripts)
    upload_status    where one upload stands, for the page's polling
    abort_abandoned  multipart uploads older than a given age are aborted (their parts
                     cost storage and are invisible to listings)

The sidecar (inbox/<key>.toml) is written at prepare with status "uploading", which the
watcher waits for (and "verifying" while the check runs); a wrong upload is deleted, with
its sidecar, and reported. Every step may be repeated: a second finish while the check
runs, or after it, changes nothing; a recording left "verifying" (the server stopped
mid-check) is checked again by whoever calls verify_upload next.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from medialib import storage
from medialib.errors import InputError, NotFoundError
from medialib.ids import slugify
from medialib.ingest.inbox import (INBOX, NOT_YET_CHECKED, REJECTED, UPLOADING, VERIFYING, Sidecar, parse_sidecar,
                                   sidecar_key)

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_STREAM_BYTES = 8 << 20


@dataclass(frozen=True)
class UploadPlan:
    """What the page needs to start or resume one file."""

    key: str
    upload_id: str | None          # a multipart upload already under way for this key: resume it
    complete: bool                 # the object is already stored (finish it, nothing to send)


class UploadMismatch(InputError):
    """The stored bytes are not the ones declared; record: what check_record_key holds."""

    def __init__(self, message: str, record: dict):
        super().__init__(message)
        self.record = record


@dataclass(frozen=True)
class Abandoned:
    key: str
    upload_id: str
    initiated: datetime


def safe_name(name: str) -> str:
    """A file name safe as the last part of an object key: the stem's slug (Russian transliterated), its extension."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    ext = re.sub(r"[^a-z0-9]+", "", ext.lower())[:10]
    return (slugify(stem, max_len=90) or "recording") + (f".{ext}" if ext else "")


def upload_key(name: str, sha256: str) -> str:
    """inbox/<first 16 hex of sha256>-<safe name>: the same bytes and name always meet the same key."""
    return f"{INBOX}{sha256[:16]}-{safe_name(name)}"


def display_name(key: str) -> str:
    """The file's name in messages: the key's last part without its sha256 prefix."""
    name = PurePosixPath(key).name
    return name[17:] if re.match(r"^[0-9a-f]{16}-", name) else name


def check_record_key(key: str) -> str:
    """inbox-rejected/<name>.check.json: why the check refused an upload (its object and sidecar are gone)."""
    return REJECTED + key[len(INBOX):] + ".check.json"


def check_declaration(name: str, size_bytes: int, sha256: str, *, max_size_bytes: int) -> str:
    """The browser's declaration, normalised; InputError naming the file for anything wrong."""
    if not name or not str(name).strip():
        raise InputError("a file name is required")
    if not isinstance(size_bytes, int) or size_bytes <= 0:
        raise InputError(f"{name}: the file is empty (0 bytes); choose the recording itself")
    if size_bytes > max_size_bytes:
        raise InputError(f"{name}: {size_bytes / 1e9:.1f} GB is over the {max_size_bytes / 1e9:.0f} GB limit "
                         "([uploads] max_size_gb); split the recording or raise the limit")
    sha = str(sha256 or "").lower()
    if not SHA256_RE.fullmatch(sha):
        raise InputError(f"{name}: {sha256!r} is not a sha256 hex digest")
    return sha


def _head(client, bucket: str, key: str) -> dict | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except Exception as e:   # botocore ClientError; anything else is raised by wrap_errors below
        if storage.is_missing(e):
            return None
        raise


def read_pending(client, bucket: str, key: str) -> Sidecar:
    """The sidecar of a prepared upload; NotFoundError when key was never prepared here."""
    if not key.startswith(INBOX) or key.endswith(".toml") or ".." in key:
        raise InputError(f"{key!r}: not an upload key; prepare the upload first")
    raw = storage.get_bytes(client, bucket, sidecar_key(key))
    if raw is None:
        raise NotFoundError(f"{display_name(key)}: no such upload; prepare it again (select the file again)")
    return parse_sidecar(raw.decode("utf-8"), PurePosixPath(key).name)


def find_multipart(client, bucket: str, key: str) -> list[tuple[str, datetime]]:
    """The multipart uploads under way for exactly key: (upload id, initiated), newest first."""
    found = []
    with storage.wrap_errors("list uploads in", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key):
            found += [(u["UploadId"], u["Initiated"]) for u in page.get("Uploads", []) if u["Key"] == key]
    return sorted(found, key=lambda u: u[1], reverse=True)


def prepare_upload(client, bucket: str, *, name: str, size_bytes: int, sha256: str, sidecar: Sidecar,
                   max_size_bytes: int) -> UploadPlan:
    """Name the object, write its sidecar (status "uploading"), find an upload to resume.

    sidecar: what staff filled in (title, speaker, language, audio, event); its status,
    sha256 and size are set here from the declaration.
    """
    sha = check_declaration(name, size_bytes, sha256, max_size_bytes=max_size_bytes)
    key = upload_key(name, sha)
    with storage.wrap_errors("prepare", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
        head = _head(client, bucket, key)
    complete = head is not None and int(head["ContentLength"]) == size_bytes
    side = replace(sidecar, status=UPLOADING, sha256=sha, size_bytes=size_bytes)
    current = storage.get_bytes(client, bucket, sidecar_key(key))
    # A recording already verified keeps its sidecar: the watcher may be taking it.
    if current is None or parse_sidecar(current.decode("utf-8"), PurePosixPath(key).name).status == UPLOADING:
        storage.put_bytes(client, bucket, sidecar_key(key), side.to_toml().encode("utf-8"),
                          content_type="application/toml; charset=utf-8")
        with storage.wrap_errors("prepare", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
            client.delete_object(Bucket=bucket, Key=check_record_key(key))    # an earlier refusal: a new try
    uploads = [] if complete else find_multipart(client, bucket, key)
    return UploadPlan(key=key, upload_id=uploads[0][0] if uploads else None, complete=complete)


_OPERATIONS = {   # (method, has uploadId, has partNumber) -> boto3 operation
    ("POST", False, False): "create_multipart_upload",
    ("PUT", True, True): "upload_part",
    ("GET", True, False): "list_parts",
    ("POST", True, False): "complete_multipart_upload",
    ("DELETE", True, False): "abort_multipart_upload",
    ("PUT", False, False): "put_object",
}


def sign_request(presign_client, bucket: str, request: dict, *, expires_s: int) -> dict:
    """A presigned URL for one request of @uppy/aws-s3 6.x's signRequest: {method, key, uploadId?, partNumber?}.

    The caller has checked that request["key"] is a prepared upload of this user.
    presign_client: a client whose endpoint is the address browsers reach.
    """
    method = str(request.get("method", "")).upper()
    key = str(request.get("key", ""))
    upload_id = request.get("uploadId")
    part = request.get("partNumber")
    op = _OPERATIONS.get((method, bool(upload_id), part is not None))
    if op is None:
        raise InputError(f"cannot sign {method} {key!r}: not a request an upload makes")
    params: dict = {"Bucket": bucket, "Key": key}
    if upload_id:
        params["UploadId"] = str(upload_id)
    if part is not None:
        if not isinstance(part, int) or not 1 <= part <= 10000:
            raise InputError(f"part number {part!r} is out of range; S3 allows 1 to 10000")
        params["PartNumber"] = part
    with storage.wrap_errors("sign", bucket=bucket, key=key, endpoint=storage.endpoint_of(presign_client)):
        url = presign_client.generate_presigned_url(op, Params=params, ExpiresIn=expires_s, HttpMethod=method)
    return {"url": url, "key": key}


def object_sha256_streamed(client, bucket: str, key: str) -> tuple[int, str]:
    """(size, sha256) of the stored object, read through once in 8 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with storage.wrap_errors("verify", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        while block := body.read(_STREAM_BYTES):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _put_sidecar(client, bucket: str, key: str, side: Sidecar) -> None:
    storage.put_bytes(client, bucket, sidecar_key(key), side.to_toml().encode("utf-8"),
                      content_type="application/toml; charset=utf-8")


def begin_finish(client, bucket: str, key: str) -> Sidecar:
    """The page says the upload is complete: mark its sidecar "verifying" (nothing is read yet).

    Returns the sidecar as it now stands: "verifying", or as it was when the upload was
    finished before (a repeated call: "verifying" or "ready"). NotFoundError when the
    object is not complete yet or the upload was never prepared.
    """
    side = read_pending(client, bucket, key)
    if side.status != UPLOADING:
        return side                          # finished before (a retried request, a reloaded page)
    with storage.wrap_errors("verify", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
        head = _head(client, bucket, key)
    if head is None:
        raise NotFoundError(f"{display_name(key)}: the upload is not complete yet; wait for every part, then finish")
    verifying = replace(side, status=VERIFYING)
    _put_sidecar(client, bucket, key, verifying)
    return verifying


def verify_upload(client, bucket: str, key: str) -> Sidecar:
    """Check the stored object against the declaration (read once, streamed); mark it ready for the inbox watcher.

    A mismatch removes the object and its sidecar (the bytes are not the recording staff
    chose), writes the check record (check_record_key) and raises UploadMismatch saying
    to upload again. A sidecar checked before is returned as it is.
    """
    side = read_pending(client, bucket, key)
    name = display_name(key)
    if side.status not in NOT_YET_CHECKED:
        return side
    with storage.wrap_errors("verify", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
        head = _head(client, bucket, key)
    if head is None:
        raise NotFoundError(f"{name}: the upload is not complete yet; wait for every part, then finish")
    size, sha = object_sha256_streamed(client, bucket, key)
    if size != side.size_bytes or sha != side.sha256:
        what = (f"{size} bytes arrived, {side.size_bytes} were declared" if size != side.size_bytes
                else f"sha256 {sha[:12]}… arrived, {side.sha256[:12]}… was declared")
        message = (f"{name}: the stored file differs from the one chosen ({what}); it was removed. "
                   "Was the file changed while uploading? Upload it again")
        record = {"key": key, "name": name, "reason": "size" if size != side.size_bytes else "sha256",
                  "arrived_size": size, "declared_size": side.size_bytes, "arrived_sha256": sha,
                  "declared_sha256": side.sha256, "message": message,
                  "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        storage.put_bytes(client, bucket, check_record_key(key), json.dumps(record, ensure_ascii=False).encode(),
                          content_type="application/json")
        with storage.wrap_errors("delete from", bucket=bucket, key=key, endpoint=storage.endpoint_of(client)):
            client.delete_object(Bucket=bucket, Key=key)
            client.delete_object(Bucket=bucket, Key=sidecar_key(key))
        log.warning("upload %s refused: %s", key, what)
        raise UploadMismatch(message, record)
    ready = replace(side, status="ready")
    _put_sidecar(client, bucket, key, ready)
    log.info("upload %s verified (%d bytes, sha256 %s); the inbox takes it next", key, size, sha[:12])
    return ready


def finish_upload(client, bucket: str, key: str) -> Sidecar:
    """begin_finish and verify_upload in one call (the check inside it: for cleanup and scripts)."""
    begin_finish(client, bucket, key)
    return verify_upload(client, bucket, key)


def upload_status(client, bucket: str, key: str) -> dict:
    """Where one prepared upload stands, for the page's polling.

    {"status": "uploading" | "verifying" | "ready"} from its sidecar; {"status":
    "mismatch", ...} with the check record after a refusal; {"status": "taken"} when
    neither exists (the inbox watcher took a verified recording and tidied it away).
    """
    try:
        side = read_pending(client, bucket, key)
    except NotFoundError:
        raw = storage.get_bytes(client, bucket, check_record_key(key))
        if raw is None:
            return {"key": key, "status": "taken"}
        record = json.loads(raw)
        return {k: record.get(k) for k in ("key", "reason", "arrived_size", "declared_size", "arrived_sha256",
                                           "declared_sha256", "message")} | {"status": "mismatch"}
    return {"key": key, "status": side.status, "size_bytes": side.size_bytes, "sha256": side.sha256,
            "title": side.title}


def abort_abandoned(client, bucket: str, *, max_age_h: float, now: datetime | None = None) -> list[Abandoned]:
    """Abort the multipart uploads under inbox/ started more than max_age_h hours ago.

    An aborted upload's sidecar is removed too when nothing else uses it (no object, no
    other upload under way for the key).
    """
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(hours=max_age_h)
    aborted: list[Abandoned] = []
    endpoint = storage.endpoint_of(client)
    with storage.wrap_errors("list uploads in", bucket=bucket, key=INBOX, endpoint=endpoint):
        pending = []
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=INBOX):
            pending += page.get("Uploads", [])
    for u in pending:
        if u["Initiated"] >= cutoff:
            continue
        with storage.wrap_errors("abort an upload in", bucket=bucket, key=u["Key"], endpoint=endpoint):
            client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
        aborted.append(Abandoned(key=u["Key"], upload_id=u["UploadId"], initiated=u["Initiated"]))
        log.info("aborted abandoned upload %s (started %s)", u["Key"], u["Initiated"])
    for key in sorted({a.key for a in aborted}):
        with storage.wrap_errors("tidy", bucket=bucket, key=key, endpoint=endpoint):
            if _head(client, bucket, key) is None and not find_multipart(client, bucket, key):
                client.delete_object(Bucket=bucket, Key=sidecar_key(key))
    return aborted


def finish_stale(client, bucket: str, *, max_age_h: float, now: datetime | None = None) -> list[tuple[str, str]]:
    """Finish uploads whose page closed between completion and the check: (key, "ready" or the reason).

    An object with a sidecar still "uploading" or "verifying" (a server stopped mid-check,
    no page left to ask again) after max_age_h is verified as the page would have; a
    mismatch removes it (verify_upload's rule).
    """
    from medialib.ingest.inbox import list_inbox, read_sidecar

    now = now or datetime.now(timezone.utc)
    out = []
    candidates, _ = list_inbox(client, bucket)
    for c in candidates:
        if c.sidecar_etag is None or now - c.last_modified < timedelta(hours=max_age_h):
            continue
        try:
            if read_sidecar(client, bucket, c).status not in NOT_YET_CHECKED:
                continue
            finish_upload(client, bucket, c.key)
            out.append((c.key, "ready"))
        except InputError as e:
            out.append((c.key, str(e)))
    return out
