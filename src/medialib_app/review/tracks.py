"""The one door from the review app (web and CLI) to the library's tracks, versions, workflow, codecs, QC, publishing.

The library does the work; this module only binds it to the app's storage options:
    versions, live pointer        medialib.review.store (conditional creates, VersionConflict)
    workflow                      medialib.review.workflow (next_state, allowed_actions)
    files in and out              medialib.subtitles.codec (read_subtitles, write_subtitles, match_ids)
    QC                            medialib.subtitles.qc with glossary terms and a speller per language
    publishing                    medialib.pipeline.publish_subtitles (subtitles only, 0 video bytes)
What is the app's own: one boto3 client per endpoint, a cache of versions (immutable, so a
cached one is never stale, and the version just saved is the next save's base without a
read), each track's list of version numbers reused for a few seconds (dropped on this
process's own saves; publishing lists afresh), the publish record cached a minute, and the
count of risky cues for the queue. A live QC check makes no S3 request once these are warm.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from medialib import keys, review, storage
from medialib.config import Settings, StorageOptions
from medialib.errors import InputError, NotFoundError
from medialib.review import TrackVersion
from medialib.subtitles import Cue, Track, codec, cue_from_dict, qc, speller_for, track_from_dict

log = logging.getLogger(__name__)

RISKY = 0.5     # a cue at or above this risk counts as risky in the queue


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


# --- lectures: catalog and publish records ----------------------------------------------------------------

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
    return _record_cached(lecture_id, opts, int(time.time() // 60))


def lecture_summary(lecture_id: str, opts: StorageOptions) -> dict:
    """{id, title, master_url, duration_ms, languages, source_language} for the editor."""
    rec = publish_record(lecture_id, opts)
    ing = rec.lecture.ingested
    return {"id": lecture_id, "title": rec.lecture.request.title,
            "master_url": storage.public_url(opts, f"{keys.bundle_prefix(lecture_id)}/master.m3u8"),
            "duration_ms": int(round(ing.info.duration_s * 1000)),
            "languages": [t.language for t in rec.tracks],
            "source_language": rec.tracks[0].language if rec.tracks else None}


def machine_track(lecture_id: str, lang: str, opts: StorageOptions) -> Track | None:
    """The pipeline's track for lang (from the publish record), None when the lecture has none."""
    rec = publish_record(lecture_id, opts)
    tr = next((t for t in rec.tracks if t.language == lang), None)
    if tr is None:
        return None
    return _stored_track(opts, tr.key, f"the {lang} track of {lecture_id}")


@functools.lru_cache(maxsize=64)
def _stored_track(opts: StorageOptions, key: str, what: str) -> Track:
    """A pipeline track by its key (cached: a key names one content, a re-run writes a new key)."""
    data = storage.get_bytes(client_for(opts), opts.archive_bucket, key)
    if data is None:
        raise NotFoundError(f"{key}: {what} is missing from the archive bucket; process the lecture again")
    return track_from_dict(json.loads(data))


def peaks(opts: StorageOptions, lecture_id: str) -> bytes | None:
    return storage.get_bytes(client_for(opts), opts.archive_bucket, keys.peaks(lecture_id))


# --- versions (medialib.review.store, with the app's cache) -----------------------------------------------

class _VersionCache:
    """Recently read or written versions, least recently used dropped first."""

    def __init__(self, size: int):
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


_clock = time.monotonic   # the cache's clock (tests move it by hand)
NUMBERS_MAX_AGE_S = 3.0   # how long a listing of version numbers is reused (other processes' saves show after it)


class _NumbersCache:
    """Each track's version numbers as last listed, reused for NUMBERS_MAX_AGE_S.

    The live QC check asks for the source track several times a minute per editor, and
    opening a track asked for the same listing three times; a LIST per ask is what this
    saves. This process's own creates drop the entry (forget), so its saves show at once;
    another process's (the CLI, the pipeline) show within NUMBERS_MAX_AGE_S. Versions
    never disappear, so a cached list is only ever short of the newest, never wrong.
    """

    def __init__(self):
        self.items: dict[tuple, tuple[float, tuple[int, ...]]] = {}
        self.lock = threading.Lock()

    def get(self, key, max_age_s: float) -> tuple[int, ...] | None:
        with self.lock:
            hit = self.items.get(key)
        return hit[1] if hit is not None and _clock() - hit[0] < max_age_s else None

    def put(self, key, numbers: tuple[int, ...], listed_at: float) -> None:
        with self.lock:
            if len(self.items) > 4096:
                self.items.clear()
            self.items[key] = (listed_at, numbers)

    def forget(self, key) -> None:
        with self.lock:
            self.items.pop(key, None)


_numbers = _NumbersCache()


def _numbers_key(opts: StorageOptions, lecture_id: str, lang: str) -> tuple:
    return (opts.endpoint_url, opts.archive_bucket, lecture_id, lang)


def version_numbers(opts: StorageOptions, lecture_id: str, lang: str, *,
                    max_age_s: float | None = None) -> tuple[int, ...]:
    """The track's version numbers, ascending; a listing up to max_age_s old (NUMBERS_MAX_AGE_S) is reused.

    max_age_s=0 lists now (for a decision that must see other processes' saves).
    """
    max_age_s = NUMBERS_MAX_AGE_S if max_age_s is None else max_age_s
    key = _numbers_key(opts, lecture_id, lang)
    if max_age_s > 0 and (numbers := _numbers.get(key, max_age_s)) is not None:
        return numbers
    listed_at = _clock()   # before the LIST: the entry's age is never understated
    numbers = review.list_versions(client_for(opts), opts.archive_bucket, lecture_id, lang)
    _numbers.put(key, numbers, listed_at)
    return numbers


def load_version(opts: StorageOptions, lecture_id: str, lang: str, n: int) -> TrackVersion:
    key = _cache_key(opts, lecture_id, lang, n)
    if (v := _versions.get(key)) is not None:
        return v
    v = review.load_version(client_for(opts), opts.archive_bucket, lecture_id, lang, n)
    _versions.put(key, v)
    return v


def version_meta(v: TrackVersion) -> dict:
    """A version without its cues, as the API lists it."""
    return {"number": v.number, "base": v.base, "kind": v.kind, "author": v.author, "created_at": v.created_at,
            "message": v.message}


@functools.lru_cache(maxsize=20_000)
def _version_meta(opts: StorageOptions, lecture_id: str, lang: str, n: int) -> tuple:
    return tuple(version_meta(load_version(opts, lecture_id, lang, n)).items())


def list_versions(opts: StorageOptions, lecture_id: str, lang: str, *, max_age_s: float | None = None) -> list[dict]:
    """Every version's metadata, oldest first (cached: versions never change; the numbers as version_numbers)."""
    return [dict(_version_meta(opts, lecture_id, lang, n))
            for n in version_numbers(opts, lecture_id, lang, max_age_s=max_age_s)]


def head_number(versions: list[dict]) -> int | None:
    """The version people work on (a re-run's machine versions after a person's do not count)."""
    return review.head_number((v["number"], v["kind"]) for v in versions)


def head_version(opts: StorageOptions, lecture_id: str, lang: str, *,
                 max_age_s: float | None = None) -> TrackVersion | None:
    n = head_number(list_versions(opts, lecture_id, lang, max_age_s=max_age_s))
    return load_version(opts, lecture_id, lang, n) if n else None


def machine_version_number(versions: list[dict]) -> int | None:
    return max((v["number"] for v in versions if v["kind"] == "machine"), default=None)


def last_human_author(versions: list[dict]) -> str | None:
    """The author of the head version when a person wrote it (who may not approve it), else None."""
    n = head_number(versions)
    head = next((v for v in versions if v["number"] == n), None)
    return head["author"] if head and head["kind"] == "human" else None


def create_version(opts: StorageOptions, lecture_id: str, lang: str, track: Track, *, base: int | None,
                   author: str, kind: str = "human", message: str = "") -> TrackVersion:
    """v<base+1> written only if nobody wrote it first (store.create_version); VersionConflict otherwise."""
    base_track = load_version(opts, lecture_id, lang, base).track if base else None
    try:
        v = review.create_version(client_for(opts), opts.archive_bucket, lecture_id, lang, track, base=base,
                                  author=author, kind=kind, message=message, base_track=base_track)
    finally:   # written or refused, the listing is out of date (a refusal means someone else wrote)
        _numbers.forget(_numbers_key(opts, lecture_id, lang))
    _versions.put(_cache_key(opts, lecture_id, lang, v.number), v)
    return v


def ensure_machine_version(opts: StorageOptions, lecture_id: str, lang: str) -> None:
    """Lectures published before versioning have none: keep the pipeline's track as machine v1 on first open."""
    if version_numbers(opts, lecture_id, lang):
        return
    track = machine_track(lecture_id, lang, opts)
    if track is not None:
        try:
            review.record_machine_version(client_for(opts), opts.archive_bucket, lecture_id, track)
        finally:
            _numbers.forget(_numbers_key(opts, lecture_id, lang))


def source_track(opts: StorageOptions, lecture_id: str, lang: str) -> Track | None:
    """The floor track shown beside lang (its head version, else the pipeline's); None when lang is the source."""
    src_lang = lecture_summary(lecture_id, opts)["source_language"]
    if not src_lang or src_lang == lang:
        return None
    head = head_version(opts, lecture_id, src_lang)
    return head.track if head else machine_track(lecture_id, src_lang, opts)


def live(opts: StorageOptions, lecture_id: str, lang: str) -> review.LivePointer | None:
    return review.live(client_for(opts), opts.archive_bucket, lecture_id, lang)


def track_from_cues(cues: list[dict], language: str, like: Track | None) -> Track:
    """A track from the editor's cue dicts; a bad cue is the user's mistake (422) with its message.

    A cue whose id, times and text are like's is like's cue itself: provenance keeps it
    anyway (apply_provenance), and most of a save's cues are untouched, so they are not built again.
    """
    before = {c.id: c for c in like.cues} if like else {}

    def cue(d) -> Cue:
        old = before.get(d.get("id")) if isinstance(d, dict) else None
        if old is not None and (old.start_ms, old.end_ms, old.text) == (d.get("start_ms"), d.get("end_ms"), d.get("text")):
            return old
        return cue_from_dict(d)

    try:
        return Track(language=language, origin=like.origin if like else "human", model=like.model if like else "",
                     cues=tuple(cue(c) for c in cues))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"cues: {e}") from None


# --- files (medialib.subtitles.codec) ----------------------------------------------------------------------

def read_file(data: bytes, name: str, language: str, settings: Settings, *, encoding: str | None,
              duration_ms: int) -> tuple[Track, str]:
    """An uploaded or pushed SRT/WebVTT file as a track and its text (for a NOTE line); errors name the line."""
    track, used = codec.read_subtitles(data, language=language, name=name, encoding=encoding,
                                       duration_ms=duration_ms,
                                       max_cue_chars=settings.subtitles.for_language(language).max_cue_chars)
    return track, codec.decode_subtitles(data, name=name, encoding=used)[0]


def adopt_ids(base: Track | None, pushed: Track) -> Track:
    """A file's cues with the ids of the base cues they came from (codec.match_ids)."""
    return codec.match_ids(pushed, base) if base is not None else pushed


def encode_file(track: Track, fmt: str, *, note: str = "") -> str:
    """The track as SRT or VTT text; a VTT gets a NOTE block after its header (the version it was pulled at)."""
    text = codec.write_subtitles(track, fmt).decode("utf-8")
    if fmt == "vtt" and note:
        head, sep, rest = text.partition("\n\n")
        text = f"{head}\n\nNOTE {note}\n{sep}{rest}" if sep else f"{text.rstrip()}\n\nNOTE {note}\n"
    return text


# --- QC (medialib.subtitles.qc) ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _glossary(folder: Path):
    from medialib.translate.glossary import load_glossary

    return load_glossary(folder)


def glossary_terms(settings: Settings, source_lang: str | None, lang: str) -> tuple:
    """The glossary's terms from the source language into lang (none without a source or a glossary)."""
    if not source_lang or source_lang == lang:
        return ()
    folder = settings.translation.glossary_path()
    return _glossary(folder).terms(source_lang, lang) if folder.is_dir() else ()


def qc_rules(settings: Settings, lang: str) -> dict:
    return qc.qc_rules_json(settings.subtitles, lang)


def check_cues(cues: list[dict], settings: Settings, lang: str, *, source: Track | None = None) -> list[dict]:
    """Every issue of the editor's cues (broken ones too), glossary and spelling included, as dicts."""
    issues = qc.check_cue_dicts(cues, lang, settings.subtitles, source=source,
                                glossary_terms=glossary_terms(settings, source.language if source else None, lang),
                                speller=speller_for(lang))
    return [qc.issue_to_dict(i) for i in issues]


def blocking(track: Track, settings: Settings) -> list:
    """The issues that stop publishing (overlaps, inverted times)."""
    return qc.blocking(qc.check_track(track, settings.subtitles))


def risky_count(track: Track | None) -> int:
    return sum(1 for c in track.cues if (c.risk or 0) >= RISKY) if track else 0


# --- publishing (medialib.pipeline.publish_subtitles) ------------------------------------------------------

def _check_still_head(opts: StorageOptions, lecture_id: str, lang: str, version: int) -> None:
    """VersionConflict when, listed now, a person saved after version (the caller chose it from a cached listing)."""
    fresh = list_versions(opts, lecture_id, lang, max_age_s=0)
    head = head_number(fresh)
    if head is not None and head > version:
        latest = load_version(opts, lecture_id, lang, head)
        raise review.VersionConflict(
            f"{lecture_id} {lang}: version {head} was saved by {latest.author} at {latest.created_at} "
            f"after version {version}; reload, check it, and try again", latest)


def publish(opts: StorageOptions, settings: Settings, home: Path, lecture_id: str, lang: str, version: int, *,
            approved: bool, by: str):
    """Point learners at version (live.json), then republish only the subtitles (0 video bytes)."""
    from medialib.pipeline import publish_subtitles

    _check_still_head(opts, lecture_id, lang, version)
    review.set_live(client_for(opts), opts.archive_bucket, lecture_id, lang, version, approved=approved, by=by)
    return publish_subtitles(lecture_id, opts, home, languages=(lang,), unreviewed=settings.review.unreviewed)
