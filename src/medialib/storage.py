"""Object storage over S3 (boto3): buckets, uploads that skip unchanged objects, bundle publishing.

Works with any S3 endpoint (AWS, Ceph RGW, SeaweedFS, R2). Every object medialib writes
carries its sha256 in the user metadata "sha256", so a re-run compares digests and sends
nothing that is already there.

Errors: every public function raises only medialib errors (see `wrap_errors`):
    TransientError   cannot connect, timeouts, 5xx, throttling (after boto3's own retries)
    InputError       missing bucket, access denied, unknown key, bad signature, unreadable file
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from .config import StorageOptions
from .errors import InputError, MedialibError, TransientError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]   # (done_bytes, total_bytes); called from upload threads

SHA256_META = "sha256"
CATALOG_KEY = "catalog.json"
_HASH_CHUNK = 4 << 20
_MB = 1 << 20


@dataclass(frozen=True)
class PublishReport:
    uploaded: tuple[str, ...]      # keys, in upload order
    skipped: tuple[str, ...]       # unchanged, not sent
    uploaded_bytes: int


# ---------------------------------------------------------------- errors


_TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequests",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "InternalServerError", "ServiceUnavailable", "OperationAborted",
    "500", "502", "503", "504",
})
_ACCESS_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"})
_UPLOAD_CODE_RE = re.compile(r"An error occurred \(([A-Za-z0-9.]+)\)")


def _where(bucket: str, key: str, endpoint: str) -> str:
    obj = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}" if bucket else "S3"
    return f"{obj} at {endpoint}" if endpoint else obj


def _client_error(code: str, status: int, message: str, action: str, bucket: str, key: str,
                  endpoint: str) -> MedialibError:
    where = _where(bucket, key, endpoint)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"{action} {where}: the server is busy or failing ({code}); retry later")
    if code == "NoSuchBucket":
        return InputError(f"{action} {where}: bucket {bucket!r} does not exist; check storage.archive_bucket and "
                          "storage.publish_bucket, or run `medialib storage up` to create the buckets")
    if code == "InvalidAccessKeyId":
        return InputError(f"{action} {where}: the server does not know the access key; "
                          "check storage.access_key_id for this endpoint")
    if code == "SignatureDoesNotMatch":
        return InputError(f"{action} {where}: the request signature was refused; "
                          "check storage.secret_access_key and storage.region")
    if code in _ACCESS_CODES:
        return InputError(f"{action} {where}: access denied; check the keys in storage.access_key_id/"
                          "secret_access_key and that they may use this bucket")
    if code in ("NoSuchKey", "404", "NotFound"):
        return InputError(f"{action} {where}: no such object")
    return InputError(f"{action} {where}: {code}: {message or 'refused'}")


@contextlib.contextmanager
def wrap_errors(action: str = "S3 request", *, bucket: str = "", key: str = "", endpoint: str = "") -> Iterator[None]:
    """Turn botocore/boto3 and local file errors into medialib's error tree (also a decorator).

    Connection errors, timeouts, 5xx and throttling become TransientError (the flows retry
    those); everything else is an InputError that names the bucket and endpoint.
    """
    try:
        yield
    except MedialibError:
        raise
    except ClientError as e:
        err = e.response.get("Error", {})
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        raise _client_error(str(err.get("Code", status)), status, str(err.get("Message", "")),
                            action, bucket, key, endpoint) from e
    except S3UploadFailedError as e:
        # boto3's upload_file folds the ClientError into a message; the cause still has the code.
        cause = e.__cause__ or e.__context__
        if isinstance(cause, ClientError):
            err = cause.response.get("Error", {})
            status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            raise _client_error(str(err.get("Code", status)), status, str(err.get("Message", "")),
                                action, bucket, key, endpoint) from e
        m = _UPLOAD_CODE_RE.search(str(e))
        code = m.group(1) if m else "UploadFailed"
        status = int(code) if code.isdigit() else 0
        raise _client_error(code, status, str(e), action, bucket, key, endpoint) from e
    except (NoCredentialsError, PartialCredentialsError) as e:
        raise InputError(f"{action} {_where(bucket, key, endpoint)}: no S3 credentials; set "
                         "storage.access_key_id and storage.secret_access_key (or AWS_* variables)") from e
    except (BotoConnectionError, HTTPClientError) as e:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
        raise TransientError(f"{action} {_where(bucket, key, endpoint)}: cannot reach the S3 server ({e}); "
                             "check storage.endpoint_url and that the server runs (`medialib storage status`)") from e
    except BotoCoreError as e:
        raise InputError(f"{action} {_where(bucket, key, endpoint)}: {e}") from e
    except OSError as e:
        name = e.filename or "local file"
        raise InputError(f"{name}: {e.strerror or e}; check the path and free disk space") from e


def _endpoint(client) -> str:
    return getattr(getattr(client, "meta", None), "endpoint_url", "") or ""


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _status(e: ClientError) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _is_missing(e: ClientError) -> bool:
    return _code(e) in ("404", "NoSuchKey", "NotFound") or (_status(e) == 404 and _code(e) != "NoSuchBucket")


# ---------------------------------------------------------------- client and buckets


def make_client(opts: StorageOptions):
    """A thread-safe boto3 S3 client for opts' endpoint: path-style, SigV4, bounded retries."""
    if not opts.endpoint_url:
        raise InputError("storage.endpoint_url is empty; call medialib.embedded.resolve_storage(settings) "
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


def public_read_policy(bucket: str) -> dict:
    """Anonymous GET of lectures/* and the catalog page and file; nothing else (no listing)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "MedialibPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/lectures/*",
                         f"arn:aws:s3:::{bucket}/index.html",
                         f"arn:aws:s3:::{bucket}/{CATALOG_KEY}"],
        }],
    }


def cors_rules(origins: Iterable[str]) -> list[dict]:
    """GET/HEAD from the given origins; Range allowed (players fetch byte ranges) and exposed back."""
    return [{
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedOrigins": list(origins),
        "AllowedHeaders": ["Range"],
        "ExposeHeaders": ["Content-Length", "Content-Range", "Accept-Ranges", "ETag"],
        "MaxAgeSeconds": 3600,
    }]


_UNSUPPORTED_CODES = frozenset({"NotImplemented", "MethodNotAllowed", "501", "405", "UnsupportedOperation"})


def _ensure_bucket(client, bucket: str, region: str, endpoint: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as e:
        if _status(e) != 404 and _code(e) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict = {"Bucket": bucket}
    if region and region != "us-east-1":   # AWS wants the region spelled out everywhere else
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**kwargs)
        log.info("created bucket %s at %s", bucket, endpoint)
    except ClientError as e:
        if _code(e) == "BucketAlreadyOwnedByYou":
            return   # another worker made it a moment ago
        if _code(e) == "BucketAlreadyExists":
            raise InputError(f"bucket {bucket!r} at {endpoint} belongs to someone else; choose another name "
                             "in storage.archive_bucket / storage.publish_bucket") from e
        raise


def _set_policy(client, bucket: str, endpoint: str) -> None:
    policy = public_read_policy(bucket)
    try:
        current = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except (ClientError, ValueError, KeyError):
        current = None
    if _same_policy(current, policy):
        return
    try:
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        log.info("bucket %s: public read on lectures/, index.html and %s", bucket, CATALOG_KEY)
    except ClientError as e:
        if _code(e) in _UNSUPPORTED_CODES or _code(e) in _ACCESS_CODES:
            log.warning(
                "bucket %s at %s: could not set the public-read policy (%s); learners cannot fetch lectures "
                "until read access is granted another way (a CDN, a public bucket setting, or Block Public "
                "Access turned off). Set storage.manage_bucket_policy = false to stop trying.",
                bucket, endpoint, _code(e))
            return
        raise


def _same_policy(a: dict | None, b: dict) -> bool:
    """Policies compare equal after the normalisation servers apply (a single Action becomes a string)."""
    def norm(p):
        out = []
        for st in p.get("Statement", []):
            st = dict(st)
            for k in ("Action", "Resource"):
                v = st.get(k)
                st[k] = sorted([v] if isinstance(v, str) else v or [])
            out.append(json.dumps(st, sort_keys=True))
        return sorted(out)
    return a is not None and norm(a) == norm(b)


def _set_cors(client, bucket: str, origins: tuple[str, ...], endpoint: str) -> None:
    if not origins:
        return
    rules = cors_rules(origins)
    try:
        current = client.get_bucket_cors(Bucket=bucket).get("CORSRules")
    except ClientError:
        current = None
    if current == rules:
        return
    try:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        log.info("bucket %s: CORS GET/HEAD from %s", bucket, ", ".join(origins))
    except ClientError as e:
        if _code(e) in _UNSUPPORTED_CODES or _code(e) in _ACCESS_CODES:
            log.warning("bucket %s at %s: could not set CORS (%s); players on other sites cannot load lectures "
                        "until a CORS rule allows GET/HEAD with Range", bucket, endpoint, _code(e))
            return
        raise


def ensure_buckets(client, opts: StorageOptions) -> None:
    """Create both buckets if missing; give the publish bucket its public-read policy and CORS rule.

    A provider without bucket policies (R2) or CORS gets a warning, not an error.
    """
    endpoint = _endpoint(client) or opts.endpoint_url
    for bucket in (opts.archive_bucket, opts.publish_bucket):
        with wrap_errors("create", bucket=bucket, endpoint=endpoint):
            _ensure_bucket(client, bucket, opts.region, endpoint)
    if not opts.manage_bucket_policy:
        return
    with wrap_errors("set the policy of", bucket=opts.publish_bucket, endpoint=endpoint):
        _set_policy(client, opts.publish_bucket, endpoint)
        _set_cors(client, opts.publish_bucket, tuple(opts.cors_allowed_origins), endpoint)


# ---------------------------------------------------------------- content types and caching


_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",            # mimetypes says text/vnd.trolltech.linguist on Debian
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
}
_NO_CACHE_NAMES = frozenset({"manifest.json", CATALOG_KEY, "index.html"})
# Published under a name that never changes content: media segments, init segments, posters.
_IMMUTABLE_SUFFIXES = frozenset({".ts", ".m4s", ".mp4", ".m4a", ".aac", ".jpg", ".jpeg", ".png", ".webp", ".wav"})


def content_type_for(key: str) -> str:
    """The Content-Type players and browsers need; explicit for HLS types, mimetypes otherwise."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(PurePosixPath(key).name, strict=False)
    return guessed or "application/octet-stream"


def cache_control_for(key: str) -> str:
    """Playlists and pages must be re-fetched (they switch versions); segments never change."""
    p = PurePosixPath(key)
    if p.suffix.lower() == ".m3u8" or p.name in _NO_CACHE_NAMES:
        return "no-cache"
    if p.suffix.lower() in _IMMUTABLE_SUFFIXES:
        return "public, max-age=31536000, immutable"
    return "public, max-age=300"


# ---------------------------------------------------------------- single objects


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_CHUNK):
            h.update(block)
    return h.hexdigest()


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
    with wrap_errors("upload to", bucket=bucket, key=key, endpoint=_endpoint(client)):
        digest = sha256 or _file_sha256(path)
        return _put_file(client, bucket, key, path, digest, metadata, _transfer_config(opts))


def put_bytes(client, bucket: str, key: str, data: bytes, *, content_type: str | None = None) -> None:
    """Write a small object in one PUT (atomic: readers see the old or the new bytes)."""
    with wrap_errors("upload to", bucket=bucket, key=key, endpoint=_endpoint(client)):
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type or content_type_for(key),
                          CacheControl=cache_control_for(key),
                          Metadata={SHA256_META: hashlib.sha256(data).hexdigest()})


def get_bytes(client, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None if there is no such key."""
    with wrap_errors("download", bucket=bucket, key=key, endpoint=_endpoint(client)):
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            if _is_missing(e):
                return None
            raise


def _head(client, bucket: str, key: str) -> dict | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if _is_missing(e):
            return None
        raise


def object_sha256(client, bucket: str, key: str) -> str | None:
    """The sha256 medialib stored with the object; None if the object (or the digest) is missing."""
    with wrap_errors("read metadata of", bucket=bucket, key=key, endpoint=_endpoint(client)):
        head = _head(client, bucket, key)
    return (head or {}).get("Metadata", {}).get(SHA256_META)


def _list(client, bucket: str, prefix: str) -> Iterator[dict]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


# ---------------------------------------------------------------- trees and bundles


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
        self.endpoint = _endpoint(client) or opts.endpoint_url
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
            digest = _file_sha256(path)
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
                progress: Progress | None = None) -> PublishReport:
    """Upload every file under local_dir to prefix/<relative path>, in parallel, skipping unchanged ones."""
    prefix = _check_prefix(prefix)
    files = _local_files(local_dir)
    up = _Uploader(client, opts, bucket, prefix, sum(p.stat().st_size for _, p in files), progress)
    up.phase([(_join(prefix, rel), p) for rel, p in files])
    return up.report()


def _publish_phase(rel: str) -> int:
    """0 media and everything else, 1 media/subtitle playlists, 2 master.m3u8, 3 manifest.json, 4 index.html."""
    name = PurePosixPath(rel).name
    if name == "index.html":
        return 4
    if name == "manifest.json":
        return 3
    if name == "master.m3u8":
        return 2
    if name.endswith(".m3u8"):
        return 1
    return 0


def publish_bundle(client, opts: StorageOptions, local_dir: Path, prefix: str, *,
                   progress: Progress | None = None) -> PublishReport:
    """Publish a bundle so no reader ever sees a playlist pointing at a missing object.

    A PUT is atomic, so the master playlist is the switch: segments, subtitles and assets
    first (in parallel), then the media/subtitle playlists, then master.m3u8, then
    manifest.json and index.html. Unchanged objects are skipped, so re-publishing the
    same bundle sends 0 bytes. A failure stops before the next phase starts.
    """
    prefix = _check_prefix(prefix)
    if not prefix:
        raise InputError("publish_bundle needs a prefix such as 'lectures/<lecture-id>', not the bucket root")
    files = _local_files(local_dir)
    up = _Uploader(client, opts, opts.publish_bucket, prefix, sum(p.stat().st_size for _, p in files), progress)
    phases: dict[int, list[tuple[str, Path]]] = {}
    for rel, p in files:
        phases.setdefault(_publish_phase(rel), []).append((_join(prefix, rel), p))
    for n in sorted(phases):
        # The later phases are one or a few small files: sequential keeps their order exact.
        if n >= 2:
            for item in phases[n]:
                up.phase([item])
        else:
            up.phase(phases[n])
    report = up.report()
    log.info("published %s: %d uploaded (%d bytes), %d unchanged", prefix, len(report.uploaded),
             report.uploaded_bytes, len(report.skipped))
    return report


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
    endpoint = _endpoint(client)
    with wrap_errors("list", bucket=bucket, key=prefix, endpoint=endpoint):
        objects = [(o["Key"], o["Size"]) for o in _list(client, bucket, prefix)]
    wanted = [(key, size, rel) for key, size in objects if (rel := _safe_relative(key, prefix)) is not None
              and not key.endswith("/")]

    def fetch(key: str, size: int, rel: str) -> Path:
        dest = local_dir / rel
        with wrap_errors("download", bucket=bucket, key=key, endpoint=endpoint):
            if dest.is_file() and dest.stat().st_size == size:
                remote_sha = (_head(client, bucket, key) or {}).get("Metadata", {}).get(SHA256_META)
                if remote_sha and remote_sha == _file_sha256(dest):
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
    from .ids import check_lecture_id

    check_lecture_id(lecture_id)
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise InputError(f"{sha256!r}: not a sha256 hex digest; hash the original with medialib.ids.file_sha256")
    path = Path(path)
    key = f"originals/{lecture_id}/{sha256}{path.suffix.lower()}"
    if object_sha256(client, opts.archive_bucket, key) == sha256:
        log.info("%s already archived as %s", path.name, key)
        return key
    with wrap_errors("archive to", bucket=opts.archive_bucket, key=key, endpoint=_endpoint(client)):
        size = _put_file(client, opts.archive_bucket, key, path, sha256,
                         {"lecture-id": lecture_id, "original-name": quote(path.name)}, _transfer_config(opts))
    log.info("archived %s (%d bytes) as %s", path.name, size, key)
    return key


# ---------------------------------------------------------------- catalog


def _published_sort_key(entry: dict) -> tuple[datetime, str]:
    raw = str(entry.get("published_at") or "")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    except ValueError:
        when = datetime.min.replace(tzinfo=timezone.utc)
    return when, str(entry.get("id", ""))


def read_catalog(client, opts: StorageOptions) -> list[dict]:
    """The lectures in catalog.json (newest first); [] when nothing is published yet."""
    return _read_catalog(client, opts)[0]


def _read_catalog(client, opts: StorageOptions) -> tuple[list[dict], str | None]:
    bucket = opts.publish_bucket
    with wrap_errors("read the catalog in", bucket=bucket, key=CATALOG_KEY, endpoint=_endpoint(client)):
        try:
            obj = client.get_object(Bucket=bucket, Key=CATALOG_KEY)
        except ClientError as e:
            if _is_missing(e):
                return [], None
            raise
        data, etag = obj["Body"].read(), obj.get("ETag")
    try:
        entries = json.loads(data)
    except ValueError:
        entries = None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"s3://{bucket}/{CATALOG_KEY}: not a JSON list of lecture entries; "
                         "fix or delete it, then publish again")
    return entries, etag


def update_catalog(client, opts: StorageOptions, entry: dict) -> list[dict]:
    """Add or replace entry (by its "id") in catalog.json, newest "published_at" first; returns the list.

    Read-modify-write guarded by If-Match where the server supports conditional PUTs, so
    two lectures published at once do not drop each other.
    """
    if not isinstance(entry, dict) or not entry.get("id") or not entry.get("published_at"):
        raise InputError("a catalog entry needs an 'id' and a 'published_at' (ISO 8601 time)")
    bucket = opts.publish_bucket
    endpoint = _endpoint(client)
    for _ in range(5):
        entries, etag = _read_catalog(client, opts)
        entries = [e for e in entries if e.get("id") != entry["id"]] + [entry]
        entries.sort(key=_published_sort_key, reverse=True)
        body = json.dumps(entries, ensure_ascii=False, indent=1).encode("utf-8")
        cond = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        with wrap_errors("write the catalog in", bucket=bucket, key=CATALOG_KEY, endpoint=endpoint):
            try:
                client.put_object(Bucket=bucket, Key=CATALOG_KEY, Body=body, ContentType=content_type_for(CATALOG_KEY),
                                  CacheControl=cache_control_for(CATALOG_KEY),
                                  Metadata={SHA256_META: hashlib.sha256(body).hexdigest()}, **cond)
                return entries
            except ClientError as e:
                if _code(e) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(e) in (409, 412):
                    log.info("catalog.json changed while updating it; reading it again")
                    continue
                if _code(e) in _UNSUPPORTED_CODES:
                    client.put_object(Bucket=bucket, Key=CATALOG_KEY, Body=body,
                                      ContentType=content_type_for(CATALOG_KEY),
                                      CacheControl=cache_control_for(CATALOG_KEY),
                                      Metadata={SHA256_META: hashlib.sha256(body).hexdigest()})
                    return entries
                raise
    raise TransientError(f"s3://{bucket}/{CATALOG_KEY} at {endpoint}: kept changing while being updated; retry")


def public_url(opts: StorageOptions, key: str) -> str:
    """Where learners fetch key: public_base_url, else <endpoint>/<publish bucket>."""
    base = opts.public_base_url.rstrip("/") or f"{opts.endpoint_url.rstrip('/')}/{opts.publish_bucket}"
    return f"{base}/{quote(key.lstrip('/'), safe='/')}"
