"""Object storage over S3 (boto3): buckets, uploads that skip unchanged objects, bundle publishing.

Works with any S3 endpoint (AWS, Ceph RGW, SeaweedFS, R2). Every object medialib writes
carries its sha256 in the user metadata "sha256", so a re-run compares digests and sends
nothing that is already there.

Errors: every public function raises only medialib errors (see `wrap_errors`):
    TransientError   cannot connect, timeouts, 5xx, throttling (after boto3's own retries)
    OperatorError    missing bucket, access denied, bad or missing keys, no endpoint, local disk
    InputError       a bad prefix or key, a missing local file (NotFoundError: no such object)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
)

from medialib import keys
from medialib.config import StorageOptions
from medialib.errors import ConfigError, InputError, OperatorError
from medialib.ids import file_sha256
from medialib.storage.errors import endpoint_of, error_code, http_status, is_missing, wrap_errors
from medialib.storage.serving import cache_control_for, content_type_for

log = logging.getLogger(__name__)


Progress = Callable[[int, int], None]   # (done_bytes, total_bytes); called from upload threads


SHA256_META = "sha256"


_MB = 1 << 20


@dataclass(frozen=True)
class PublishReport:
    uploaded: tuple[str, ...]      # keys, in upload order
    skipped: tuple[str, ...]       # unchanged, not sent
    uploaded_bytes: int


def make_client(opts: StorageOptions):
    """A thread-safe boto3 S3 client for opts' endpoint: path-style, SigV4, bounded retries."""
    if not opts.endpoint_url:
        raise ConfigError("storage.endpoint_url is empty; call medialib.embedded.resolve_storage(settings) "
                          "first, or set storage.endpoint_url")
    config = Config(
        signature_version="s3v4",
        # Path-style works on every S3 service and on loopback/IP endpoints without DNS tricks.
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 5, "mode": "standard"},   # 5xx, throttling, connection errors
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=max(10, opts.upload_workers * 2),
        # botocore >= 1.36 adds CRC checksums to every PUT; several S3 services reject them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with wrap_errors("connect to", endpoint=opts.endpoint_url):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=opts.endpoint_url,
            region_name=opts.region or None,
            aws_access_key_id=opts.access_key_id or None,       # empty: boto3's usual credential chain
            aws_secret_access_key=opts.secret_access_key or None,
            config=config,
        )


def _transfer_config(opts: StorageOptions | None) -> TransferConfig:
    threshold = (opts.multipart_threshold_mb if opts else 64) * _MB
    # Several files upload side by side already: a few parts each keeps the pool bounded.
    return TransferConfig(multipart_threshold=threshold, multipart_chunksize=max(16 * _MB, threshold // 4),
                          max_concurrency=4)


def _put_file(client, bucket: str, key: str, path: Path, sha256: str, metadata: dict | None,
              transfer: TransferConfig, callback: Callable[[int], None] | None = None) -> int:
    size = path.stat().st_size
    extra = {
        "ContentType": content_type_for(key),
        "CacheControl": cache_control_for(key),
        "Metadata": {**{k: str(v) for k, v in (metadata or {}).items()}, SHA256_META: sha256},
    }
    client.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=transfer, Callback=callback)
    return size


def put_file(client, bucket: str, key: str, path: Path, *, metadata: dict | None = None,
             sha256: str | None = None, opts: StorageOptions | None = None) -> int:
    """Upload one file with its content type, cache policy and sha256; returns the bytes sent.

    sha256: pass it when already known (a multi-GB original) to skip hashing again.
    opts: its multipart_threshold_mb applies (else 64 MB).
    """
    path = Path(path)
    with wrap_errors("upload to", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        digest = sha256 or file_sha256(path)
        return _put_file(client, bucket, key, path, digest, metadata, _transfer_config(opts))


def put_bytes(client, bucket: str, key: str, data: bytes, *, content_type: str | None = None,
              content_encoding: str | None = None) -> None:
    """Write a small object in one PUT (atomic: readers see the old or the new bytes).

    content_encoding ("gzip"): data is stored compressed and served with that header.
    """
    extra = {"ContentEncoding": content_encoding} if content_encoding else {}
    with wrap_errors("upload to", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type or content_type_for(key),
                          CacheControl=cache_control_for(key),
                          Metadata={SHA256_META: hashlib.sha256(data).hexdigest()}, **extra)


# What S3 services answer when If-None-Match: * finds the key taken: 412 PreconditionFailed,
# or 409 ConditionalRequestConflict when another conditional write to the key is in flight.
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


def put_bytes_if_absent(client, bucket: str, key: str, data: bytes, content_type: str | None = None) -> bool:
    """Create a small object only if no object has the key (If-None-Match: *); False when it exists.

    The one way two writers cannot both create version N+1: the server decides, not a
    HEAD before the PUT. Only as safe as the server: call check_conditional_writes first.
    """
    with wrap_errors("create", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*",
                              ContentType=content_type or content_type_for(key),
                              CacheControl=cache_control_for(key),
                              Metadata={SHA256_META: hashlib.sha256(data).hexdigest()})
        except ClientError as e:
            if error_code(e) in _CONDITION_FAILED or http_status(e) in (409, 412):
                return False
            raise
    return True


_conditional_ok: set[tuple[str, str]] = set()
_conditional_lock = threading.Lock()


def check_conditional_writes(client, bucket: str) -> None:
    """Refuse (OperatorError) a store that ignores If-None-Match; probed once per endpoint and bucket.

    The probe creates a scratch object twice with If-None-Match: *; the second create must
    be refused. A store that accepts both would let two translators both write version
    N+1, the second silently replacing the first, so versions are refused there instead.
    """
    where = (endpoint_of(client), bucket)
    with _conditional_lock:
        if where in _conditional_ok:
            return
        key = keys.conditional_probe(uuid.uuid4().hex)
        try:
            try:
                first = put_bytes_if_absent(client, bucket, key, b"probe", "text/plain")
                second = put_bytes_if_absent(client, bucket, key, b"probe again", "text/plain")
            except OperatorError as e:   # e.g. 501 NotImplemented or 400 for an unknown header
                raise OperatorError(f"the S3 store at {where[0] or 'S3'} (bucket {bucket!r}) refused a conditional "
                                    f"write ({e}); track versions are refused on it, because two editors could "
                                    "overwrite each other's work; use a store that supports If-None-Match "
                                    "(SeaweedFS, MinIO, AWS S3, Ceph RGW 18+)") from e
            if not first or second:
                raise OperatorError(f"the S3 store at {where[0] or 'S3'} (bucket {bucket!r}) ignores If-None-Match "
                                    "on PUT; track versions are refused on it, because two editors could "
                                    "overwrite each other's work; use a store that supports conditional writes "
                                    "(SeaweedFS, MinIO, AWS S3, Ceph RGW 18+)")
        finally:
            with contextlib.suppress(Exception):   # a scratch object left behind harms nothing
                client.delete_object(Bucket=bucket, Key=key)
        _conditional_ok.add(where)


def get_bytes(client, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None if there is no such key."""
    with wrap_errors("download", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            if is_missing(e):
                return None
            raise


def _head(client, bucket: str, key: str) -> dict | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if is_missing(e):
            return None
        raise


def object_sha256(client, bucket: str, key: str) -> str | None:
    """The sha256 medialib stored with the object; None if the object (or the digest) is missing."""
    with wrap_errors("read metadata of", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        head = _head(client, bucket, key)
    return (head or {}).get("Metadata", {}).get(SHA256_META)


def _list(client, bucket: str, prefix: str) -> Iterator[dict]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _join(prefix: str, rel: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{rel}" if prefix else rel


def _check_prefix(prefix: str) -> str:
    parts = prefix.strip("/").split("/")
    if prefix.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in prefix:
        raise InputError(f"{prefix!r}: not a valid object prefix; use names like 'lectures/<lecture-id>'")
    return prefix.strip("/")


def _local_files(local_dir: Path) -> list[tuple[str, Path]]:
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise InputError(f"{local_dir}: no such folder to upload; check the path")
    return sorted((p.relative_to(local_dir).as_posix(), p) for p in local_dir.rglob("*") if p.is_file())


class _Uploader:
    """Parallel uploads in phases with shared progress; a key is sent only if its sha256 differs."""

    def __init__(self, client, opts: StorageOptions, bucket: str, prefix: str, total_bytes: int,
                 progress: Progress | None):
        self.client, self.opts, self.bucket = client, opts, bucket
        self.endpoint = endpoint_of(client) or opts.endpoint_url
        self.transfer = _transfer_config(opts)
        self.total, self.done, self.progress = total_bytes, 0, progress
        self.lock = threading.Lock()
        self.uploaded: list[str] = []
        self.skipped: list[str] = []
        self.sent = 0
        # One listing up front: a key that is absent or has another size needs no HEAD.
        with wrap_errors("list", bucket=bucket, key=prefix + "/", endpoint=self.endpoint):
            self.remote = {o["Key"]: o["Size"] for o in _list(client, bucket, prefix + "/" if prefix else "")}
        if progress:
            progress(0, total_bytes)

    def _advance(self, n: int) -> None:
        if not self.progress or not n:
            return
        with self.lock:   # held while reporting, so callers see done_bytes only grow
            self.done = max(0, self.done + n)   # boto3 reports a retried part as negative progress
            self.progress(min(self.done, self.total), self.total)

    def _one(self, key: str, path: Path) -> None:
        with wrap_errors("upload to", bucket=self.bucket, key=key, endpoint=self.endpoint):
            size = path.stat().st_size
            digest = file_sha256(path)
            if self.remote.get(key) == size:
                head = _head(self.client, self.bucket, key)
                if head and head.get("Metadata", {}).get(SHA256_META) == digest:
                    with self.lock:
                        self.skipped.append(key)
                    self._advance(size)
                    return
            sent = [0]

            def callback(n: int) -> None:
                sent[0] += n
                self._advance(n)

            _put_file(self.client, self.bucket, key, path, digest, None, self.transfer, callback)
            self._advance(max(0, size - sent[0]))   # whatever the callbacks did not report
            with self.lock:
                self.uploaded.append(key)
                self.sent += size

    def phase(self, items: list[tuple[str, Path]]) -> None:
        """Upload items in parallel; returns only when all are stored, raises the first failure."""
        if not items:
            return
        if len(items) == 1 or self.opts.upload_workers == 1:
            for key, path in items:
                self._one(key, path)
            return
        pool = ThreadPoolExecutor(max_workers=min(self.opts.upload_workers, len(items)),
                                  thread_name_prefix="medialib-upload")
        try:
            futures = [pool.submit(self._one, key, path) for key, path in items]
            wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                if f.done() and f.exception():
                    raise f.exception()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def report(self) -> PublishReport:
        return PublishReport(uploaded=tuple(self.uploaded), skipped=tuple(sorted(self.skipped)),
                             uploaded_bytes=self.sent)


def upload_tree(client, opts: StorageOptions, bucket: str, prefix: str, local_dir: Path, *,
                progress: Progress | None = None, phase_of: Callable[[str], int] | None = None,
                one_by_one_from: int | None = None) -> PublishReport:
    """Upload every file under local_dir to prefix/<relative path>, in parallel, skipping unchanged ones.

    phase_of(relative path) orders the upload: every file of phase n is stored before any
    of phase n+1 starts, and a failure stops before the next phase. Phases from
    one_by_one_from on are sent one file at a time, in order.
    """
    prefix = _check_prefix(prefix)
    files = _local_files(local_dir)
    up = _Uploader(client, opts, bucket, prefix, sum(p.stat().st_size for _, p in files), progress)
    phases: dict[int, list[tuple[str, Path]]] = {}
    for rel, p in files:
        phases.setdefault(phase_of(rel) if phase_of else 0, []).append((_join(prefix, rel), p))
    for n in sorted(phases):
        if one_by_one_from is not None and n >= one_by_one_from:
            for item in phases[n]:
                up.phase([item])
        else:
            up.phase(phases[n])
    return up.report()


def _safe_relative(key: str, prefix: str) -> str | None:
    """Where key goes under the download folder; None for keys outside prefix ('a/bc' for prefix 'a/b')."""
    if key == prefix:
        rel = PurePosixPath(key).name       # the prefix names one object: download it by its name
    elif not prefix or key.startswith(prefix + "/"):
        rel = key[len(prefix) + 1:] if prefix else key
    else:
        return None
    parts = PurePosixPath(rel).parts
    if not parts or any(p in ("..", ".", "") for p in parts) or rel.startswith("/"):
        raise InputError(f"s3 key {key!r} would land outside the download folder; remove or rename that object")
    return rel


def download_tree(client, bucket: str, prefix: str, local_dir: Path) -> list[Path]:
    """Fetch every object under prefix into local_dir (same relative paths); returns all their local paths.

    A prefix that names one object puts it at local_dir/<its name>. Files already present
    with the same size and sha256 are not downloaded again; others arrive through a
    temporary name, so a half-written file never looks complete.
    """
    prefix = _check_prefix(prefix)
    local_dir = Path(local_dir)
    endpoint = endpoint_of(client)
    with wrap_errors("list", bucket=bucket, key=prefix, endpoint=endpoint):
        objects = [(o["Key"], o["Size"]) for o in _list(client, bucket, prefix)]
    wanted = [(key, size, rel) for key, size in objects if (rel := _safe_relative(key, prefix)) is not None
              and not key.endswith("/")]

    def fetch(key: str, size: int, rel: str) -> Path:
        dest = local_dir / rel
        with wrap_errors("download", bucket=bucket, key=key, endpoint=endpoint):
            if dest.is_file() and dest.stat().st_size == size:
                remote_sha = (_head(client, bucket, key) or {}).get("Metadata", {}).get(SHA256_META)
                if remote_sha and remote_sha == file_sha256(dest):
                    return dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            os.close(fd)
            try:
                client.download_file(bucket, key, tmp)
                os.replace(tmp, dest)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return dest

    if len(wanted) <= 1:
        return [fetch(*w) for w in wanted]
    with ThreadPoolExecutor(max_workers=min(8, len(wanted)), thread_name_prefix="medialib-download") as pool:
        return list(pool.map(lambda w: fetch(*w), wanted))


def archive_original(client, opts: StorageOptions, path: Path, lecture_id: str, sha256: str) -> str:
    """Keep the original in the archive bucket at originals/<lecture-id>/<sha256><ext>; idempotent.

    sha256 is the caller's digest of path (not recomputed: originals are several GB).
    """
    from medialib.ids import check_lecture_id

    check_lecture_id(lecture_id)
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise InputError(f"{sha256!r}: not a sha256 hex digest; hash the original with medialib.ids.file_sha256")
    path = Path(path)
    key = keys.original(lecture_id, sha256, path.suffix)
    if object_sha256(client, opts.archive_bucket, key) == sha256:
        log.info("%s already archived as %s", path.name, key)
        return key
    with wrap_errors("archive to", bucket=opts.archive_bucket, key=key, endpoint=endpoint_of(client)):
        size = _put_file(client, opts.archive_bucket, key, path, sha256,
                         {"lecture-id": lecture_id, "original-name": quote(path.name)}, _transfer_config(opts))
    log.info("archived %s (%d bytes) as %s", path.name, size, key)
    return key


def public_url(opts: StorageOptions, key: str) -> str:
    """Where learners fetch key: public_base_url, else <endpoint>/<publish bucket>."""
    base = opts.public_base_url.rstrip("/") or f"{opts.endpoint_url.rstrip('/')}/{opts.publish_bucket}"
    return f"{base}/{quote(key.lstrip('/'), safe='/')}"
