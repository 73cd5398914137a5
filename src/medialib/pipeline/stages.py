"""The pipeline's stages: each reads its inputs from object storage, works locally, writes back.

Inputs and outputs travel through the archive bucket (originals/, work/), so any worker
can run any stage; a local cache under $MEDIALIB_HOME/work avoids downloading what
this machine already has. Every function takes and returns small records (ids, keys,
digests) that a workflow engine can pass between workers and cache on.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path

from medialib import keys, media, review, speech, storage, subtitles
from medialib.config import (
    LadderOptions,
    WorkOptions,
    SpeechOptions,
    StorageOptions,
    SubtitleRules,
    TranslationOptions,
)
from medialib.errors import InputError, MedialibError, NotFoundError, OperatorError
from medialib.ids import check_lecture_id, file_sha256, make_lecture_id, options_digest
from medialib.pipeline.plan import AudioRole, LanguagePlan, check_audio_specs, parse_audio_roles, plan_languages
from medialib.pipeline.records import (
    Ingested,
    LadderResult,
    Lecture,
    LectureRequest,
    Progress,
    Published,
    PublishRecord,
    RepublishFailure,
    TrackResult,
    TranscriptResult,
)
from medialib.recordjson import from_jsonable, to_jsonable
from medialib.storage import cache
from medialib.publish import catalog, upload
from medialib.publish.assets import asset_urls, publish_assets
from medialib.publish.bundle import LectureMeta, PublishedTrack, package_bundle, package_subtitles
from medialib.publish.page import player_assets
from medialib.publish.playlists import patch_master_subtitles

log = logging.getLogger(__name__)


def work_dir_for(home: Path, sha256: str) -> Path:
    d = Path(home) / "work" / sha256[:16]
    d.mkdir(parents=True, exist_ok=True)
    return d


# What to do with a folder; one place, so a command for a whole event can be named here when it exists.
FOLDER_HINT = "pass one recording file"


def check_recording_path(path: Path) -> Path:
    """The recording as a file path; NotFoundError when it is not there, InputError for a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a recording; {FOLDER_HINT}")
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file; check the path")
    return path


def _check_title(path: Path, title: str) -> None:
    if not title or not title.strip():
        raise InputError(f"{path.name}: a title is required; pass --title \"...\"")


def check_request(path: Path, title: str, *, language: str | None = None,
                  audio: Sequence[str] = ()) -> str | None:
    """Everything about a request that can be wrong before a byte is archived or encoded.

    The recording is a file, the title is not empty, the spoken language and the
    languages in the --audio values are Whisper's. Returns the language, normalised
    (lower case). The CLI calls this before starting the flow, and the flow again
    before ingest, so a mistake costs a second, not a ladder encode.
    """
    path = check_recording_path(path)
    _check_title(path, title)
    language = speech.check_language(language)
    check_audio_specs(audio or ())
    return language


def check_date(value: str | None, what: str) -> str | None:
    """An ISO calendar date (YYYY-MM-DD), normalised; None stays None."""
    if value is None or not str(value).strip():
        return None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-28") from None


def ingest_recording(path: Path, title: str, opts: StorageOptions, *, lecture_id: str | None = None,
                     progress: Progress | None = None) -> Ingested:
    """Probe and validate, hash, find or name the lecture, archive the original (idempotent)."""
    path = check_recording_path(path).resolve()
    _check_title(path, title)
    info = media.probe_media(path)  # raises InputError before anything is stored
    sha = file_sha256(path)
    client = storage.make_client(opts)
    index_key = keys.sha256_index(sha)
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


def start_lecture(request: LectureRequest, opts: StorageOptions, *, progress: Progress | None = None) -> Lecture:
    """Ingest the recording and settle what each of its audio streams carries."""
    ing = ingest_recording(Path(request.source), request.title, opts, lecture_id=request.lecture_id,
                           progress=progress)
    return Lecture(request=request, ingested=ing, roles=parse_audio_roles(request.audio, ing.info, request.language))


def fetch_original(ing: Ingested, opts: StorageOptions, home: Path) -> Path:
    """The original on this machine: where it was ingested, else a cached copy, else downloaded."""
    hint = Path(ing.local_path)
    if hint.is_file() and hint.stat().st_size == ing.info.size_bytes:
        return hint
    cached = work_dir_for(home, ing.sha256) / ("original" + Path(ing.archive_key).suffix)
    if not (cached.is_file() and cached.stat().st_size == ing.info.size_bytes):
        client = storage.make_client(opts)
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Stages of one run fetch at once on a worker: each downloads apart, the rename is atomic.
        with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".fetch-") as tmp:
            if not storage.download_tree(client, opts.archive_bucket, ing.archive_key, Path(tmp)):
                raise OperatorError(f"{ing.archive_key}: the archived original is missing from bucket "
                                    f"{opts.archive_bucket!r}; ingest the recording again")
            (Path(tmp) / Path(ing.archive_key).name).replace(cached)
    return cached


def ladder_stage(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path, *,
                 roles: tuple[AudioRole, ...] = (), progress: Progress | None = None) -> LadderResult:
    """Encode the ladder (interpreters' channels as alternate audio) and the poster, upload under work/."""
    with cache.using(work_dir_for(home, ing.sha256)):
        return _ladder_stage(ing, opts, ladder_opts, home, roles, progress)


def _ladder_plan(ladder_opts: LadderOptions, roles: tuple[AudioRole, ...]):
    """(floor role, interpreters' (stream, language), the ladder's digest): what names its work/ prefix."""
    floor = next((r for r in roles if r.role == "floor"), AudioRole(0, "floor", None))
    interpretations = tuple((r.stream, r.language) for r in roles if r.role == "interpretation")
    return floor, interpretations, options_digest(ladder_opts, floor.stream, floor.language, interpretations)


def ladder_missing(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions,
                   roles: tuple[AudioRole, ...] = ()) -> bool:
    """True when neither bucket holds this ladder's renditions, so a cached ladder result cannot be used.

    After a publish the archive keeps only the ladder's small files and a published.json
    marker; an unpublish then removes the renditions for good, and the ladder must be encoded again.
    """
    prefix = keys.ladder_prefix(ing.lecture_id, _ladder_plan(ladder_opts, roles)[2])
    client = storage.make_client(opts)
    if any(rel.endswith("/index.m3u8") for rel in _listing(client, opts.archive_bucket, prefix)):
        return False
    if storage.get_bytes(client, opts.archive_bucket, keys.ladder_published(prefix)) is None:
        return True
    master = f"{keys.bundle_prefix(ing.lecture_id)}/master.m3u8"
    return storage.get_bytes(client, opts.publish_bucket, master) is None


def _ladder_stage(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path,
                  roles: tuple[AudioRole, ...], progress: Progress | None) -> LadderResult:
    source = fetch_original(ing, opts, home)
    floor, interpretations, digest = _ladder_plan(ladder_opts, roles)
    local = work_dir_for(home, ing.sha256) / f"ladder-{digest}"
    ladder = media.transcode_ladder(source, ing.info, ladder_opts, local, audio_stream=floor.stream,
                                    floor_language=floor.language, interpretations=interpretations,
                                    progress=progress)
    poster = media.make_poster(source, ing.info, local / "poster.jpg")
    prefix = keys.ladder_prefix(ing.lecture_id, digest)
    client = storage.make_client(opts)
    storage.upload_tree(client, opts, opts.archive_bucket, prefix, local)
    return LadderResult(prefix=prefix, ladder=ladder, poster_key=f"{prefix}/poster.jpg" if poster else None)


def audio_stage(ing: Ingested, opts: StorageOptions, home: Path, *, audio_stream: int = 0,
                progress: Progress | None = None) -> str | None:
    """16 kHz mono FLAC of the speech track, uploaded under work/; None when there is no audio.

    Written where transcription and peaks look for their local copy of the object, so this
    machine keeps one copy, not two.
    """
    if not ing.info.has_audio:
        return None
    key = keys.speech_audio(ing.lecture_id, audio_stream)
    local = _object_path(home, key)
    with cache.using(work_dir_for(home, ing.sha256)), cache.using(local.parent):
        source = fetch_original(ing, opts, home)
        media.extract_audio(source, ing.info, local, audio_stream=audio_stream, progress=progress)
        storage.put_file(storage.make_client(opts), opts.archive_bucket, key, local)
    return key


def peaks_stage(audio_key: str, lecture_id: str, opts: StorageOptions, home: Path) -> str:
    """Waveform peaks of the speech WAV for the review editor, to tracks/<id>/peaks.json; returns the key."""
    with _local_pcm(opts, audio_key, home) as wav:
        peaks = media.compute_peaks(wav)
    key = keys.peaks(lecture_id)
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key,
                      json.dumps(peaks.to_json(), separators=(",", ":")).encode(),
                      content_type="application/json")
    return key


def _object_path(home: Path, key: str) -> Path:
    """Where this machine keeps its copy of a work object."""
    return Path(home) / "work" / cache.OBJECTS / key


@contextmanager
def _local_copy(opts: StorageOptions, key: str, home: Path) -> Iterator[Path]:
    """A work object on this machine, downloaded unless already here; kept from cache trims while in use."""
    dest_dir = _object_path(home, key).parent
    with cache.using(dest_dir):
        if not storage.download_tree(storage.make_client(opts), opts.archive_bucket, key, dest_dir):
            raise OperatorError(f"{key}: missing from bucket {opts.archive_bucket!r}; run the lecture again")
        yield dest_dir / Path(key).name


@contextmanager
def _local_pcm(opts: StorageOptions, key: str, home: Path) -> Iterator[Path]:
    """Speech audio as a PCM WAV (what Whisper memory-maps and peaks read); a FLAC is decoded to a temporary one."""

    with _local_copy(opts, key, home) as path:
        if path.suffix.lower() == ".wav":   # stored by a medialib before FLAC
            yield path
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".wav", dir=path.parent)
        os.close(fd)
        try:
            yield media.pcm_wav(path, Path(tmp))
        finally:
            with suppress(FileNotFoundError):
                os.unlink(tmp)


def after_lecture(work_opts: WorkOptions, home: Path) -> cache.TrimReport:
    """Trim the local work cache to its cap (what object storage holds; never a folder in use)."""
    return cache.trim_cache(Path(home) / "work", work_opts.max_cache_bytes)


def transcribe_stage(audio_key: str, lecture_id: str, opts: StorageOptions, speech_opts: SpeechOptions,
                     home: Path, *, language: str | None = None, task: str = "transcribe",
                     prompt_terms: tuple[str, ...] = (), progress: Progress | None = None) -> TranscriptResult:
    """Whisper over one speech track; the transcript (words with times) goes to work/."""
    with _local_pcm(opts, audio_key, home) as wav:
        transcript = speech.transcribe_audio(wav, speech_opts, language=language, task=task,
                                             prompt_terms=prompt_terms, progress=progress)
    return store_transcript(transcript, audio_key, lecture_id, opts, speech_opts, language, task, prompt_terms)


def store_transcript(transcript: speech.Transcript, audio_key: str, lecture_id: str, opts: StorageOptions,
                     speech_opts: SpeechOptions, language: str | None, task: str,
                     prompt_terms: tuple[str, ...]) -> TranscriptResult:
    """Keep a transcript under the key its audio and settings name (one pass or merged windows alike)."""
    key = keys.transcript(lecture_id, Path(audio_key).stem, task, options_digest(speech_opts, language, prompt_terms))
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key,
                      json.dumps(transcript.to_json(), ensure_ascii=False).encode(), content_type="application/json")
    return TranscriptResult(key=key, language=transcript.language, word_count=len(transcript.words),
                            dropped_segments=transcript.dropped_segments)


def _load_transcript(opts: StorageOptions, key: str) -> speech.Transcript:
    data = storage.get_bytes(storage.make_client(opts), opts.archive_bucket, key)
    if data is None:
        raise OperatorError(f"{key}: transcript missing from the archive bucket; run the lecture again")
    return speech.Transcript.from_json(json.loads(data))


def _model_label(transcript: speech.Transcript) -> str:
    import faster_whisper

    return f"{transcript.model}, faster-whisper {faster_whisper.__version__}"


def _save_track(opts: StorageOptions, lecture_id: str, track: subtitles.Track, digest: str,
                violations: tuple[str, ...] = (), detail: str = "") -> TrackResult:
    key = keys.track(lecture_id, track.language, track.origin, digest)
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key,
                      json.dumps(subtitles.track_to_dict(track), ensure_ascii=False).encode(),
                      content_type="application/json")
    return TrackResult(key=key, language=track.language, origin=track.origin, cue_count=len(track.cues),
                       model=track.model, violations=violations, detail=detail)


def cues_stage(transcript: TranscriptResult, lecture_id: str, opts: StorageOptions, rules: SubtitleRules, *,
               origin: str = "asr") -> TrackResult | None:
    """Readable cues from the words; None when nothing was said (no invented subtitles)."""
    t = _load_transcript(opts, transcript.key)
    cues = subtitles.segment_cues(t.words, rules.for_language(t.language))
    if not cues:
        return None
    track = subtitles.Track(language=t.language, origin=origin, cues=cues, model=_model_label(t))
    track = subtitles.score_track(track, transcript=t, rules=rules.for_language(track.language))  # risk per cue, for review
    return _save_track(opts, lecture_id, track, options_digest(rules, transcript.key))


def interpretation_stage(floor: TranscriptResult, interp: TranscriptResult, lecture_id: str, opts: StorageOptions,
                         rules: SubtitleRules, max_lag_ms: int) -> TrackResult | None:
    """The interpreter's words as the target-language track, moved onto the floor's timeline."""
    from medialib.translate.interpret import align_interpretation

    f, i = _load_transcript(opts, floor.key), _load_transcript(opts, interp.key)
    if not i.words:
        return None
    track, alignment = align_interpretation(f, i, rules, max_lag_ms=max_lag_ms, model=_model_label(i))
    if not track.cues:
        return None
    track = subtitles.score_track(track, transcript=i, alignment=alignment, rules=rules.for_language(track.language))
    detail = f"interpreter lag {alignment.lag_ms} ms (match confidence {alignment.confidence:.2f})"
    return _save_track(opts, lecture_id, track, options_digest(rules, floor.key, interp.key, max_lag_ms),
                       detail=detail)


def machine_translation_stage(floor: TranscriptResult, dst: str, lecture_id: str, opts: StorageOptions,
                              rules: SubtitleRules, tr_opts: TranslationOptions) -> TrackResult | None:
    """Whole sentences through an installed Argos package (CTranslate2, batched), re-cut for dst."""
    from medialib import translate
    from medialib.translate.glossary import load_glossary

    t = _load_transcript(opts, floor.key)
    if not t.words:
        return None
    route = translate.find_route(translate.installed_packages(tr_opts.argos_paths()), t.language, dst)
    if route is None:
        raise OperatorError(f"no Argos package {t.language}->{dst} is installed; "
                            f"run `medialib models install argos {t.language} {dst}`")
    translator = translate.load_translator(route, tr_opts)
    terms = load_glossary(tr_opts.glossary_path()).terms(t.language, dst)
    sentences = translate.sentences_from_words(t.words)
    track, violations = translate.translate_track(sentences, translator, rules, dst, glossary_terms=terms,
                                                  src_language=t.language)
    if not track.cues:
        return None
    misses = subtitles.glossary_misses(violations, [(x.start_ms, x.end_ms) for x in sentences])
    track = subtitles.score_track(track, transcript=t, glossary_violations=misses, rules=rules.for_language(dst))
    digest = options_digest(rules, floor.key, tr_opts.batch_size, tr_opts.beam_size, translator.model)
    return _save_track(opts, lecture_id, track, digest, violations=tuple(violations), detail=translator.model)


def plan_lecture_languages(lecture: Lecture, transcript: TranscriptResult,
                           tr_opts: TranslationOptions) -> tuple[LanguagePlan, ...]:
    """Which source makes each subtitle language: the floor, an interpreter, MT, Whisper, or none."""
    return plan_languages(transcript.language, tr_opts.languages, lecture.interpretations,
                          lambda src, dst: argos_route_name(tr_opts, src, dst))


def argos_route_name(tr_opts: TranslationOptions, src: str, dst: str) -> str | None:
    """'en->ru' or 'ru->en->de' when installed packages can translate src to dst, else None."""
    from medialib import translate

    route = translate.find_route(translate.installed_packages(tr_opts.argos_paths()), src, dst)
    if not route:
        return None
    return "->".join([route[0].from_code, *(p.to_code for p in route)]) + " (" + \
        ", ".join(f"{p.name} {p.version}" for p in route) + ")"


def glossary_prompt_terms(tr_opts: TranslationOptions, language: str | None) -> tuple[str, ...]:
    """Glossary terms in the spoken language, for Whisper's hotwords (empty when unknown)."""
    if not language:
        return ()
    from medialib.translate.glossary import load_glossary

    return load_glossary(tr_opts.glossary_path()).prompt_terms(language)


def lecture_notes(record: PublishRecord) -> tuple[str, ...]:
    """What learners should know about what is (not) in the bundle."""
    from medialib.languages import language_name

    if not record.lecture.ingested.info.has_audio:
        return ("The recording has no sound, so it is published without subtitles.",)
    if not record.tracks:
        return ("No speech was found in the recording, so it is published without subtitles.",)
    missing = [language_name(p.language) for p in record.plans if p.source == "missing"]
    if missing:
        return (f"Subtitles in {', '.join(missing)} are not available for this lecture yet.",)
    return ()


def _load_tracks(client, opts: StorageOptions, record: PublishRecord) -> tuple[subtitles.Track, ...]:
    loaded = []
    for tr in record.tracks:
        data = storage.get_bytes(client, opts.archive_bucket, tr.key)
        if data is None:
            raise OperatorError(f"{tr.key}: subtitle track missing from the archive bucket; "
                                "run the lecture again")
        loaded.append(subtitles.track_from_dict(json.loads(data)))
    return tuple(loaded)


def choose_published_track(client, opts: StorageOptions, lecture_id: str, machine: subtitles.Track
                           ) -> PublishedTrack:
    """Which version of one language learners get: a person's choice stands, else the newest machine output.

    The machine track is kept as a machine version first (only when its cues changed), so
    a re-run with new settings or a better model adds a version to compare with. If
    live.json points at a human version, or at any approved version, that version is
    published: a re-run never replaces a translator's work. Otherwise the machine version
    is published, marked machine-made (not approved).
    """
    bucket = opts.archive_bucket
    newest = review.record_machine_version(client, bucket, lecture_id, machine)
    pointer = review.live(client, bucket, lecture_id, machine.language)
    if pointer is not None and pointer.version != newest.number:
        chosen = review.load_version(client, bucket, lecture_id, machine.language, pointer.version)
        if chosen.kind == "human" or pointer.approved:
            return PublishedTrack(chosen.track, chosen.number, machine_made=False)
    approved = pointer is not None and pointer.version == newest.number and pointer.approved
    return PublishedTrack(newest.track, newest.number, machine_made=not approved)


def _published_tracks(client, opts: StorageOptions, record: PublishRecord, unreviewed: str,
                      keep: dict[str, PublishedTrack] | None = None) -> tuple[tuple[PublishedTrack, ...], tuple[str, ...]]:
    """(what to publish, notes about languages held back); keep: languages to publish as they are."""
    from medialib.languages import language_name

    chosen, hidden = [], []
    lecture_id = record.lecture.ingested.lecture_id
    machines = _load_tracks(client, opts, record)
    versioned = True
    if machines:
        try:
            storage.check_conditional_writes(client, opts.archive_bucket)
        except OperatorError as e:
            # Learners still get the machine subtitles; translators cannot save versions here.
            log.warning("%s: publishing machine subtitles without versions: %s", lecture_id, e)
            versioned = False
    for machine in machines:
        pt = (keep or {}).get(machine.language) or (
            choose_published_track(client, opts, lecture_id, machine) if versioned
            else PublishedTrack(machine, 1, machine_made=True))
        if pt.machine_made and unreviewed == "hide":
            hidden.append(language_name(machine.language))
            continue
        chosen.append(pt)
    notes = (f"Subtitles in {', '.join(hidden)} are being checked by a translator and will appear "
             "here when approved.",) if hidden else ()
    return tuple(chosen), notes


_SEGMENT_SUFFIXES = (".m4s", ".mp4", ".ts", ".aac", ".m4a")


def _video_bytes(sent: storage.PublishReport, prefix: str, root: Path) -> int:
    """Bytes of video and audio segments (init segments included) that were sent."""
    total = 0
    for key in sent.uploaded:
        rel = key[len(prefix) + 1:]
        if rel.startswith("video/") and rel.endswith(_SEGMENT_SUFFIXES):
            total += (root / rel).stat().st_size
    return total


def _meta(record: PublishRecord, t: speech.Transcript | None) -> LectureMeta:
    ing, request = record.lecture.ingested, record.lecture.request
    return LectureMeta(lecture_id=ing.lecture_id, title=request.title, sha256=ing.sha256, speaker=request.speaker,
                       event=request.event, language=request.language or (t.language if t and t.words else None))


def _finish_publish(client, opts: StorageOptions, record: PublishRecord, bundle, meta: LectureMeta,
                    progress: Progress | None) -> Published:
    """Send the bundle folder (unchanged objects skipped), update the catalog, report."""
    ing, request = record.lecture.ingested, record.lecture.request
    prefix = keys.bundle_prefix(ing.lecture_id)
    publish_assets(client, opts.publish_bucket, player_assets())   # before any page names them
    sent = upload.publish_bundle(client, opts, bundle.root, prefix,
                                 progress=(lambda done, total: progress(done / total if total else 1.0))
                                 if progress else None)
    entry = {"id": ing.lecture_id, "title": request.title, "speaker": request.speaker, "event": request.event,
             "language": meta.language, "duration_s": round(ing.info.duration_s, 3),
             "languages": list(bundle.languages), "player": f"{prefix}/index.html", "master": f"{prefix}/master.m3u8",
             "poster": f"{prefix}/poster.jpg" if record.ladder.poster_key else None,
             # Optional: None unless the request (or a record stored before these fields) says.
             "event_date": getattr(request, "event_date", None),
             "recorded_date": getattr(request, "recorded_date", None)}
    _update_catalog_if_changed(client, opts, entry)
    return Published(lecture_id=ing.lecture_id, player_url=storage.public_url(opts, f"{prefix}/index.html"),
                     master_url=storage.public_url(opts, f"{prefix}/master.m3u8"),
                     uploaded_bytes=sent.uploaded_bytes, uploaded_count=len(sent.uploaded),
                     skipped_count=len(sent.skipped), languages=bundle.languages, notes=bundle.notes,
                     missing=tuple(p for p in record.plans if p.source == "missing"),
                     violations=tuple(v for tr in record.tracks for v in tr.violations),
                     video_bytes=_video_bytes(sent, prefix, bundle.root),
                     catalog_url=storage.public_url(opts, keys.CATALOG_PAGE))


def bundle_asset_urls() -> dict[str, str]:
    """The shared player files as a bundle's index.html (lectures/<id>/) names them."""
    return asset_urls(player_assets(), up=2)


def publish_stage(record: PublishRecord, opts: StorageOptions, home: Path, *,
                  unreviewed: str = "label", progress: Progress | None = None) -> Published:
    """Package the bundle from work/ and publish it: media first, the master playlist as the switch.

    The record is kept beside the original first, so `republish` can rebuild this bundle
    later from what is stored. Each language's machine track is kept as a machine version;
    what learners see is chosen by choose_published_track (a translator's live version wins).
    unreviewed: "label" (machine subtitles named machine-made until approved) or "hide".
    """
    ing = record.lecture.ingested
    client = storage.make_client(opts)
    storage.put_bytes(client, opts.archive_bucket, keys.publish_record(ing.lecture_id),
                      json.dumps({"schema": PUBLISH_RECORD_SCHEMA, "record": to_jsonable(record)},
                                 ensure_ascii=False).encode(), content_type="application/json")
    with cache.using(work_dir_for(home, ing.sha256)) as work:
        published = _publish_from(client, opts, record, work, unreviewed, progress)
    drop_published_renditions(client, opts, record)   # the publish bucket holds them now
    return published


def _publish_from(client, opts: StorageOptions, record: PublishRecord, work: Path, unreviewed: str,
                  progress: Progress | None) -> Published:
    ing = record.lecture.ingested
    ladder_dir = fetch_renditions(client, opts, record, work)
    tracks, hidden_notes = _published_tracks(client, opts, record, unreviewed)
    t = _load_transcript(opts, record.transcript.key) if record.transcript else None
    meta = _meta(record, t)
    bundle_dir = work / "bundle"
    shutil.rmtree(bundle_dir, ignore_errors=True)
    bundle = package_bundle(bundle_dir, meta, ing.info, record.ladder.ladder, ladder_dir, tracks, t,
                            ladder_dir / "poster.jpg" if record.ladder.poster_key else None,
                            lecture_notes(record) + hidden_notes, report=lecture_report(record.tracks, record.plans),
                            shared_assets=bundle_asset_urls())
    try:
        return _finish_publish(client, opts, record, bundle, meta, progress)
    finally:
        shutil.rmtree(bundle_dir, ignore_errors=True)


def _rendition_complete(folder: Path) -> bool:
    """A rendition folder with its playlist and every segment the playlist names."""
    playlist = folder / "index.m3u8"
    if not playlist.is_file():
        return False
    names = [ln.strip() for ln in playlist.read_text(encoding="utf-8").splitlines() if ln.strip() and
             not ln.startswith("#")]
    init = [ln.split('URI="', 1)[1].split('"', 1)[0] for ln in playlist.read_text(encoding="utf-8").splitlines()
            if ln.startswith("#EXT-X-MAP:") and 'URI="' in ln]
    return all((folder / n).is_file() for n in names + init)


def fetch_renditions(client, opts: StorageOptions, record: PublishRecord, work: Path) -> Path:
    """The lecture's renditions on this machine, in the folder the ladder stage encoded into.

    One local copy: what the ladder stage left here is used as it is. Otherwise the
    renditions come from work/ in the archive bucket while they are there, else from the
    published bundle (after a publish the archive keeps only the ladder's small files:
    drop_published_renditions). OperatorError when neither bucket has them.
    """
    ing = record.lecture.ingested
    prefix = record.ladder.prefix
    ladder_dir = work / Path(prefix).name
    renditions = record.ladder.ladder.renditions
    if all(_rendition_complete(ladder_dir / r.name) for r in renditions):
        return ladder_dir
    storage.download_tree(client, opts.archive_bucket, prefix, ladder_dir)   # small files, and renditions if kept
    video = f"{keys.bundle_prefix(ing.lecture_id)}/video"
    if (ladder_dir / Path(keys.ladder_published(prefix)).name).is_file():   # the bundle has this ladder's
        for r in renditions:
            if not _rendition_complete(ladder_dir / r.name):
                storage.download_tree(client, opts.publish_bucket, f"{video}/{r.name}", ladder_dir / r.name)
    missing = [r.name for r in renditions if not _rendition_complete(ladder_dir / r.name)]
    if missing:
        raise OperatorError(f"{ing.lecture_id}: its renditions are missing from bucket {opts.archive_bucket!r} "
                            f"({prefix}/) and from the published bundle in {opts.publish_bucket!r} ({video}/): "
                            f"{', '.join(missing)}; process the recording again to make them")
    return ladder_dir


def _listing(client, bucket: str, prefix: str) -> dict[str, int]:
    """{key relative to prefix: size} of every object under prefix/."""
    with storage.wrap_errors("list", bucket=bucket, key=prefix + "/", endpoint=storage.endpoint_of(client)):
        return {o["Key"][len(prefix) + 1:]: o["Size"]
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
                for o in page.get("Contents", ())}


def drop_published_renditions(client, opts: StorageOptions, record: PublishRecord) -> int:
    """Delete the archive's copy of each rendition the publish bucket holds in full; returns objects deleted.

    Only rendition folders under the ladder's work/ prefix are touched, and only when every
    file of the folder is published with the same name and size. The ladder's small files
    (ffmpeg's master playlist for CODECS, the poster) stay, as do originals, track versions,
    transcripts and peaks. Republishing then reads the renditions from the bundle.
    """
    ing = record.lecture.ingested
    prefix = record.ladder.prefix
    if not prefix.startswith(keys.work_prefix(ing.lecture_id) + "/ladder-"):
        raise ValueError(f"{prefix!r} is not a ladder prefix of {ing.lecture_id}")   # never anything else
    deleted = 0
    plan = []
    for r in record.ladder.ladder.renditions:
        archived = _listing(client, opts.archive_bucket, f"{prefix}/{r.name}")
        published = _listing(client, opts.publish_bucket, f"{keys.bundle_prefix(ing.lecture_id)}/video/{r.name}")
        if not published or any(published.get(rel) != size for rel, size in archived.items()):
            log.warning("%s: rendition %s is not published in full; the archive keeps its copy", ing.lecture_id,
                        r.name)
            return 0
        plan.append((r, archived))
    # The bundle now holds this ladder's renditions (the marker says so); other ladders' markers go.
    storage.put_bytes(client, opts.archive_bucket, keys.ladder_published(prefix),
                      json.dumps({"renditions": f"{keys.bundle_prefix(ing.lecture_id)}/video/"}).encode(),
                      content_type="application/json")
    for rel in _listing(client, opts.archive_bucket, keys.work_prefix(ing.lecture_id)):
        key = f"{keys.work_prefix(ing.lecture_id)}/{rel}"
        if rel.startswith("ladder-") and rel.endswith("/published.json") and key != keys.ladder_published(prefix):
            client.delete_object(Bucket=opts.archive_bucket, Key=key)
    for r, archived in plan:
        if not archived:
            continue
        doomed = [f"{prefix}/{r.name}/{rel}" for rel in archived]
        with storage.wrap_errors("delete from", bucket=opts.archive_bucket, key=f"{prefix}/{r.name}/",
                                 endpoint=storage.endpoint_of(client)):
            for i in range(0, len(doomed), 1000):
                client.delete_objects(Bucket=opts.archive_bucket,
                                      Delete={"Objects": [{"Key": k} for k in doomed[i:i + 1000]], "Quiet": True})
        deleted += len(doomed)
    if deleted:
        log.info("%s: %d rendition objects dropped from work/ (published)", ing.lecture_id, deleted)
    return deleted


def publish_subtitles(lecture_id: str, opts: StorageOptions, home: Path, *, languages: Sequence[str] | None = None,
                      unreviewed: str = "label", progress: Progress | None = None) -> Published:
    """Republish only the subtitles: new v<N> files, their playlists, transcript, manifest, page.

    For a corrected or approved track. No video or audio segment is read or sent: the
    master playlist is the published one with its subtitle lines rewritten (sent only if
    they changed), and the media's first presentation time comes from the published
    manifest. languages: republish these (default: all); the others stay as published.
    Old v<N> files stay in the bucket, so a player that loaded them keeps working.
    """
    record = load_publish_record(lecture_id, opts)
    ing = record.lecture.ingested
    client = storage.make_client(opts)
    prefix = keys.bundle_prefix(ing.lecture_id)
    master = storage.get_bytes(client, opts.publish_bucket, f"{prefix}/master.m3u8")
    manifest_data = storage.get_bytes(client, opts.publish_bucket, f"{prefix}/manifest.json")
    if master is None or manifest_data is None:
        raise NotFoundError(f"{lecture_id}: not published in bucket {opts.publish_bucket!r} (no {prefix}/master.m3u8 "
                            "or manifest.json); republish it in full first: medialib lectures republish "
                            f"{lecture_id}")
    manifest = json.loads(manifest_data)
    keep = None
    if languages is not None:
        wanted = set(languages)
        keep = {s["language"]: PublishedTrack(review.load_version(client, opts.archive_bucket, lecture_id,
                                                                  s["language"], s["version"]).track,
                                              s["version"], machine_made=bool(s.get("machine_made")))
                for s in manifest.get("subtitles", ())
                if s["language"] not in wanted and s.get("version") and
                s["version"] in review.list_versions(client, opts.archive_bucket, lecture_id, s["language"])}
    tracks, hidden_notes = _published_tracks(client, opts, record, unreviewed, keep)
    first_pts = manifest.get("first_pts_s")
    if first_pts is None:
        first_pts = _first_pts_from_published_vtt(client, opts, prefix, manifest)
    t = _load_transcript(opts, record.transcript.key) if record.transcript else None
    meta = _meta(record, t)
    with cache.using(work_dir_for(home, ing.sha256)) as work:
        bundle_dir = work / "subtitles-bundle"
        shutil.rmtree(bundle_dir, ignore_errors=True)
        master_text = master.decode("utf-8")
        bundle = package_subtitles(bundle_dir, meta, ing.info, record.ladder.ladder, tracks, t,
                                   master=lambda subs: patch_master_subtitles(master_text, subs),
                                   first_pts_s=first_pts, poster=record.ladder.poster_key is not None,
                                   notes=lecture_notes(record) + hidden_notes,
                                   report=lecture_report(record.tracks, record.plans),
                                   shared_assets=bundle_asset_urls())
        try:
            return _finish_publish(client, opts, record, bundle, meta, progress)
        finally:
            shutil.rmtree(bundle_dir, ignore_errors=True)


def _first_pts_from_published_vtt(client, opts: StorageOptions, prefix: str, manifest: dict) -> float:
    """X-TIMESTAMP-MAP of a published WebVTT, for bundles whose manifest predates first_pts_s."""
    import re

    for s in manifest.get("subtitles", ()):
        data = storage.get_bytes(client, opts.publish_bucket, f"{prefix}/{s['vtt']}")
        m = re.search(rb"X-TIMESTAMP-MAP=MPEGTS:(\d+)", data or b"")
        if m:
            return int(m.group(1)) / 90000
    raise OperatorError(f"{prefix}: the published bundle does not say when its media starts; "
                        "republish it in full once (medialib lectures republish ID)")


PUBLISH_RECORD_SCHEMA = 1   # bump when PublishRecord (or a record inside it) changes shape


def load_publish_record(lecture_id: str, opts: StorageOptions) -> PublishRecord:
    """What a lecture was last published from; InputError when it was never published here."""
    check_lecture_id(lecture_id)
    key = keys.publish_record(lecture_id)
    data = storage.get_bytes(storage.make_client(opts), opts.archive_bucket, key)
    if data is None:
        raise NotFoundError(f"{lecture_id}: no publish record in bucket {opts.archive_bucket!r} ({key}); "
                         "it was never published, or was published by a medialib older than 0.2: "
                         "process the recording again")
    stored = json.loads(data)
    if stored.get("schema") != PUBLISH_RECORD_SCHEMA:
        raise OperatorError(f"{key}: publish record schema {stored.get('schema')!r}, this medialib reads "
                         f"{PUBLISH_RECORD_SCHEMA}; process the recording again")
    return from_jsonable(PublishRecord, stored["record"], key)


def republish_lecture(lecture_id: str, opts: StorageOptions, home: Path, *,
                      unreviewed: str = "label", progress: Progress | None = None) -> Published:
    """Rebuild the page, playlists and subtitles from what is stored and send what changed.

    Nothing is transcoded or transcribed: the renditions, tracks and transcript are read
    from work/ in the archive bucket; unchanged objects (the segments) are not sent again.
    """
    return publish_stage(load_publish_record(lecture_id, opts), opts, home, unreviewed=unreviewed,
                         progress=progress)


def republish_failure(lecture_id: str, exc: BaseException) -> RepublishFailure:
    """What an operator is told about one lecture a republish run could not do (the run goes on)."""
    message = str(exc) if isinstance(exc, MedialibError) else f"{type(exc).__name__}: {exc}"
    return RepublishFailure(lecture_id=lecture_id, message=message, user_fault=isinstance(exc, InputError))


def lecture_report(tracks: tuple[TrackResult, ...], plans: tuple[LanguagePlan, ...]) -> dict:
    """What staff need to know: where each language came from, what is missing, glossary misses."""
    return {
        "languages": [{"language": p.language, "source": p.source, "detail": p.detail, "fix": p.fix or None}
                      for p in plans],
        "tracks": [{"language": t.language, "origin": t.origin, "model": t.model, "cues": t.cue_count,
                    "detail": t.detail} for t in tracks],
        "glossary_violations": {t.language: list(t.violations) for t in tracks if t.violations},
    }


def _update_catalog_if_changed(client, opts: StorageOptions, entry: dict) -> None:
    """Rewrite catalog.json only when this lecture's entry changed, then rebuild the catalog page and search.

    An unlisted lecture stays unlisted when republished. The rebuild runs after every
    publish (a subtitles republish changes the passages even when the entry is the same).
    """
    from datetime import datetime, timezone

    current = next((o for o in catalog.read_catalog(client, opts) if o.get("id") == entry["id"]), None)
    if current is not None and current.get("unlisted"):
        entry = {**entry, "unlisted": True}
    if current is None or {k: v for k, v in current.items() if k != "published_at"} != entry:
        catalog.update_catalog(client, opts, {**entry, "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    catalog.rebuild_catalog_site(client, opts)
