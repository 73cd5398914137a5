"""Files every learner page shares (hls.js, the player's and the catalog's scripts and styles).

Published once under a content-hashed key, `assets/<sha256-12>/<name>`, so a learner's
browser caches them across lectures for good (the key changes when the bytes do), and
stored gzip-compressed with `Content-Encoding: gzip`: hls.min.js is 624 KB as is, 190 KB
on the wire. Bundles reference them by a relative URL (`../../assets/...` from
`lectures/<id>/index.html`); a bundle laid out alone (tests, a local copy) keeps copies
beside its index.html instead.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path, PurePosixPath

from medialib import keys
from medialib.storage.s3 import object_sha256, put_bytes

# Text compresses well; images and media are compressed already.
COMPRESSED_SUFFIXES = frozenset({".js", ".css", ".json", ".svg", ".txt", ".html"})


@cache
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_key(path: Path) -> str:
    """assets/<sha256-12>/<name>: a content-hashed key, cached for good and shared by every page."""
    path = Path(path)
    return f"{keys.ASSETS}/{_digest(path, path.stat().st_mtime_ns)}/{path.name}"


def asset_urls(paths: Iterable[Path], *, up: int = 0) -> dict[str, str]:
    """{name: URL} for pages `up` folders below the bucket root (a bundle's index.html: up=2)."""
    return {Path(p).name: "../" * up + asset_key(Path(p)) for p in paths}


def stored_body(path: Path) -> tuple[bytes, str | None]:
    """(bytes to store, Content-Encoding): gzip for text, deterministic (no name, no time) so a re-put is identical."""
    data = Path(path).read_bytes()
    if PurePosixPath(path.name).suffix.lower() in COMPRESSED_SUFFIXES:
        return gzip.compress(data, compresslevel=9, mtime=0), "gzip"
    return data, None


def publish_assets(client, bucket: str, paths: Iterable[Path]) -> dict[str, str]:
    """Store each file once under its asset key (before any page names it); returns {name: key}.

    A key already holding these very bytes (its stored sha256) is not sent again.
    """
    out = {}
    for path in map(Path, paths):
        key = asset_key(path)
        out[path.name] = key
        body, encoding = stored_body(path)
        if object_sha256(client, bucket, key) != hashlib.sha256(body).hexdigest():
            put_bytes(client, bucket, key, body, content_encoding=encoding)
    return out
