"""One long recording across workers: a task per ladder chunk and per Whisper window.

    chunked_ladder:      plan ─┬─ chunk 0 ─┐
                               ├─ chunk … ─┼─ join (+ poster) -> LadderResult
                               └─ audio ───┘
    windowed_transcript: cut windows ─ window 0 (language) ─┬─ window 1 ─┐
                                                            └─ window … ─┴─ merge -> TranscriptResult

process_lecture calls these instead of ladder_task / transcribe_task when
a recording is longer than [chunks] ladder_above_s / speech_above_s (use_chunked_ladder,
use_windows); the results are the same records under the same keys, so nothing after
them changes. Tasks take and return records and object keys only (inputs and outputs
go through the archive bucket), so any worker can run any of them:

- distributed=False: .submit() into the calling flow's task runner (threads on this worker,
  capped by flow.task_workers);
- distributed=True: .delay() to Prefect task workers on any machine (`medialib worker start`
  runs one beside its process worker: `serve_tasks()`). The parameters and results travel
  through the cluster's result storage (the archive bucket, `prefect-results/`); storage
  and home are the task worker's own (the task gets None for them), and each task holds
  one of its machine's slots (flow.encoders_per_machine, flow.transcribers_per_machine).
  A task worker names each run it takes after itself; a run whose task worker Prefect's
  server no longer knows (the machine died) is handed out again (_results).
- distributed=None (process_lecture): True on a Prefect server where task workers serve
  these tasks and [chunks] distribute is on; else False.

Window 0 runs first when no language was given: the others are then decoded in the
language it found, as one pass would. Only TransientError is retried; every task is
cached on content like process_lecture's stages.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from prefect import get_run_logger, task

from medialib.config import ChunkOptions, FlowOptions, LadderOptions, SpeechOptions, StorageOptions, medialib_home
from medialib.errors import OperatorError
from medialib.pipeline import chunked
from medialib.pipeline.records import Ingested, LadderResult, TranscriptResult
from medialib.procs import machine_slot

from .process_lecture import _key, _transient_only, settings
from .progress import reporter

use_chunked_ladder = chunked.wants_chunked_ladder
use_windows = chunked.wants_windows
log = logging.getLogger(__name__)


@contextlib.contextmanager
def _on_this_machine(opts: StorageOptions | None, home: Path | None, slot: str):
    """(storage, home) for a task, holding one of this machine's slots of its kind: the caller's,
    or (None: a task worker's run) this machine's. In the lecture's own run too: two windows
    transcribed at once in one process would double Whisper's memory and share its cores."""
    s = settings()
    limit = s.flow.encoders_per_machine if slot == "encode" else s.flow.transcribers_per_machine
    if opts is not None:
        with machine_slot(slot, limit, home / "slots"):
            yield opts, home
        return
    from medialib.storage.embedded import resolve_storage

    home = medialib_home()
    with machine_slot(slot, limit, home / "slots"):
        yield resolve_storage(s), home


RUNNER = "@"   # a task run a task worker took is renamed NAME@HOST-PID (that worker's id)


@task(name="ladder-chunk", cache_key_fn=_key("ladder-chunk", "ladder_opts", "plan", "chunk"), persist_result=True,
      retry_condition_fn=_transient_only)
def ladder_chunk_task(ing: Ingested, opts: StorageOptions | None, ladder_opts: LadderOptions, home: Path | None,
                      plan: chunked.ChunkedLadder, chunk) -> str:
    with _on_this_machine(opts, home, "encode") as (opts, home):
        return chunked.ladder_chunk_stage(ing, opts, ladder_opts, home, plan, chunk,
                                          progress=reporter(f"ladder chunk {chunk.index}", get_run_logger()))


@task(name="ladder-audio", cache_key_fn=_key("ladder-audio", "ladder_opts", "plan"), persist_result=True,
      retry_condition_fn=_transient_only)
def ladder_audio_task(ing: Ingested, opts: StorageOptions | None, ladder_opts: LadderOptions, home: Path | None,
                      plan: chunked.ChunkedLadder) -> str | None:
    with _on_this_machine(opts, home, "encode") as (opts, home):
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
def transcribe_window_task(ing: Ingested, job, opts: StorageOptions | None, speech_opts: SpeechOptions,
                           home: Path | None, language: str | None, task: str = "transcribe",
                           prompt_terms: tuple[str, ...] = ()) -> str:
    with _on_this_machine(opts, home, "transcribe") as (opts, home):
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


SERVED = (ladder_chunk_task, ladder_audio_task, transcribe_window_task)   # what task workers run


def serve_tasks() -> None:
    """Take chunks and windows of distributed runs on this machine until stopped (blocks).

    Two Prefect task workers in one process: one for the ladder's tasks, one for Whisper's,
    each taking at most this machine's slots of its kind (flow.encoders_per_machine,
    flow.transcribers_per_machine; 0 there: flow.task_workers) so a busy machine leaves
    runs to idle ones. Tasks also hold the machine's slots while they run, shared with the
    lecture runs of the process worker beside it. Each Prefect task worker holds up to two
    runs beyond its limit, waiting: one received (its subscription acknowledges before the
    limit is taken) and one the server has sent and waits to have acknowledged (that one
    goes back to the queue if the connection drops).
    """
    import asyncio

    from prefect.task_worker import TaskWorker

    s = settings()
    opts = dict(retries=s.flow.retries, retry_delay_seconds=s.flow.retry_delays())
    if block := os.environ.get("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"):
        # Named, not inherited: the submitter's run context (which Prefect hands the task worker)
        # carries its result storage without the block's id, and Prefect cannot write through that.
        opts["result_storage"] = block
    encoders = s.flow.encoders_per_machine or s.flow.task_workers
    transcribers = s.flow.transcribers_per_machine or s.flow.task_workers
    groups = (((ladder_chunk_task, ladder_audio_task), encoders), ((transcribe_window_task,), transcribers))

    class NamingTaskWorker(TaskWorker):
        """Prefect's task worker, naming each run it takes after itself (see _results).

        Named on receipt, before the run waits for this worker's limit: a run received and
        waiting on a machine that then dies is found too; and named again in the run the
        engine is given, since the server takes a run's name from the engine's state events.
        (TaskWorker._acquire_token is called once per received run, right after the server
        hands it over, _safe_submit_scheduled_task_run once it has a slot; Prefect pinned.)
        """

        async def _safe_submit_scheduled_task_run(self, task_run):
            if RUNNER not in task_run.name:
                task_run.name = f"{task_run.name}{RUNNER}{self.client_id}"
            return await super()._safe_submit_scheduled_task_run(task_run)

        async def _acquire_token(self, task_run_id) -> bool:
            try:
                run = await self._client.read_task_run(task_run_id)
                if RUNNER not in run.name:
                    await self._client.request("PATCH", "/task_runs/{id}", path_params={"id": task_run_id},
                                               json={"name": f"{run.name}{RUNNER}{self.client_id}"})
            except Exception as e:  # noqa: BLE001 - only a name: the run goes on all the same
                log.warning("could not name task run %s after this machine: %s", task_run_id, e)
            return await super()._acquire_token(task_run_id)

    async def main() -> None:
        workers = [NamingTaskWorker(*(t.with_options(**opts) for t in tasks), limit=n) for tasks, n in groups]
        await asyncio.gather(*(w.astart() for w in workers))

    log.info("serving ladder chunks (%d at once) and speech windows (%d at once)", encoders, transcribers)
    asyncio.run(main())


def task_workers_serving(chunk_opts: ChunkOptions) -> bool:
    """Distribute? A Prefect server is configured and some task worker serves chunks and windows."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    if not chunk_opts.distribute or not get_current_settings().api.url:   # Prefect's own server for one run
        return False

    try:
        with get_client(sync_client=True) as client:
            r = client.request("POST", "/task_workers/filter",
                               json={"task_worker_filter": {"task_keys": [t.task_key for t in SERVED]}})
            r.raise_for_status()
            workers = r.json()
    except Exception as e:  # noqa: BLE001 - an older server, a hiccup: this run does its chunks itself
        log.warning("could not ask Prefect's server for task workers (%s); chunks run in this run", e)
        return False
    served = {k for w in workers for k in w.get("task_keys", ())}
    return all(t.task_key in served for t in SERVED)


def _start(t, distributed: bool, *args):
    return _Delayed(t, args) if distributed else t.submit(*args)


class _Delayed:
    """A task run on the task workers, and how to hand it out again if its task worker goes away."""

    def __init__(self, t, args):
        self.task, self.args = t, args
        self.future = t.delay(*args)
        self.lost_polls = 0

    def again(self, runner: str) -> None:
        from prefect.client.orchestration import get_client
        from prefect.states import Crashed

        lost = self.future.task_run_id
        get_run_logger().warning("%s: its task worker %s went away; handed out again", self.task.name, runner)
        try:   # so Prefect's UI does not show it running forever
            with get_client(sync_client=True) as client:
                client.set_task_run_state(lost, Crashed(message=f"its task worker {runner} went away"), force=True)
        except Exception as e:  # noqa: BLE001 - only the old run's state
            log.warning("could not mark task run %s crashed: %s", lost, e)
        self.future = self.task.delay(*self.args)
        self.lost_polls = 0


def _results(futures, distributed: bool, timeout_s: float, poll_s: float = 5.0, lost_after: int = 2) -> list:
    """The futures' results, in order.

    Distributed: a run whose task worker has gone (it named the run, the server no longer
    knows it) for `lost_after` polls is handed out again (a finished chunk comes from the
    cache); one not final within timeout_s fails the lecture's run.
    """
    if not distributed:
        return [f.result() for f in futures]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId

    deadline = time.monotonic() + timeout_s
    waiting = list(futures)
    while waiting:
        try:
            with get_client(sync_client=True) as client:
                runs = {r.id: r for r in client.read_task_runs(task_run_filter=TaskRunFilter(
                    id=TaskRunFilterId(any_=[d.future.task_run_id for d in waiting])))}
                r = client.request("POST", "/task_workers/filter", json={"task_worker_filter": None})
                alive = {w["identifier"] for w in r.json()} if r.status_code == 200 else None
        except Exception as e:  # noqa: BLE001 - Prefect's server restarting: wait it out (the deadline holds)
            log.warning("could not read the task runs (%s); waiting", e)
            runs, alive = {}, None
        still = []
        for d in waiting:
            run = runs.get(d.future.task_run_id)
            if run is None and alive is None:   # nothing known this time
                still.append(d)
                continue
            if run is not None and run.state is not None and run.state.is_final():
                continue
            runner = run.name.partition(RUNNER)[2] if run is not None else ""
            if runner and alive and runner not in alive:   # none known: Prefect's server just restarted
                d.lost_polls += 1
                if d.lost_polls >= lost_after:
                    d.again(runner)
            else:
                d.lost_polls = 0
            still.append(d)
        waiting = still
        if waiting and time.monotonic() > deadline:
            raise OperatorError(
                f"task run {waiting[0].future.task_run_id} did not finish within {timeout_s:.0f} s ([chunks] "
                "task_timeout_s); run the lecture again (finished chunks are reused)")
        if waiting:   # returns as soon as the first one is done, else after poll_s
            try:
                waiting[0].future.wait(timeout=poll_s)
            except Exception:  # noqa: BLE001 - the server away: the next poll says
                time.sleep(poll_s)
    return [d.future.result() for d in futures]


def _retrying(flow_opts: FlowOptions | None, *tasks):
    """The tasks with this run's retry settings (process_lecture's _with_retries, for these tasks)."""
    if flow_opts is None:
        return tasks
    return tuple(t.with_options(retries=flow_opts.retries, retry_delay_seconds=flow_opts.retry_delays()) for t in tasks)


def chunked_ladder(ing: Ingested, opts: StorageOptions, ladder_opts: LadderOptions, chunk_opts: ChunkOptions,
                   home: Path, roles=(), *, distributed: bool | None = None,
                   flow_opts: FlowOptions | None = None) -> LadderResult:
    """The ladder_stage result, made by one task per chunk plus one for the audio, then a join."""
    ladder_audio_task, ladder_chunk_task, ladder_join_task = _retrying(flow_opts, _audio, _chunk, _join)
    if distributed is None:
        distributed = task_workers_serving(chunk_opts)
    plan = chunked.plan_chunked_ladder(ing, ladder_opts, chunk_opts, roles=tuple(roles))
    get_run_logger().info("ladder in %d chunks of ~%.0f s%s", len(plan.chunks), chunk_opts.ladder_chunk_s,
                          ", on the task workers" if distributed else "")
    there = (None, None) if distributed else (opts, home)   # a task worker uses its own storage settings and home
    audio = _start(ladder_audio_task, distributed, ing, there[0], ladder_opts, there[1], plan)
    parts = [_start(ladder_chunk_task, distributed, ing, there[0], ladder_opts, there[1], plan, c)
             for c in plan.chunks]
    *prefixes, audio_prefix = _results([*parts, audio], distributed, chunk_opts.task_timeout_s)
    return ladder_join_task(ing, opts, home, plan, prefixes, audio_prefix)


def windowed_transcript(ing: Ingested, audio_key: str, opts: StorageOptions, speech_opts: SpeechOptions,
                        chunk_opts: ChunkOptions, home: Path, language: str | None, task: str = "transcribe",
                        prompt_terms: tuple[str, ...] = (), *, distributed: bool | None = None,
                        flow_opts: FlowOptions | None = None) -> TranscriptResult:
    """The transcribe_stage result, made by one task per window, then a merge."""
    plan_windows_task, transcribe_window_task, merge_windows_task = _retrying(flow_opts, _plan_w, _window, _merge)
    if distributed is None:
        distributed = task_workers_serving(chunk_opts)
    jobs = plan_windows_task(ing, audio_key, opts, chunk_opts, home)
    get_run_logger().info("speech in %d windows of ~%.0f s%s", len(jobs), chunk_opts.speech_window_s,
                          ", on the task workers" if distributed else "")
    there = (None, None) if distributed else (opts, home)
    keys: list = [None] * len(jobs)
    requested = language  # names the transcript, as transcribe_stage names it
    if language is None:  # window 0 decides the language, as in one pass
        keys[0] = transcribe_window_task(ing, jobs[0], opts, speech_opts, home, None, task, prompt_terms)
        language = chunked.window_language(opts, keys[0]) if task == "transcribe" else None
    futures = {i: _start(transcribe_window_task, distributed, ing, jobs[i], there[0], speech_opts, there[1], language,
                         task, prompt_terms) for i in range(len(jobs)) if keys[i] is None}
    for i, key in zip(futures, _results(list(futures.values()), distributed, chunk_opts.task_timeout_s)):
        keys[i] = key
    return merge_windows_task(ing, jobs, keys, opts, speech_opts, requested, task, prompt_terms)
