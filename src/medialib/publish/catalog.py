"""catalog.json: every published lecture, updated with conditional writes so concurrent publishes never lose an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

from botocore.exceptions import (
    ClientError,
)

from medialib import keys
from medialib.config import StorageOptions
from medialib.errors import InputError, TransientError
from medialib.storage.errors import (
    endpoint_of,
    error_code,
    http_status,
    is_missing,
    wrap_errors,
)
from medialib.storage.s3 import SHA256_META
from medialib.storage.serving import (
    UNSUPPORTED_CODES,
    cache_control_for,
    content_type_for,
)

log = logging.getLogger(__name__)


CATALOG_KEY = keys.CATALOG


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
    with wrap_errors("read the catalog in", bucket=bucket, key=CATALOG_KEY, endpoint=endpoint_of(client)):
        try:
            obj = client.get_object(Bucket=bucket, Key=CATALOG_KEY)
        except ClientError as e:
            if is_missing(e):
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
    endpoint = endpoint_of(client)
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
                if error_code(e) in ("PreconditionFailed", "ConditionalRequestConflict") or http_status(e) in (409, 412):
                    log.info("catalog.json changed while updating it; reading it again")
                    continue
                if error_code(e) in UNSUPPORTED_CODES:
                    client.put_object(Bucket=bucket, Key=CATALOG_KEY, Body=body,
                                      ContentType=content_type_for(CATALOG_KEY),
                                      CacheControl=cache_control_for(CATALOG_KEY),
                                      Metadata={SHA256_META: hashlib.sha256(body).hexdigest()})
                    return entries
                raise
    raise TransientError(f"s3://{bucket}/{CATALOG_KEY} at {endpoint}: kept changing while being updated; retry")
