"""The pipeline's stages: each reads its inputs from object storage, works locally, writes back.

Inputs and outputs travel through the archive bucket (originals/, work/), so any worker
can run any stage; a local cache under $MEDIALIB_HOME/work avoids downloading what
this machine already has. Every function takes and returns small records (ids, keys,
digests) that a workflow engine can pass between workers and cache on.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import media, speech, storage, subtitles
from .config import LadderOptions, SpeechOptions, StorageOptions, SubtitleRules
from .errors import InputError
from .hls import LectureMeta, package_bundle
from .ids import check_lecture_id, file_sha256, make_lecture_id, options_digest

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Ingested:
    lecture_id: str
    sha256: str
    archive_key: str
    info: media.MediaInfo
    local_path: str            # where this machine saw the original; a hint, not a promise
    existing: bool             # the same bytes were ingested before (same lecture id)


@dataclass(frozen=True)
class LadderResult:
    prefix: str                # work/<id>/ladder-<digest>/ in the archive bucket
    ladder: media.Ladder
    poster_key: str | None


@dataclass(frozen=True)
class TranscriptResult:
    key: str
    language: str
    words: int
    dropped_segments: int


@dataclass(frozen=True)
class TrackResult:
    key: str                   # track JSON in the archive bucket
    language: str
    origin: str
    cues: int


@dataclass(frozen=True)
class Published:
    lecture_id: str
    player_url: str
    master_url: str
    uploaded_bytes: int
    uploaded: int
    skipped: int
    languages: tuple[str, ...]
    notes: tuple[str, ...]


def work_dir_for(home: Path, sha256: str) -> Path:
    d = Path(home) / "work" / sha256[:16]
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------- ingest


def ingest_recording(path: Path, title: str, opts: StorageOptions, *, lecture_id: str | None = None,
                     progress: Progress | None = None) -> Ingested:
    """Probe and validate, hash, find or name the lecture, archive the original (idempotent)."""
    path = Path(path).expanduser().resolve()
    if not title or not title.strip():
        raise InputError(f"{path.name}: a title is required; pass --title \"...\"")
    info = media.probe_media(path)  # raises InputError before anything is stored
    sha = file_sha256(path)
    client = storage.make_client(opts)
    index_key = f"work/by-sha256/{sha}.json"
    known = storage.get_bytes(client, opts.archive_bucket, index_key)
    existing = known is not None
    if lecture_id:
        lecture_id = check_lecture_id(lecture_id)
    elif known:
        lecture_id = json.loads(known)["lecture_id"]
        log.info("%s was ingested before as %s", path.name, lecture_id)
    else:
        lecture_id = make_lecture_id(title, sha)
    key = storage.archive_original(client, opts, path, lecture_id, sha)
    if not known:
        storage.put_bytes(client, opts.archive_bucket, index_key,
                          json.dumps({"lecture_id": lecture_id, "key": key}).encode(), content_type="application/json")
    if progress:
        progress(1.0)
    return Ingested(lecture_id=lecture_id, sha256=sha, archive_key=key, info=info, local_path=str(path),
                    existing=existing)


def fetch_original(ing: Ingested, opts: StorageOptions, home: Path) -> Path:
    """The original on this machine: where it was ingested, else a cached copy, else downloaded."""
    hint = Path(ing.local_path)
    if hint.is_file() and hint.stat().st_size == ing.info.size_bytes:
        return hint
    cached = work_dir_for(home, ing.sha256) / ("original" + Path(ing.archive_key).suffix)
    if not (cached.is_file() and cached.stat().st_size == ing.info.size_bytes):
        client = storage.make_client(opts)
        data_dir = cached.parent
        if not storage.download_tree(client, opts.archive_bucket, ing.archive_key, data_dir):
            raise InputError(f"{ing.archive_key}: the archived original is missing from bucket "
                             f"{opts.archive_bucket!r}; ingest the recording again")
        (data_dir / Path(ing.archive_key).name).replace(cached)
    return cached


# ---------------------------------------------------------------- ladder and audio


def ladder_stage(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path, *,
                 audio_stream: int = 0, progress: Progress | None = None) -> LadderResult:
    """Encode the ladder and the poster, upload both under work/ for the packaging stage."""
    source = fetch_original(ing, opts, home)
    digest = options_digest(ladder_opts, audio_stream)
    local = work_dir_for(home, ing.sha256) / f"ladder-{digest}"
    ladder = media.transcode_ladder(source, ing.info, ladder_opts, local, audio_stream=audio_stream,
                                    progress=progress)
    poster = media.make_poster(source, ing.info, local / "poster.jpg")
    prefix = f"work/{ing.lecture_id}/ladder-{digest}"
    client = storage.make_client(opts)
    storage.upload_tree(client, opts, opts.archive_bucket, prefix, local)
    return LadderResult(prefix=prefix, ladder=ladder, poster_key=f"{prefix}/poster.jpg" if poster else None)


def audio_stage(ing: Ingested, opts: StorageOptions, home: Path, *, audio_stream: int = 0,
                progress: Progress | None = None) -> str | None:
    """16 kHz mono WAV of the speech track, uploaded under work/; None when there is no audio."""
    if not ing.info.has_audio:
        return None
    source = fetch_original(ing, opts, home)
    local = work_dir_for(home, ing.sha256) / f"speech-{audio_stream}.wav"
    media.extract_audio(source, ing.info, local, audio_stream=audio_stream, progress=progress)
    key = f"work/{ing.lecture_id}/speech-{audio_stream}.wav"
    storage.put_file(storage.make_client(opts), opts.archive_bucket, key, local)
    return key


def _local_copy(opts: StorageOptions, key: str, home: Path) -> Path:
    """A work object on this machine, downloaded unless already here."""
    dest_dir = Path(home) / "work" / "objects" / Path(key).parent
    if not storage.download_tree(storage.make_client(opts), opts.archive_bucket, key, dest_dir):
        raise InputError(f"{key}: missing from bucket {opts.archive_bucket!r}; run the lecture again")
    return dest_dir / Path(key).name


# ---------------------------------------------------------------- speech and cues


def transcribe_stage(audio_key: str, lecture_id: str, opts: StorageOptions, speech_opts: SpeechOptions,
                     home: Path, *, language: str | None = None, progress: Progress | None = None) -> TranscriptResult:
    """Whisper over the speech track; the transcript (words with times) goes to work/."""
    wav = _local_copy(opts, audio_key, home)
    transcript = speech.transcribe_audio(wav, speech_opts, language=language, progress=progress)
    key = f"work/{lecture_id}/transcript-{options_digest(speech_opts, language)}.json"
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key,
                      json.dumps(transcript.to_json(), ensure_ascii=False).encode(), content_type="application/json")
    return TranscriptResult(key=key, language=transcript.language, words=len(transcript.words),
                            dropped_segments=transcript.dropped_segments)


def _load_transcript(opts: StorageOptions, key: str) -> speech.Transcript:
    data = storage.get_bytes(storage.make_client(opts), opts.archive_bucket, key)
    if data is None:
        raise InputError(f"{key}: transcript missing from the archive bucket; run the lecture again")
    return speech.Transcript.from_json(json.loads(data))


def cues_stage(transcript: TranscriptResult, lecture_id: str, opts: StorageOptions,
               rules: SubtitleRules) -> TrackResult | None:
    """Readable cues from the words; None when nothing was said (no invented subtitles)."""
    t = _load_transcript(opts, transcript.key)
    cues = subtitles.segment_cues(t.words, rules)
    if not cues:
        return None
    track = subtitles.Track(language=t.language, origin="asr", cues=cues)
    key = f"work/{lecture_id}/track-{t.language}-asr-{options_digest(rules, transcript.key)}.vtt"
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key, subtitles.to_webvtt(track).encode("utf-8"),
                      content_type="text/vtt; charset=utf-8")
    return TrackResult(key=key, language=t.language, origin="asr", cues=len(cues))


# ---------------------------------------------------------------- package and publish


def lecture_notes(ing: Ingested, transcript: TranscriptResult | None, track: TrackResult | None) -> tuple[str, ...]:
    """What learners and staff should know about what is (not) in the bundle."""
    if not ing.info.has_audio:
        return ("The recording has no sound, so it is published without subtitles.",)
    if track is None:
        return ("No speech was found in the recording, so it is published without subtitles.",)
    return ()


def publish_stage(ing: Ingested, title: str, speaker: str | None, event: str | None, ladder: LadderResult,
                  tracks: tuple[TrackResult, ...], transcript: TranscriptResult | None, notes: tuple[str, ...],
                  opts: StorageOptions, home: Path, *, language: str | None = None,
                  progress: Progress | None = None) -> Published:
    """Package the bundle from work/ and publish it: media first, the master playlist as the switch."""
    client = storage.make_client(opts)
    work = work_dir_for(home, ing.sha256)
    ladder_dir = work / "published-ladder" / Path(ladder.prefix).name
    storage.download_tree(client, opts.archive_bucket, ladder.prefix, ladder_dir)
    loaded_tracks = []
    for tr in tracks:
        text = storage.get_bytes(client, opts.archive_bucket, tr.key)
        if text is None:
            raise InputError(f"{tr.key}: subtitle track missing from the archive bucket; run the lecture again")
        loaded_tracks.append(subtitles.parse_subtitles(text.decode("utf-8"), tr.language, tr.origin))
    t = _load_transcript(opts, transcript.key) if transcript else None
    meta = LectureMeta(lecture_id=ing.lecture_id, title=title, sha256=ing.sha256, speaker=speaker, event=event,
                       language=language or (t.language if t and t.words else None))
    bundle_dir = work / "bundle"
    bundle = package_bundle(bundle_dir, meta, ing.info, ladder.ladder, ladder_dir, tuple(loaded_tracks), t,
                            ladder_dir / "poster.jpg" if ladder.poster_key else None, notes)
    prefix = f"lectures/{ing.lecture_id}"
    report = storage.publish_bundle(client, opts, bundle.root, prefix,
                                    progress=(lambda done, total: progress(done / total if total else 1.0))
                                    if progress else None)
    entry = {"id": ing.lecture_id, "title": title, "speaker": speaker, "event": event, "language": meta.language,
             "duration_s": round(ing.info.duration_s, 3), "languages": list(bundle.languages),
             "player": f"{prefix}/index.html", "master": f"{prefix}/master.m3u8",
             "poster": f"{prefix}/poster.jpg" if (bundle.root / "poster.jpg").exists() else None}
    _update_catalog_if_changed(client, opts, entry)
    shutil.rmtree(bundle_dir, ignore_errors=True)
    return Published(lecture_id=ing.lecture_id, player_url=storage.public_url(opts, f"{prefix}/index.html"),
                     master_url=storage.public_url(opts, f"{prefix}/master.m3u8"),
                     uploaded_bytes=report.uploaded_bytes, uploaded=len(report.uploaded), skipped=len(report.skipped),
                     languages=bundle.languages, notes=bundle.notes)


def _update_catalog_if_changed(client, opts: StorageOptions, entry: dict) -> None:
    """Rewrite catalog.json only when this lecture's entry changed, so a re-publish sends nothing."""
    from datetime import datetime, timezone

    for old in storage.read_catalog(client, opts):
        if old.get("id") == entry["id"] and {k: v for k, v in old.items() if k != "published_at"} == entry:
            return
    storage.update_catalog(client, opts, {**entry, "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
