"""One long recording across workers: a task per ladder chunk and per Whisper window.

    chunked_ladder:      plan ─┬─ chunk 0 ─┐
                               ├─ chunk … ─┼─ join (+ poster) -> LadderResult
                               └─ audio ───┘
    windowed_transcript: cut windows ─ window 0 (language) ─┬─ window 1 ─┐
                                                            └─ window … ─┴─ merge -> TranscriptResult

For the lead to call from process_lecture instead of ladder_task / transcribe_task when
a recording is longer than [chunks] ladder_above_s / speech_above_s (use_chunked_ladder,
use_windows); the results are the same records under the same keys, so nothing after
them changes. Tasks take and return records and object keys only (inputs and outputs
go through the archive bucket), so any worker can run any of them:

- distributed=False: .submit() into the calling flow's task runner (threads on this worker,
  capped by flow.task_workers);
- distributed=True: .delay() to Prefect task workers on other machines (each runs
  `serve_tasks()`; needs the cluster's result storage, which `medialib deploy` sets up).
  Not yet exercised on the cluster: tested here with distributed=False only.

Window 0 runs first when no language was given: the others are then decoded in the
language it found, as one pass would. Only TransientError is retried; every task is
cached on content like process_lecture's stages.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from medialib.config import ChunkOptions, FlowOptions, LadderOptions, SpeechOptions, StorageOptions
from medialib.pipeline import chunked
from medialib.pipeline.records import Ingested, LadderResult, TranscriptResult

from .process_lecture import _key, _transient_only
from .progress import reporter

use_chunked_ladder = chunked.wants_chunked_ladder
use_windows = chunked.wants_windows


@task(name="ladder-chunk", cache_key_fn=_key("ladder-chunk", "ladder_opts", "plan", "chunk"), persist_result=True,
      retry_condition_fn=_transient_only)
def ladder_chunk_task(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path,
                      plan: chunked.ChunkedLadder, chunk) -> str:
    return chunked.ladder_chunk_stage(ing, opts, ladder_opts, home, plan, chunk,
                                      progress=reporter(f"ladder chunk {chunk.index}", get_run_logger()))


@task(name="ladder-audio", cache_key_fn=_key("ladder-audio", "ladder_opts", "plan"), persist_result=True,
      retry_condition_fn=_transient_only)
def ladder_audio_task(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, home: Path,
                      plan: chunked.ChunkedLadder) -> str | None:
    return chunked.ladder_audio_stage(ing, opts, ladder_opts, home, plan,
                                      progress=reporter("ladder audio", get_run_logger()))


@task(name="ladder-join", cache_key_fn=_key("ladder-join", "plan", "chunk_prefixes", "audio_prefix"),
      persist_result=True, retry_condition_fn=_transient_only)
def ladder_join_task(ing: Ingested, opts: StorageOptions, home: Path, plan: chunked.ChunkedLadder,
                     chunk_prefixes: list[str], audio_prefix: str | None) -> LadderResult:
    return chunked.join_ladder_stage(ing, opts, home, plan, chunk_prefixes, audio_prefix)


@task(name="speech-windows", cache_key_fn=_key("speech-windows", "audio_key", "chunk_opts"), persist_result=True,
      retry_condition_fn=_transient_only)
def plan_windows_task(ing: Ingested, audio_key: str, opts: StorageOptions, chunk_opts: ChunkOptions, home: Path):
    return chunked.plan_windows_stage(audio_key, opts, chunk_opts, home)


@task(name="transcribe-window", cache_key_fn=_key("transcribe-window", "job", "speech_opts", "language", "task",
                                                  "prompt_terms"),
      persist_result=True, retry_condition_fn=_transient_only)
def transcribe_window_task(ing: Ingested, job, opts: StorageOptions, speech_opts: SpeechOptions, home: Path,
                           language: str | None, task: str = "transcribe", prompt_terms: tuple[str, ...] = ()) -> str:
    return chunked.transcribe_window_stage(job, ing.lecture_id, opts, speech_opts, home, language=language,
                                           task=task, prompt_terms=prompt_terms)


@task(name="merge-windows", retry_condition_fn=_transient_only)
def merge_windows_task(ing: Ingested, jobs, transcript_keys: list[str], opts: StorageOptions,
                       speech_opts: SpeechOptions, language: str | None, task: str = "transcribe",
                       prompt_terms: tuple[str, ...] = ()) -> TranscriptResult:
    return chunked.merge_windows_stage(jobs, transcript_keys, ing.lecture_id, opts, speech_opts, language=language,
                                       task=task, prompt_terms=prompt_terms)


_chunk, _audio, _join = ladder_chunk_task, ladder_audio_task, ladder_join_task
_plan_w, _window, _merge = plan_windows_task, transcribe_window_task, merge_windows_task

TASKS = (ladder_chunk_task, ladder_audio_task, ladder_join_task, plan_windows_task, transcribe_window_task,
         merge_windows_task)


def serve_tasks() -> None:
    """Run on a machine that should take chunks and windows of distributed runs (blocks)."""
    from prefect.task_worker import serve

    serve(ladder_chunk_task, ladder_audio_task, transcribe_window_task)


def _start(t, distributed: bool, *args):
    return t.delay(*args) if distributed else t.submit(*args)


def _retrying(flow_opts: FlowOptions | None, *tasks):
    """The tasks with this run's retry settings (process_lecture's _with_retries, for these tasks)."""
    if flow_opts is None:
        return tasks
    return tuple(t.with_options(retries=flow_opts.retries, retry_delay_seconds=flow_opts.retry_delays()) for t in tasks)


def chunked_ladder(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, chunk_opts: ChunkOptions,
                   home: Path, roles=(), *, distributed: bool = False,
                   flow_opts: FlowOptions | None = None) -> LadderResult:
    """The ladder_stage result, made by one task per chunk plus one for the audio, then a join."""
    ladder_audio_task, ladder_chunk_task, ladder_join_task = _retrying(flow_opts, _audio, _chunk, _join)
    plan = chunked.plan_chunked_ladder(ing, ladder_opts, chunk_opts, roles=tuple(roles))
    get_run_logger().info("ladder in %d chunks of ~%.0f s", len(plan.chunks), chunk_opts.ladder_chunk_s)
    audio = _start(ladder_audio_task, distributed, ing, opts, ladder_opts, home, plan)
    parts = [_start(ladder_chunk_task, distributed, ing, opts, ladder_opts, home, plan, c) for c in plan.chunks]
    return ladder_join_task(ing, opts, home, plan, [p.result() for p in parts], audio.result())


def windowed_transcript(ing: Ingested, audio_key: str, opts: StorageOptions, speech_opts: SpeechOptions,
                        chunk_opts: ChunkOptions, home: Path, language: str | None, task: str = "transcribe",
                        prompt_terms: tuple[str, ...] = (), *, distributed: bool = False,
                        flow_opts: FlowOptions | None = None) -> TranscriptResult:
    """The transcribe_stage result, made by one task per window, then a merge."""
    plan_windows_task, transcribe_window_task, merge_windows_task = _retrying(flow_opts, _plan_w, _window, _merge)
    jobs = plan_windows_task(ing, audio_key, opts, chunk_opts, home)
    get_run_logger().info("speech in %d windows of ~%.0f s", len(jobs), chunk_opts.speech_window_s)
    keys: list = [None] * len(jobs)
    requested = language  # names the transcript, as transcribe_stage names it
    if language is None:  # window 0 decides the language, as in one pass
        keys[0] = transcribe_window_task(ing, jobs[0], opts, speech_opts, home, None, task, prompt_terms)
        language = chunked.window_language(opts, keys[0]) if task == "transcribe" else None
    futures = {i: _start(transcribe_window_task, distributed, ing, jobs[i], opts, speech_opts, home, language, task,
                         prompt_terms) for i in range(len(jobs)) if keys[i] is None}
    for i, f in futures.items():
        keys[i] = f.result()
    return merge_windows_task(ing, jobs, keys, opts, speech_opts, requested, task, prompt_terms)
