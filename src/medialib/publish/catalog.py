"""catalog.json: every published lecture, updated with conditional writes so concurrent publishes never lose an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

from botocore.exceptions import (
    ClientError,
)

from medialib import keys
from medialib.config import StorageOptions
from medialib.errors import InputError, NotFoundError, TransientError
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


def set_listed(client, opts: StorageOptions, lecture_id: str, listed: bool) -> dict:
    """Mark a catalog entry unlisted (kept in catalog.json, off the page and the search) or listed again."""
    for old in read_catalog(client, opts):
        if old.get("id") == lecture_id:
            entry = {k: v for k, v in old.items() if k != "unlisted"}
            if not listed:
                entry["unlisted"] = True
            update_catalog(client, opts, entry)
            return entry
    raise NotFoundError(f"{lecture_id}: not in s3://{opts.publish_bucket}/{CATALOG_KEY}")


def remove_entry(client, opts: StorageOptions, lecture_id: str) -> bool:
    """Drop a lecture from catalog.json (conditional write, like update_catalog); False if it was not there."""
    bucket = opts.publish_bucket
    for _ in range(5):
        entries, etag = _read_catalog(client, opts)
        kept = [e for e in entries if e.get("id") != lecture_id]
        if len(kept) == len(entries):
            return False
        body = json.dumps(kept, ensure_ascii=False, indent=1).encode("utf-8")
        with wrap_errors("write the catalog in", bucket=bucket, key=CATALOG_KEY, endpoint=endpoint_of(client)):
            try:
                client.put_object(Bucket=bucket, Key=CATALOG_KEY, Body=body, ContentType=content_type_for(CATALOG_KEY),
                                  CacheControl=cache_control_for(CATALOG_KEY),
                                  Metadata={SHA256_META: hashlib.sha256(body).hexdigest()},
                                  **({"IfMatch": etag} if etag else {}))
                return True
            except ClientError as e:
                if error_code(e) in ("PreconditionFailed", "ConditionalRequestConflict") or http_status(e) in (409, 412):
                    continue
                raise
    raise TransientError(f"s3://{bucket}/{CATALOG_KEY}: kept changing while being updated; retry")


_REBUILD = threading.Lock()


def listed_entries(client, opts: StorageOptions, entries: list[dict]) -> list[dict]:
    """The entries learners may see: not unlisted, and their master playlist is live in the bucket."""
    out = []
    for e in entries:
        if e.get("unlisted"):
            continue
        master = e.get("master") or f"{keys.bundle_prefix(str(e['id']))}/master.m3u8"
        with wrap_errors("check", bucket=opts.publish_bucket, key=master, endpoint=endpoint_of(client)):
            try:
                client.head_object(Bucket=opts.publish_bucket, Key=master)
            except ClientError as err:
                if is_missing(err):
                    log.info("%s: master playlist not live yet; not listed", e.get("id"))
                    continue
                raise
        out.append(e)
    return out


def rebuild_catalog_site(client, opts: StorageOptions, *, attempts: int = 3) -> dict:
    """Rebuild search/ and index.html from catalog.json: index files first, entry files, then index.html last.

    Serialized in this process by a lock; across workers, a rebuild that finds catalog.json
    changed while it ran builds again, so the last one to finish has seen every entry.
    Returns {"listed": n, "records": {lang: n}}.
    """
    from medialib.publish.assets import publish_assets
    from medialib.publish.catalog_page import catalog_assets, render_catalog_page
    from medialib.publish.search import IndexedLecture, build_search_index, index_files, is_hashed, scratch_dir

    bucket = opts.publish_bucket
    with _REBUILD:
        for _ in range(attempts):
            entries, etag = _read_catalog(client, opts)
            listed = listed_entries(client, opts, entries)
            lectures = []
            for e in listed:
                key = f"{keys.bundle_prefix(str(e['id']))}/{e.get('transcript') or 'transcript.json'}"
                with wrap_errors("download", bucket=bucket, key=key, endpoint=endpoint_of(client)):
                    try:
                        doc = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
                    except ClientError as err:
                        if not is_missing(err):
                            raise
                        doc = {}
                lectures.append(IndexedLecture(e, doc if isinstance(doc, dict) else {}))
            before = _keys_under(client, bucket, f"{keys.SEARCH}/")
            with tempfile.TemporaryDirectory(prefix="medialib-search-", dir=scratch_dir()) as tmp:
                out = Path(tmp) / "search"
                records = build_search_index(lectures, out)
                written = set()
                for rel in index_files(out):
                    key = f"{keys.SEARCH}/{rel}"
                    written.add(key)
                    # Chunks are named by their content: one already there holds these bytes. A
                    # 100-lecture index is ~20,000 chunks; a publish adds or changes a few hundred.
                    if not (is_hashed(rel) and key in before):
                        _put(client, bucket, key, (out / rel).read_bytes())
            assets = publish_assets(client, bucket, catalog_assets())
            page = render_catalog_page(listed, search_languages=records, assets=assets)
            _put(client, bucket, keys.CATALOG_PAGE, page.encode("utf-8"))
            # Chunks no entry file names any more go once the new entry files and page are up.
            _delete_keys(client, bucket, sorted(before - written))
            if _read_catalog(client, opts)[1] == etag:
                return {"listed": len(listed), "records": records}
            log.info("catalog.json changed during the rebuild; building again")
    return {"listed": len(listed), "records": records}


def _keys_under(client, bucket: str, prefix: str) -> set[str]:
    with wrap_errors("list", bucket=bucket, key=prefix, endpoint=endpoint_of(client)):
        return {o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", ())}


def _delete_keys(client, bucket: str, doomed: list[str]) -> None:
    for i in range(0, len(doomed), 1000):   # DeleteObjects takes at most 1,000 keys
        with wrap_errors("delete from", bucket=bucket, key=doomed[i], endpoint=endpoint_of(client)):
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed[i:i + 1000]],
                                                         "Quiet": True})


def _put(client, bucket: str, key: str, body: bytes) -> None:
    with wrap_errors("upload to", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type_for(key),
                          CacheControl=cache_control_for(key),
                          Metadata={SHA256_META: hashlib.sha256(body).hexdigest()})


def unlist_lecture(client, opts: StorageOptions, lecture_id: str) -> dict:
    """Off the catalog page and the search; the bundle stays playable by its URL. Returns the rebuild's figures."""
    set_listed(client, opts, lecture_id, False)
    return rebuild_catalog_site(client, opts)


def unpublish_lecture(client, opts: StorageOptions, lecture_id: str) -> int:
    """Remove the bundle from the publish bucket (the original and work/ stay in the archive); returns objects deleted.

    The catalog page and search are rebuilt without it first, then the master playlist goes
    (players stop starting it), then everything else under lectures/<id>/.
    """
    from medialib.ids import check_lecture_id

    check_lecture_id(lecture_id)
    bucket = opts.publish_bucket
    prefix = f"{keys.bundle_prefix(lecture_id)}/"
    known = remove_entry(client, opts, lecture_id)
    rebuild_catalog_site(client, opts)
    with wrap_errors("remove the bundle from", bucket=bucket, key=prefix, endpoint=endpoint_of(client)):
        found = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                 for o in page.get("Contents", ())]
        if not found and not known:
            raise NotFoundError(f"{lecture_id}: nothing published under s3://{bucket}/{prefix}")
        found.sort(key=lambda k: (not k.endswith("/master.m3u8"), k))
        for key in found:
            client.delete_object(Bucket=bucket, Key=key)
    return len(found)
