"""Stages for one long recording across workers: the ladder in chunks, Whisper in windows.

Each stage takes and returns small records and object keys, so flows/chunked.py can run
every chunk and window as its own task on any worker; inputs and outputs travel through
the archive bucket (work/<lecture>/...). The results are what the one-piece stages
give (a LadderResult with the same folder layout under the same prefix; a transcript
under the same key), so publishing cannot tell the difference.

    ladder:  plan_chunked_ladder -> ladder_chunk_stage (per chunk) ┐
                                 -> ladder_audio_stage (once)      ┴-> join_ladder_stage
    speech:  plan_windows_stage (cuts, uploads each window's WAV) -> transcribe_window_stage
             (per window) -> merge_windows_stage
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medialib import keys, media, speech, storage
from medialib.config import ChunkOptions, LadderOptions, SpeechOptions, StorageOptions
from medialib.ids import options_digest
from medialib.media import chunks
from medialib.media.ffmpeg import Progress
from medialib.pipeline.plan import AudioRole
from medialib.pipeline.records import Ingested, LadderResult, TranscriptResult
from medialib.pipeline.stages import (
    _local_copy,
    _local_pcm,
    fetch_original,
    store_transcript,
    work_dir_for,
)
from medialib.speech import windows as speech_windows
from medialib.storage import cache

log = logging.getLogger(__name__)


def wants_chunked_ladder(info: media.MediaInfo, opts: ChunkOptions) -> bool:
    return info.has_video and info.duration_s > opts.ladder_above_s


def wants_windows(duration_s: float, opts: ChunkOptions) -> bool:
    return duration_s > opts.speech_above_s


@dataclass(frozen=True)
class ChunkedLadder:
    """The ladder planned once, and its chunks; prefix: where ladder_stage would put the ladder."""

    ladder: media.Ladder
    chunks: tuple[chunks.Chunk, ...]
    prefix: str
    audio_stream: int
    floor_language: str | None
    interpretations: tuple[tuple[int, str], ...]

    def chunk_prefix(self, chunk: chunks.Chunk) -> str:
        return f"{self.prefix}-parts/chunk-{chunk.index:04d}"

    @property
    def audio_prefix(self) -> str:
        return f"{self.prefix}-parts/audio"


def plan_chunked_ladder(ing: Ingested, ladder_opts: LadderOptions, chunk_opts: ChunkOptions, *,
                        roles: tuple[AudioRole, ...] = ()) -> ChunkedLadder:
    floor = next((r for r in roles if r.role == "floor"), AudioRole(0, "floor", None))
    interpretations = tuple((r.stream, r.language) for r in roles if r.role == "interpretation")
    ladder = media.plan_ladder(ing.info, ladder_opts, audio_stream=floor.stream, floor_language=floor.language,
                               interpretations=interpretations)
    plan = chunks.plan_chunks(ing.info.duration_s, ladder, ladder_opts.gop_s, chunk_opts.ladder_chunk_s)
    # the digest ladder_stage uses: the same settings give the same prefix, chunked or not
    digest = options_digest(ladder_opts, floor.stream, floor.language, interpretations)
    return ChunkedLadder(ladder, plan, keys.ladder_prefix(ing.lecture_id, digest), floor.stream, floor.language,
                         interpretations)


def ladder_chunk_stage(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path,
                       plan: ChunkedLadder, chunk: chunks.Chunk, *, progress: Progress | None = None) -> str:
    """Every video rung of one chunk, uploaded; returns its prefix."""
    with cache.using(work_dir_for(home, ing.sha256)):   # kept from cache trims while in use
        source = fetch_original(ing, opts, home)
        local = work_dir_for(home, ing.sha256) / f"{Path(plan.prefix).name}-chunk-{chunk.index:04d}"
        chunks.encode_chunk(source, ing.info, plan.ladder, ladder_opts, chunk, local, progress=progress)
        prefix = plan.chunk_prefix(chunk)
        storage.upload_tree(storage.make_client(opts), opts, opts.archive_bucket, prefix, local)
        shutil.rmtree(local, ignore_errors=True)
        return prefix


def ladder_audio_stage(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path,
                       plan: ChunkedLadder, *, progress: Progress | None = None) -> str | None:
    """The audio renditions, whole, uploaded; None for a recording without sound."""
    if not plan.ladder.audio_renditions:
        return None
    with cache.using(work_dir_for(home, ing.sha256)):   # kept from cache trims while in use
        source = fetch_original(ing, opts, home)
        local = work_dir_for(home, ing.sha256) / f"{Path(plan.prefix).name}-audio"
        chunks.encode_audio(source, ing.info, plan.ladder, ladder_opts, local, progress=progress)
        storage.upload_tree(storage.make_client(opts), opts, opts.archive_bucket, plan.audio_prefix, local)
        shutil.rmtree(local, ignore_errors=True)
        return plan.audio_prefix


def join_ladder_stage(ing: Ingested, opts: StorageOptions, home: Path, plan: ChunkedLadder,
                      chunk_prefixes: Sequence[str], audio_prefix: str | None) -> LadderResult:
    """The chunks and the audio joined into the ladder's layout, with the poster, uploaded where ladder_stage puts it."""
    with cache.using(work_dir_for(home, ing.sha256)):   # kept from cache trims while in use
        client = storage.make_client(opts)
        work = work_dir_for(home, ing.sha256) / f"{Path(plan.prefix).name}-join"
        shutil.rmtree(work, ignore_errors=True)
        parts = []
        for i, prefix in enumerate(chunk_prefixes):
            storage.download_tree(client, opts.archive_bucket, prefix + "/", work / f"chunk-{i:04d}")
            parts.append(work / f"chunk-{i:04d}")
        audio_dir = None
        if audio_prefix:
            audio_dir = work / "audio"
            storage.download_tree(client, opts.archive_bucket, audio_prefix + "/", audio_dir)
        local = work_dir_for(home, ing.sha256) / Path(plan.prefix).name
        chunks.join_chunks(parts, audio_dir, plan.ladder, local)
        shutil.rmtree(work, ignore_errors=True)
        poster = media.make_poster(fetch_original(ing, opts, home), ing.info, local / "poster.jpg")
        storage.upload_tree(client, opts, opts.archive_bucket, plan.prefix, local)
        return LadderResult(prefix=plan.prefix, ladder=plan.ladder,
                            poster_key=f"{plan.prefix}/poster.jpg" if poster else None)


# ---- speech ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowJob:
    """One window of a speech track and the key of its own WAV in the archive bucket."""

    window: speech_windows.Window
    wav_key: str
    audio_key: str        # the whole track's WAV (names the transcript)


def plan_windows_stage(audio_key: str, opts: StorageOptions, chunk_opts: ChunkOptions,
                       home: Path) -> tuple[WindowJob, ...]:
    """Cut the track at its pauses; each window's WAV uploaded so a worker fetches only its own."""
    client = storage.make_client(opts)
    stem = Path(audio_key).stem
    jobs = []
    with _local_pcm(opts, audio_key, home) as wav:   # speech audio is stored as FLAC: a PCM copy while cutting
        wins = speech_windows.plan_windows(wav, chunk_opts.speech_window_s, search_s=chunk_opts.speech_search_s)
        for w in wins:
            key = f"{Path(audio_key).parent}/windows-{stem}/{w.start_ms:010d}-{w.end_ms:010d}.wav"
            part = wav.with_name(f".{stem}-window-{w.index}.wav")
            speech_windows.cut_window(wav, w, part)
            storage.put_file(client, opts.archive_bucket, key, part)
            part.unlink(missing_ok=True)
            jobs.append(WindowJob(w, key, audio_key))
    return tuple(jobs)


def transcribe_window_stage(job: WindowJob, lecture_id: str, opts: StorageOptions, speech_opts: SpeechOptions,
                            home: Path, *, language: str | None = None, task: str = "transcribe",
                            prompt_terms: tuple[str, ...] = ()) -> str:
    """One window through Whisper; its transcript (recording timeline) stored beside its WAV; returns the key."""
    with _local_copy(opts, job.wav_key, home) as wav:
        try:
            t = speech_windows.transcribe_window(wav, job.window, speech_opts, language=language, task=task,
                                                 prompt_terms=prompt_terms)
        finally:
            wav.unlink(missing_ok=True)   # one window's PCM, read once: the cache keeps no copy
    digest = options_digest(speech_opts, language, prompt_terms, task)
    key = job.wav_key.removesuffix(".wav") + f"-{task}-{digest}.json"
    storage.put_bytes(storage.make_client(opts), opts.archive_bucket, key,
                      json.dumps(t.to_json(), ensure_ascii=False).encode(), content_type="application/json")
    return key


def window_language(opts: StorageOptions, transcript_key: str) -> str:
    """The language Whisper found in a window (window 0 decides for the rest when staff gave none)."""
    return _load(opts, transcript_key).language


def merge_windows_stage(jobs: Sequence[WindowJob], transcript_keys: Sequence[str], lecture_id: str,
                        opts: StorageOptions, speech_opts: SpeechOptions, *, language: str | None = None,
                        task: str = "transcribe", prompt_terms: tuple[str, ...] = ()) -> TranscriptResult:
    """The windows' words merged, stored under the key transcribe_stage uses."""
    parts = [_load(opts, k) for k in transcript_keys]
    t = speech_windows.merge_windows([j.window for j in jobs], parts, max_repeats=speech_opts.max_repeats)
    return store_transcript(t, jobs[0].audio_key, lecture_id, opts, speech_opts, language, task, prompt_terms)


def _load(opts: StorageOptions, key: str) -> speech.Transcript:
    data = storage.get_bytes(storage.make_client(opts), opts.archive_bucket, key)
    if data is None:
        from medialib.errors import OperatorError

        raise OperatorError(f"{key}: window transcript missing from the archive bucket; run the lecture again")
    return speech.Transcript.from_json(json.loads(data))
