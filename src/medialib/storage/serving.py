"""How the buckets serve learners: buckets, public-read policy, CORS, content types and cache headers.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Iterable
from pathlib import PurePosixPath

from botocore.exceptions import (
    ClientError,
)

from medialib import keys
from medialib.config import StorageOptions
from medialib.errors import ConfigError
from medialib.storage.errors import (
    ACCESS_CODES,
    endpoint_of,
    error_code,
    http_status,
    wrap_errors,
)

log = logging.getLogger(__name__)


def public_read_policy(bucket: str) -> dict:
    """Anonymous GET of what learners fetch (keys.PUBLIC_READ); nothing else (no listing)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "MedialibPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/{pattern}" for pattern in keys.PUBLIC_READ],
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


def upload_cors_rules(origins: Iterable[str]) -> list[dict]:
    """The archive bucket's rule for staff browser uploads (presigned multipart, @uppy/aws-s3).

    The browser creates, sends parts of, lists, completes and aborts multipart uploads
    itself with presigned URLs (the signature is the authorisation; CORS only lets the
    page read the answers). It must read ETag: each part's ETag goes into the completion.
    """
    return [{
        "AllowedMethods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
        "AllowedOrigins": list(origins),
        "AllowedHeaders": ["Content-Type", "Content-Length"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3600,
    }]


def ensure_upload_cors(client, bucket: str, origins: Iterable[str]) -> None:
    """Put upload_cors_rules on bucket unless it has them; a store without CORS gets a warning."""
    origins = tuple(origins)
    with wrap_errors("set CORS on", bucket=bucket, endpoint=endpoint_of(client)):
        _put_cors(client, bucket, upload_cors_rules(origins),
                  done=f"CORS for browser uploads from {', '.join(origins)}",
                  failed="browser uploads fail until a CORS rule allows PUT/POST/GET/DELETE from the review app "
                         "and exposes ETag")


UNSUPPORTED_CODES = frozenset({"NotImplemented", "MethodNotAllowed", "501", "405", "UnsupportedOperation"})


def _ensure_bucket(client, bucket: str, region: str, endpoint: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as e:
        if http_status(e) != 404 and error_code(e) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict = {"Bucket": bucket}
    if region and region != "us-east-1":   # AWS wants the region spelled out everywhere else
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**kwargs)
        log.info("created bucket %s at %s", bucket, endpoint)
    except ClientError as e:
        if error_code(e) == "BucketAlreadyOwnedByYou":
            return   # another worker made it a moment ago
        if error_code(e) == "BucketAlreadyExists":
            raise ConfigError(f"bucket {bucket!r} at {endpoint} belongs to someone else; choose another name "
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
        log.info("bucket %s: public read on %s only", bucket, ", ".join(keys.PUBLIC_READ))
    except ClientError as e:
        if error_code(e) in UNSUPPORTED_CODES or error_code(e) in ACCESS_CODES:
            log.warning(
                "bucket %s at %s: could not set the public-read policy (%s); learners cannot fetch lectures "
                "until read access is granted another way (a CDN, a public bucket setting, or Block Public "
                "Access turned off). Set storage.manage_bucket_policy = false to stop trying.",
                bucket, endpoint, error_code(e))
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
    _put_cors(client, bucket, cors_rules(origins), done=f"CORS GET/HEAD from {', '.join(origins)}",
              failed="players on other sites cannot load lectures until a CORS rule allows GET/HEAD with Range")


def _put_cors(client, bucket: str, rules: list[dict], *, done: str, failed: str) -> None:
    """Put a bucket's CORS rules unless it has them already; a store without CORS (or the right) gets a warning."""
    try:
        current = client.get_bucket_cors(Bucket=bucket).get("CORSRules")
    except ClientError:
        current = None
    if current == rules:
        return
    try:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        log.info("bucket %s: %s", bucket, done)
    except ClientError as e:
        if error_code(e) in UNSUPPORTED_CODES or error_code(e) in ACCESS_CODES:
            log.warning("bucket %s at %s: could not set CORS (%s); %s", bucket, endpoint_of(client),
                        error_code(e), failed)


def ensure_buckets(client, opts: StorageOptions) -> None:
    """Create both buckets if missing; give the publish bucket its public-read policy and CORS rule.

    A provider without bucket policies (R2) or CORS gets a warning, not an error.
    """
    endpoint = endpoint_of(client) or opts.endpoint_url
    for bucket in (opts.archive_bucket, opts.publish_bucket):
        with wrap_errors("create", bucket=bucket, endpoint=endpoint):
            _ensure_bucket(client, bucket, opts.region, endpoint)
    if not opts.manage_bucket_policy:
        return
    with wrap_errors("set the policy of", bucket=opts.publish_bucket, endpoint=endpoint):
        _set_policy(client, opts.publish_bucket, endpoint)
        _set_cors(client, opts.publish_bucket, tuple(opts.cors_allowed_origins), endpoint)


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
    ".flac": "audio/flac",
}


_NO_CACHE_NAMES = frozenset({"manifest.json", keys.CATALOG, keys.CATALOG_PAGE, "pagefind-entry.json"})


# Published under a name that never changes content: media segments, init segments, posters.
_IMMUTABLE_SUFFIXES = frozenset({".ts", ".m4s", ".mp4", ".m4a", ".aac", ".jpg", ".jpeg", ".png", ".webp", ".wav", ".flac",
                                 ".pf_fragment", ".pf_index", ".pf_filter", ".pf_meta"})  # search chunks: hashed names


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
    if p.suffix.lower() in _IMMUTABLE_SUFFIXES or p.parts[0] == keys.ASSETS:   # assets/<sha256-12>/<name>
        return "public, max-age=31536000, immutable"
    return "public, max-age=300"
