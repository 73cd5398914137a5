"""The one door from the review app to the library's tracks, versions, workflow, codecs, QC and publishing.

Every call the app (web and CLI) makes to those library parts goes through this module,
so when they land they are rewired here and nowhere else. While they are being built in
parallel, the parts marked **STUB** below are the minimum the app needs, written to
the shared contract (/work/review-plan.md); each names the library function that
replaces it:

    STUB                         replace with
    keys (tracks/, peaks.json)   medialib.keys.track_version / track_versions_prefix / track_live / peaks
    ConflictError, PermissionDenied
                                 medialib.errors.ConflictError / PermissionDenied
    TrackVersion, list/load/latest_version, create_version, VersionConflict,
    ensure_machine_version, live, set_live
                                 medialib.review.store (...; record_machine_version; live/set_live)
    apply_provenance             medialib.review.edits.apply_provenance
    next_state, InvalidTransition
                                 medialib.review.workflow
    decode_subtitles, encode_subtitles
                                 medialib.subtitles.codec (SubtitleFileError with .line)
    check_cues, qc_rules         medialib.subtitles.qc.check_track / qc_rules_json
                                 (+ SubtitleRules.for_language)
    publish_subtitles            medialib.pipeline.publish_subtitles (subtitles only, 0 video bytes);
                                 the stub re-runs publish_stage with the live version's track,
                                 which skips unchanged segments by digest but re-packages the bundle

Not stubs (library code that exists today): the catalog, publish records, S3 I/O.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from botocore.exceptions import ClientError

from medialib import storage
from medialib.config import StorageOptions, SubtitleRules
from medialib.errors import InputError, NotFoundError
from medialib.storage.errors import endpoint_of, error_code, http_status, wrap_errors
from medialib.subtitles import Track, cue_from_dict, track_from_dict, track_to_dict

log = logging.getLogger(__name__)

ROLES = ("translator", "reviewer", "staff")
STATES = ("machine", "draft", "in_review", "approved", "published")
RISKY = 0.5     # a cue at or above this risk counts as risky in the queue


# --- errors (STUB: medialib.errors.ConflictError / PermissionDenied, versions helper) -----------------

class ConflictError(InputError):
    """STUB for medialib.errors.ConflictError: the request lost a race or is based on an old version."""

    http_status = 409


class PermissionDenied(InputError):
    """STUB for medialib.errors.PermissionDenied: this user's role or history does not allow the action."""

    http_status = 403


class InvalidTransition(ConflictError):
    """STUB for medialib.review.workflow.InvalidTransition."""


# --- keys (STUB: medialib.keys) ---------------------------------------------------------------------------

def _versions_prefix(lecture_id: str, lang: str) -> str:
    return f"tracks/{lecture_id}/{lang}/"


def _version_key(lecture_id: str, lang: str, n: int) -> str:
    return f"tracks/{lecture_id}/{lang}/v{n}.json"


def _live_key(lecture_id: str, lang: str) -> str:
    return f"tracks/{lecture_id}/{lang}/live.json"


def _peaks_key(lecture_id: str) -> str:
    return f"tracks/{lecture_id}/peaks.json"


# --- storage access ---------------------------------------------------------------------------------------

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def client_for(opts: StorageOptions):
    """One boto3 client per endpoint and key, shared by the app's threads (boto3 clients are thread-safe)."""
    ident = f"{opts.endpoint_url}|{opts.access_key_id}"
    with _clients_lock:
        if ident not in _clients:
            _clients[ident] = storage.make_client(opts)
        return _clients[ident]


# --- lectures: catalog and publish records (library code that exists) ------------------------------------

def list_lectures(opts: StorageOptions) -> list[dict]:
    """The published lectures (catalog.json entries, newest first)."""
    from medialib.publish.catalog import read_catalog

    return read_catalog(client_for(opts), opts)


@functools.lru_cache(maxsize=256)
def _record_cached(lecture_id: str, opts: StorageOptions, _epoch: int):
    from medialib.pipeline.stages import load_publish_record

    return load_publish_record(lecture_id, opts)


def publish_record(lecture_id: str, opts: StorageOptions):
    """The lecture's PublishRecord (cached a minute: it changes only when the lecture is processed again)."""
    import time

    return _record_cached(lecture_id, opts, int(time.time() // 60))


def lecture_summary(lecture_id: str, opts: StorageOptions) -> dict:
    """{id, title, master_url, duration_ms, languages, source_language} for the editor."""
    from medialib.storage.s3 import public_url

    rec = publish_record(lecture_id, opts)
    ing = rec.lecture.ingested
    return {"id": lecture_id, "title": rec.lecture.request.title,
            "master_url": public_url(opts, f"lectures/{lecture_id}/master.m3u8"),
            "duration_ms": int(round(ing.info.duration_s * 1000)),
            "languages": [t.language for t in rec.tracks],
            "source_language": rec.tracks[0].language if rec.tracks else None}


def machine_track(lecture_id: str, lang: str, opts: StorageOptions) -> Track | None:
    """The pipeline's track for lang (from the publish record), None when the lecture has none."""
    rec = publish_record(lecture_id, opts)
    tr = next((t for t in rec.tracks if t.language == lang), None)
    if tr is None:
        return None
    data = storage.get_bytes(client_for(opts), opts.archive_bucket, tr.key)
    if data is None:
        raise NotFoundError(f"{tr.key}: the {lang} track of {lecture_id} is missing from the archive bucket; "
                            "process the lecture again")
    return track_from_dict(json.loads(data))


# --- versions (STUB: medialib.review.store) ----------------------------------------------------------------

@dataclass(frozen=True)
class TrackVersion:
    """One immutable version of a track: tracks/<lecture-id>/<lang>/v<N>.json."""

    lecture_id: str
    language: str
    number: int
    base: int | None
    kind: str            # machine | human
    author: str
    created_at: str      # ISO 8601 UTC
    message: str
    track: Track | None  # None in listings (metadata only)

    def meta(self) -> dict:
        return {"number": self.number, "base": self.base, "kind": self.kind, "author": self.author,
                "created_at": self.created_at, "message": self.message}


class VersionConflict(ConflictError):
    """STUB for medialib.review.store.VersionConflict: someone saved first; `.latest` says who, what, when."""

    def __init__(self, message: str, latest: TrackVersion | None):
        super().__init__(message)
        self.latest = latest


def _version_from_json(lecture_id: str, lang: str, data: bytes, *, with_track: bool = True) -> TrackVersion:
    d = json.loads(data)
    return TrackVersion(lecture_id=lecture_id, language=lang, number=int(d["number"]), base=d.get("base"),
                        kind=d.get("kind", "human"), author=d.get("author", ""), created_at=d.get("created_at", ""),
                        message=d.get("message", ""), track=track_from_dict(d["track"]) if with_track else None)


def version_numbers(opts: StorageOptions, lecture_id: str, lang: str) -> list[int]:
    client = client_for(opts)
    prefix = _versions_prefix(lecture_id, lang)
    out = []
    with wrap_errors("list", bucket=opts.archive_bucket, key=prefix, endpoint=endpoint_of(client)):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=opts.archive_bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                if m := re.fullmatch(r"v(\d+)\.json", o["Key"][len(prefix):]):
                    out.append(int(m.group(1)))
    return sorted(out)


class _VersionCache:
    """Recently read or written versions. Versions are immutable, so a cached one is never stale;
    keeping the one just saved means the next save's base is not read back from storage."""

    def __init__(self, size: int):
        from collections import OrderedDict

        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            v = self.items.get(key)
            if v is not None:
                self.items.move_to_end(key)
            return v

    def put(self, key, v: TrackVersion) -> None:
        with self.lock:
            self.items[key] = v
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_versions = _VersionCache(256)


def _cache_key(opts: StorageOptions, lecture_id: str, lang: str, n: int) -> tuple:
    return (opts.endpoint_url, opts.archive_bucket, lecture_id, lang, n)


def load_version(opts: StorageOptions, lecture_id: str, lang: str, n: int) -> TrackVersion:
    key = _cache_key(opts, lecture_id, lang, n)
    if (v := _versions.get(key)) is not None:
        return v
    data = storage.get_bytes(client_for(opts), opts.archive_bucket, _version_key(lecture_id, lang, n))
    if data is None:
        raise NotFoundError(f"{lecture_id} {lang}: no version {n}; list them with GET .../versions")
    v = _version_from_json(lecture_id, lang, data)
    _versions.put(key, v)
    return v


@functools.lru_cache(maxsize=20_000)
def _version_meta(opts: StorageOptions, lecture_id: str, lang: str, n: int) -> TrackVersion:
    return replace(load_version(opts, lecture_id, lang, n), track=None)


def list_versions(opts: StorageOptions, lecture_id: str, lang: str) -> list[TrackVersion]:
    """Every version, oldest first, without their cues."""
    return [_version_meta(opts, lecture_id, lang, n) for n in version_numbers(opts, lecture_id, lang)]


def latest_version(opts: StorageOptions, lecture_id: str, lang: str) -> TrackVersion | None:
    numbers = version_numbers(opts, lecture_id, lang)
    return load_version(opts, lecture_id, lang, numbers[-1]) if numbers else None


def _put_if_absent(client, bucket: str, key: str, body: bytes) -> bool:
    """STUB for medialib.storage.s3.put_bytes_if_absent: False when the key exists (412)."""
    with wrap_errors("write", bucket=bucket, key=key, endpoint=endpoint_of(client)):
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json",
                              IfNoneMatch="*", Metadata={"sha256": hashlib.sha256(body).hexdigest()})
        except ClientError as e:
            if http_status(e) == 412 or error_code(e) in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
    return True


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def create_version(opts: StorageOptions, lecture_id: str, lang: str, track: Track, *, base: int | None,
                   author: str, kind: str = "human", message: str = "") -> TrackVersion:
    """Write v<base+1> only if nobody wrote it first (If-None-Match: *); else VersionConflict with the newest."""
    client = client_for(opts)
    number = (base or 0) + 1
    if base and _versions.get(_cache_key(opts, lecture_id, lang, base)) is None \
            and base not in version_numbers(opts, lecture_id, lang):
        raise InputError(f"{lecture_id} {lang}: base version {base} does not exist; reload the track")
    created = _now_iso()
    body = json.dumps({"schema": 1, "lecture_id": lecture_id, "language": lang, "number": number,
                       "base": base, "kind": kind, "author": author, "created_at": created, "message": message,
                       "track": track_to_dict(track)}, ensure_ascii=False).encode()
    if _put_if_absent(client, opts.archive_bucket, _version_key(lecture_id, lang, number), body):
        v = TrackVersion(lecture_id, lang, number, base, kind, author, created, message, track)
        _versions.put(_cache_key(opts, lecture_id, lang, number), v)
        return v
    latest = latest_version(opts, lecture_id, lang)
    who = f"{latest.author} saved version {latest.number} at {latest.created_at}" if latest else "someone saved first"
    raise VersionConflict(f"{lecture_id} {lang}: your text is based on version {base or 0}, but {who}; "
                          "compare with the newer version, then save again (or force)", latest)


def ensure_machine_version(opts: StorageOptions, lecture_id: str, lang: str) -> TrackVersion | None:
    """STUB for medialib.review.store.record_machine_version (which the pipeline calls on publish).

    Lectures published before versioning have no v1: record the pipeline's track as v1
    (kind machine) the first time the app opens it. A race here is harmless (412: done).
    """
    numbers = version_numbers(opts, lecture_id, lang)
    if numbers:
        return None
    track = machine_track(lecture_id, lang, opts)
    if track is None:
        return None
    try:
        return create_version(opts, lecture_id, lang, track, base=None, author=track.model or "machine",
                              kind="machine")
    except VersionConflict:
        return None


def machine_version_number(versions: list[TrackVersion]) -> int | None:
    return max((v.number for v in versions if v.kind == "machine"), default=None)


def live(opts: StorageOptions, lecture_id: str, lang: str) -> dict | None:
    data = storage.get_bytes(client_for(opts), opts.archive_bucket, _live_key(lecture_id, lang))
    return json.loads(data) if data else None


def set_live(opts: StorageOptions, lecture_id: str, lang: str, version: int, *, approved: bool, by: str) -> dict:
    body = {"version": version, "approved": approved, "by": by, "at": _now_iso()}
    storage.put_bytes(client_for(opts), opts.archive_bucket, _live_key(lecture_id, lang),
                      json.dumps(body).encode(), content_type="application/json")
    return body


def peaks(opts: StorageOptions, lecture_id: str) -> bytes | None:
    return storage.get_bytes(client_for(opts), opts.archive_bucket, _peaks_key(lecture_id))


# --- edits (STUB: medialib.review.edits.apply_provenance) -------------------------------------------------

def apply_provenance(base: Track | None, edited: Track, editor: str, version: int) -> Track:
    """Cues changed (text or times) or new since base become origin=human, editor, version, risk 0; others keep theirs."""
    old = {c.id: c for c in base.cues} if base else {}
    out = []
    for c in edited.cues:
        b = old.get(c.id)
        if b is not None and (b.start_ms, b.end_ms, b.text) == (c.start_ms, c.end_ms, c.text):
            out.append(b)
        else:
            out.append(replace(c, origin="human", editor=editor, version=version, risk=0.0, flags=()))
    return replace(edited, cues=tuple(out))


def adopt_ids(base: Track | None, pushed: Track) -> Track:
    """Give a file's cues (which carry no ids) the ids of the base cues they continue, so provenance,
    comments and diffs follow them: the same times first, else the base cue overlapping most; new
    cues get "n" + 8 hex characters, as the editor makes them."""
    import secrets

    if base is None:
        return pushed
    by_times = {(c.start_ms, c.end_ms): c.id for c in base.cues}
    used: set[str] = set()
    out = []
    for c in pushed.cues:
        cid = by_times.get((c.start_ms, c.end_ms))
        if cid is None or cid in used:
            best = max(((min(c.end_ms, b.end_ms) - max(c.start_ms, b.start_ms), b.id) for b in base.cues
                        if b.id not in used), default=(0, None))
            cid = best[1] if best[0] > 0 else None
        if cid is None or cid in used:
            cid = "n" + secrets.token_hex(4)
        used.add(cid)
        out.append(replace(c, id=cid))
    return replace(pushed, cues=tuple(out))


def track_from_cues(cues: list[dict], language: str, like: Track | None) -> Track:
    """A track from the editor's cue dicts; a bad cue is the user's mistake (422) with its message."""
    try:
        return Track(language=language, origin=like.origin if like else "human", model=like.model if like else "",
                     cues=tuple(cue_from_dict(c) for c in cues))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"cues: {e}") from None


# --- workflow (STUB: medialib.review.workflow) -------------------------------------------------------------

_ACTIONS = {   # action: (states it applies to, resulting state, roles allowed)
    "save": (STATES, "draft", ROLES),
    "send": (("draft",), "in_review", ROLES),
    "approve": (("in_review",), "approved", ("reviewer", "staff")),
    "return": (("in_review",), "draft", ("reviewer", "staff")),
    "publish": (("approved",), "published", ("reviewer", "staff")),
    "publish_unreviewed": (STATES, "published", ("reviewer", "staff")),
}


def next_state(state: str, action: str, *, role: str, user: str, last_author: str) -> str:
    """The state after action, or PermissionDenied (role, own work) / InvalidTransition (wrong state)."""
    if action not in _ACTIONS:
        raise InputError(f"unknown action {action!r}; use one of {', '.join(_ACTIONS)}")
    states, result, roles = _ACTIONS[action]
    if role not in roles:
        raise PermissionDenied(f"{user} is a {role}; only a {' or '.join(roles)} may {action.replace('_', ' ')}")
    if action == "approve" and user == last_author:
        raise PermissionDenied(f"{user} saved the latest version; another reviewer must approve it")
    if state not in states:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')} a track that is {state.replace('_', ' ')}")
    return result


# --- codecs (STUB: medialib.subtitles.codec) ---------------------------------------------------------------

def decode_text(data: bytes, name: str, encoding: str | None = None) -> str:
    """BOM, then UTF-8, then UTF-16 without BOM (many NULs), then cp1251; or the given encoding."""
    if not data.strip():
        raise InputError(f"{name}: the file is empty; export the subtitles again")
    if encoding:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as e:
            raise InputError(f"{name}: cannot read as {encoding} ({e}); check --encoding") from None
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="strict")
    if data.count(b"\x00") > len(data) // 4:
        for enc in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(enc)
                if text.isprintable() or "-->" in text:
                    return text
            except UnicodeDecodeError:
                pass
    if b"\x00" in data:
        raise InputError(f"{name}: a binary file, not subtitles; export SRT or WebVTT text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="strict") if _cp1251_ok(data) else _binary(name)


def _cp1251_ok(data: bytes) -> bool:
    try:
        data.decode("cp1251")
        return True
    except UnicodeDecodeError:
        return False


def _binary(name: str) -> str:
    raise InputError(f"{name}: not UTF-8, UTF-16 or cp1251 text; save it as UTF-8 or pass --encoding")


def decode_subtitles(data: bytes, name: str, language: str, *, encoding: str | None = None,
                     duration_ms: int | None = None) -> Track:
    """An SRT or WebVTT file's bytes as a track (format from the content), with clear errors."""
    from medialib.subtitles import parse_subtitles

    text = decode_text(data, name, encoding).replace("\r\n", "\n").replace("\r", "\n")
    fmt = "vtt" if text.lstrip("\ufeff").startswith("WEBVTT") else "srt"
    try:
        track = parse_subtitles(text.lstrip("\ufeff"), language, "human", fmt)
    except InputError as e:
        raise InputError(f"{name}: {e}") from None
    if not track.cues:
        raise InputError(f"{name}: no cues found; export the subtitles again")
    if duration_ms is not None and track.cues[-1].end_ms > duration_ms + 1000:
        c = track.cues[-1]
        raise InputError(f"{name}: cue ending at {c.end_ms / 1000:.1f} s is past the lecture's end "
                         f"({duration_ms / 1000:.1f} s); is this file for another lecture?")
    return track


def encode_subtitles(track: Track, fmt: str, *, note: str = "") -> str:
    """The track as SRT or VTT text; for VTT a NOTE block (e.g. the version it was pulled at) after the header."""
    from medialib.subtitles import to_srt, to_webvtt

    if fmt == "srt":
        return to_srt(track)
    if fmt != "vtt":
        raise InputError(f"format {fmt!r}: use srt or vtt")
    text = to_webvtt(track)
    if note:
        head, sep, rest = text.partition("\n\n")
        text = f"{head}\n\nNOTE {note}\n{sep}{rest}" if sep else f"{text.rstrip()}\n\nNOTE {note}\n"
    return text


# --- QC (STUB: medialib.subtitles.qc) ----------------------------------------------------------------------

_LINE_CHARS = {"en": 42, "ru": 39}   # STUB for [subtitles.line_chars]


def qc_rules(rules: SubtitleRules, language: str) -> dict:
    """The numbers the browser checks live (STUB for qc_rules_json: one source of the numbers)."""
    return {"language": language, "max_line_chars": _LINE_CHARS.get(language, rules.max_line_chars),
            "max_lines": rules.max_lines, "max_cps": rules.max_cps, "min_duration_ms": rules.min_duration_ms,
            "max_duration_ms": rules.max_duration_ms, "min_gap_ms": rules.min_gap_ms,
            "cps_formula": "characters including spaces and punctuation, excluding line breaks, / duration in s"}


def check_cues(cues: list[dict], rules: SubtitleRules, language: str) -> list[dict]:
    """Issues for the editor's cues (they may overlap or be inverted: that is what QC reports)."""
    r = qc_rules(rules, language)
    issues = []

    def add(cid, rule, severity, message):
        issues.append({"cue_id": cid, "rule": rule, "severity": severity, "message": message, "suggestion": ""})

    prev = None
    for d in cues:
        cid, start, end, text = d.get("id", ""), int(d["start_ms"]), int(d["end_ms"]), str(d.get("text", ""))
        if end <= start or start < 0:
            add(cid, "inverted", "block", f"ends at {end} ms, not after its start {start} ms")
        else:
            chars = len(text) - text.count("\n")
            cps = chars / ((end - start) / 1000)
            if cps > r["max_cps"]:
                add(cid, "cps", "warn", f"{cps:.1f} characters per second (max {r['max_cps']:g})")
            if not r["min_duration_ms"] <= end - start <= r["max_duration_ms"]:
                add(cid, "duration", "warn", f"on screen {(end - start) / 1000:.2f} s")
        lines = text.split("\n")
        if len(lines) > r["max_lines"]:
            add(cid, "lines", "warn", f"{len(lines)} lines (max {r['max_lines']})")
        if any(len(line) > r["max_line_chars"] for line in lines):
            add(cid, "cpl", "warn", f"a line over {r['max_line_chars']} characters")
        if prev is not None:
            if start < prev[1]:
                add(cid, "overlap", "block", f"starts before cue {prev[0]} ends")
            elif start - prev[1] < r["min_gap_ms"]:
                add(cid, "gap", "warn", f"{start - prev[1]} ms after the previous cue (min {r['min_gap_ms']})")
        prev = (cid, end)
    return issues


def blocking(issues: list[dict]) -> list[dict]:
    return [i for i in issues if i["severity"] == "block"]


def risky_count(track: Track | None) -> int:
    return sum(1 for c in track.cues if (c.risk or 0) >= RISKY) if track else 0


# --- publishing (STUB: medialib.pipeline.publish_subtitles) ------------------------------------------------

@dataclass(frozen=True)
class PublishedSubtitles:
    lecture_id: str
    languages: tuple[str, ...]
    uploaded_count: int
    uploaded_bytes: int
    player_url: str


def publish_subtitles(lecture_id: str, opts: StorageOptions, home: Path,
                      languages: tuple[str, ...] | None = None) -> PublishedSubtitles:
    """STUB: publish the live versions. Re-runs publish_stage with each live version's track in place
    of the machine track (segments are skipped by digest, so no video bytes go out, but the bundle is
    re-packaged); the library's publish_subtitles does only the subtitles."""
    from medialib.pipeline.stages import publish_stage

    rec = publish_record(lecture_id, opts)
    client = client_for(opts)
    tracks, done = [], []
    for tr in rec.tracks:
        lv = live(opts, lecture_id, tr.language) if languages is None or tr.language in languages else None
        if lv:
            v = load_version(opts, lecture_id, tr.language, int(lv["version"]))
            key = f"work/{lecture_id}/track-{tr.language}-human-v{v.number}.json"
            storage.put_bytes(client, opts.archive_bucket, key,
                              json.dumps(track_to_dict(v.track), ensure_ascii=False).encode(),
                              content_type="application/json")
            tr = replace(tr, key=key, cue_count=len(v.track.cues))
            done.append(tr.language)
        tracks.append(tr)
    published = publish_stage(replace(rec, tracks=tuple(tracks)), opts, home)
    _record_cached.cache_clear()
    return PublishedSubtitles(lecture_id, tuple(done), published.uploaded_count, published.uploaded_bytes,
                              published.player_url)

