"""process_event: an event's recordings, each through process_lecture, a few at a time.

    read_event (validate all; nothing starts while anything is wrong)
      └─ per recording, at most `limit` at once:  lecture task ── published_unchanged? ── skipped
                                                               └─ process_lecture (a nested flow run)
      └─ EventSummary: one row per recording (published | skipped | failed, with the URL or the reason)

Each recording runs as a task that calls process_lecture, so the lecture is a nested
flow run of the event (its own stages and task pool, visible under the event in
Prefect's UI), and tasks give us futures to wait on. The window of running lectures is
kept by the flow itself (submit the next when one finishes), so `limit` can be a run
parameter. One lecture failing is a failed row; the others go on. A re-run redoes
nothing: a recording already published from the same bytes with the same details is
skipped before ingest (three small reads), and one whose stages are cached publishes
without sending a file (reported as skipped, unchanged).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from medialib.errors import through_hiccups
from medialib.ids import file_sha256
from medialib.pipeline import event as ev
from medialib.storage.embedded import resolve_storage

from . import progress
from .process_lecture import process_lecture, settings

# In-process listeners (the CLI's progress lines): called with (what, spec, detail): what is "started",
# "stage" (detail: the stage's name, when a lecture enters it) or "finished" (detail: the RecordingOutcome).
_events = progress.Channel()
subscribe = _events.subscribe


def _announce(what: str, spec: ev.RecordingSpec, detail: object = None) -> None:
    _events.send(what, spec, detail)


def _stage_listener(recordings: tuple[ev.RecordingSpec, ...]):
    """A flows.progress listener announcing when each lecture enters a stage.

    Progress events carry only (stage, fraction); the lecture is the nested
    process_lecture run whose task reports, found by its `source` parameter.
    """
    from prefect.context import FlowRunContext

    by_source = {str(r.file): r for r in recordings}
    seen: set[tuple[int, str]] = set()
    lock = threading.Lock()

    def on_progress(stage: str, fraction: float) -> None:
        ctx = FlowRunContext.get()
        spec = by_source.get(str((ctx.parameters or {}).get("source"))) if ctx else None
        if spec is None:
            return
        with lock:
            if (spec.index, stage) in seen:
                return
            seen.add((spec.index, stage))
        _announce("stage", spec, stage)

    return on_progress


# process_lecture retries and caches its own stages; the run is named for staff reading Prefect's UI.
@task(name="lecture", task_run_name="{spec.index}. {spec.label}", cache_policy=NO_CACHE)
def lecture_task(spec: ev.RecordingSpec, opts) -> ev.RecordingOutcome:
    """One recording: skipped when already published unchanged, else process_lecture; a failure is a row."""
    started = time.monotonic()
    _announce("started", spec)
    try:
        sha256, delays = file_sha256(spec.file), settings().flow.retry_delays()
        published_id = through_hiccups(lambda: ev.published_unchanged(spec, sha256, opts), delays)
        if published_id is not None:
            outcome = ev.RecordingOutcome(index=spec.index, file=spec.label, title=spec.title, status="skipped",
                                          detail="already published from the same file with the same details",
                                          seconds=round(time.monotonic() - started, 1), lecture_id=published_id)
        else:
            req = spec.request()
            if os.environ.get("PREFECT_API_URL"):   # a Prefect server with workers: the lecture runs there
                from .cluster import submit_lecture

                published = submit_lecture(req)
            else:
                published = process_lecture(source=req.source, title=req.title, language=req.language,
                                            speaker=req.speaker, event=req.event, lecture_id=req.lecture_id,
                                            audio=list(req.audio), event_date=req.event_date,
                                            recorded_date=req.recorded_date)
            unchanged = published.uploaded_count == 0
            outcome = ev.RecordingOutcome(
                index=spec.index, file=spec.label, title=spec.title, status="skipped" if unchanged else "published",
                detail=published.player_url if not unchanged else f"unchanged, nothing sent: {published.player_url}",
                seconds=round(time.monotonic() - started, 1), lecture_id=published.lecture_id)
    except Exception as e:   # noqa: BLE001 - one recording's failure is its row; the others go on
        outcome = ev.failure_outcome(spec, e, time.monotonic() - started)
        get_run_logger().error("%s: failed: %s", spec.name, outcome.detail)
    _announce("finished", spec, outcome)
    return outcome


@flow(name="process-event", log_prints=False)
def process_event(manifest: str, limit: int | None = None) -> ev.EventSummary:
    """Validate a manifest (or a folder of recordings), then process its recordings, `limit` at a time.

    limit: lectures running at once (default: event.max_concurrent_lectures).
    """
    event = ev.read_event(Path(manifest))          # InputError listing every problem; nothing started
    s = settings()
    limit = limit or s.event.max_concurrent_lectures
    opts = resolve_storage(s)                      # once here, so the lectures find it running
    log = get_run_logger()
    log.info("%s: %d recordings, %d at a time", event.name or manifest, len(event.recordings), limit)
    unsubscribe = progress.subscribe(_stage_listener(event.recordings))
    try:
        done = _run_window(event, opts, limit)
    finally:
        unsubscribe()
    summary = ev.EventSummary(event=event.name, source=str(event.source),
                              outcomes=tuple(done[r.index] for r in event.recordings))
    log.info("%s: %d published, %d skipped, %d failed", event.name or manifest, summary.count("published"),
             summary.count("skipped"), summary.count("failed"))
    return summary


def _run_window(event: ev.EventManifest, opts, limit: int) -> dict[int, ev.RecordingOutcome]:
    """At most `limit` lecture tasks at once, the next submitted as one finishes; outcomes by index."""
    waiting = list(event.recordings)
    running, done = {}, {}
    while waiting or running:
        while waiting and len(running) < limit:
            spec = waiting.pop(0)
            running[lecture_task.submit(spec, opts)] = spec
        finished = next(as_completed(list(running)))
        spec = running.pop(finished)
        try:
            done[spec.index] = finished.result()
        except Exception as e:   # noqa: BLE001 - the task itself crashed (it catches the lecture's errors)
            done[spec.index] = ev.failure_outcome(spec, e, 0.0)
    return done
