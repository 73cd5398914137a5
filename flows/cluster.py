"""The flows on Prefect's server: deployments by module path, results in S3, crashed-run detection.

`deploy_flows` is what `medialib server up` and `medialib deploy` run against a Prefect
server: a process work pool, the flows deployed by module path (a worker imports
`medialib_flows...` from its own install: a wheel and the Whisper weights are all a
machine needs), the result-storage block that keeps Prefect's results and cache records
in the archive bucket, and the automation that marks a run Crashed when its heartbeats
stop (a worker killed). `ping` is a tiny flow to check that workers answer.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from prefect import flow

from medialib.config import load_settings
from medialib.errors import through_hiccups

from .results import MedialibResults


@flow(name="ping")
def ping(tag: str = "") -> dict:
    """Which machine and process ran this, and the storage it sees (a worker check)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "tag": tag,
            "endpoint": os.environ.get("MEDIALIB_STORAGE__ENDPOINT_URL", "")}


def deployable_flows() -> dict:
    """Deployment name -> flow, imported here so a worker resolves each by its module path."""
    from .process_lecture import process_lecture

    flows = {"process-lecture": process_lecture, "ping": ping}
    try:
        from .process_event import process_event
    except ImportError:   # an install without the event flow
        pass
    else:
        flows["process-event"] = process_event
    return flows


def deploy_flows(pool: str | None = None) -> dict[str, str]:
    """Work pool, deployments, results block and the crashed-run automation; idempotent. Returns {name: id}."""
    from prefect import deploy
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.deployments.runner import EntrypointType
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    s = load_settings()
    pool = pool or s.cluster.work_pool
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
                description="medialib: processes recordings (medialib worker start)"))
        # The global limit: lecture runs at once across all workers (None: no limit).
        client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=s.cluster.max_runs or None))
    MedialibResults.register_type_and_schema()
    MedialibResults().save("cluster", overwrite=True)
    deployments = [f.to_deployment(name=name, entrypoint_type=EntrypointType.MODULE_PATH, tags=["medialib"])
                   for name, f in deployable_flows().items()]
    ids = deploy(*deployments, work_pool_name=pool, build=False, push=False, print_next_steps_message=False,
                 ignore_warnings=True)
    _crashed_run_automation(s.cluster.crashed_after_s)
    return {d.name: str(i) for d, i in zip(deployments, ids)}


def _crashed_run_automation(after_s: int) -> None:
    """Prefect's documented zombie-run detection, twice: a run that stops beating, and one that never started.

    A run beats from the moment its flow starts; one whose worker died while it was
    still pending or loading never beats, so a second automation expects it to start.
    """
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    final = {"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
             "prefect.flow-run.Crashed"}
    for name, after, expect, why in (
            ("medialib: crash runs without heartbeat", "prefect.flow-run.heartbeat",
             {"prefect.flow-run.heartbeat"} | final, f"no heartbeat for {after_s} s: its worker stopped"),
            ("medialib: crash runs that never start", "prefect.flow-run.Pending",
             {"prefect.flow-run.Running", "prefect.flow-run.heartbeat"} | final,
             f"not started within {after_s} s of being handed to a worker: the worker stopped")):
        try:
            old = Automation.read(name=name)
        except ValueError:
            old = None
        if old is not None:
            old.delete()
        Automation(
            name=name,
            trigger=EventTrigger(
                after={after}, expect=expect,
                match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                within=timedelta(seconds=after_s)),
            actions=[ChangeFlowRunState(state=StateType.CRASHED, message=why)],
        ).create()


def submit_lecture(request, *, deployment: str = "process-lecture/process-lecture"):
    """Ingest here (probe, hash, archive the original), process on a worker, wait; returns Published.

    A run whose worker died is marked Crashed by the heartbeat automation and submitted
    again (cluster.resubmit times): its finished stages come from the shared result storage.
    """
    from medialib.pipeline import stages
    from medialib.storage.embedded import resolve_storage

    s = load_settings()
    # Ingest here: a storage hiccup (the S3 server restarting) is waited out like a task's.
    lecture = through_hiccups(lambda: stages.start_lecture(request, resolve_storage(s)), s.flow.retry_delays())
    return run_on_workers(request, lecture, deployment=deployment)


def run_on_workers(request, lecture, *, deployment: str = "process-lecture/process-lecture"):
    """process-lecture for an ingested lecture on the workers; re-submitted when its run crashed, or failed on
    a fault a retry can fix (the storage unreachable: its S3 server restarting), after a task's wait."""
    import time

    from prefect.deployments import run_deployment

    from medialib.errors import OperatorError, TransientError
    from medialib.recordjson import to_jsonable

    from .process_lecture import submitted_config

    s = load_settings()
    params = {"source": request.source, "title": request.title, "language": request.language,
              "speaker": request.speaker, "event": request.event, "lecture_id": lecture.ingested.lecture_id,
              "audio": list(request.audio), "event_date": request.event_date, "recorded_date": request.recorded_date,
              "lecture": to_jsonable(lecture), "config": submitted_config(s)}
    delays = s.flow.retry_delays()
    lid = lecture.ingested.lecture_id
    for attempt in range(s.cluster.resubmit + 1):
        run = run_deployment(deployment, parameters=params, timeout=0,   # created; waited for below
                             tags=["medialib", f"lecture:{lid}"])
        run = _wait_for_run(run.id, s.cluster.start_timeout_s * 5)
        if run.state.is_completed():
            return through_hiccups(run.state.result, delays)   # read from the shared storage
        if run.state.is_cancelled() or run.state.is_cancelling():
            raise OperatorError(f"{lid}: cancelled ({run.state.message or 'by staff'})")
        if run.state.is_crashed():
            continue
        if not _failed_transiently(run.state):
            # The stage's own error, typed (kept in the shared storage, read through its hiccups).
            return through_hiccups(lambda: run.state.result(raise_on_failure=True), delays)
        if attempt == s.cluster.resubmit:
            raise TransientError(f"{lid}: {run.state.message}")
        # A stage's retries ran out, or the flow's own call to the storage failed (not a task: no retry).
        time.sleep(delays[min(attempt, len(delays) - 1)] if delays else 0)
    raise OperatorError(f"{lid}: its run crashed (or met a storage fault) {s.cluster.resubmit + 1} times "
                        f"(last: {run.state.message}); see the run in Prefect's UI")


def _failed_transiently(state) -> bool:
    """A failed run's error is one a retry can fix, as its state's message names it ("...: TransientError: ...").

    Not read from the error itself: that is kept in the shared storage, and was never written
    when the storage was what failed.
    """
    return state.is_failed() and "TransientError: " in (state.message or "")


def _wait_for_run(run_id, api_outage_s: float, poll_s: float = 5.0):
    """The run once final; Prefect's server unreachable for a while (a restart) is waited out, not an error."""
    import time

    import httpx
    from prefect.client.orchestration import get_client

    from medialib.errors import TransientError

    down_since = None
    while True:
        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(run_id)
            down_since = None
            if run.state is not None and run.state.is_final():
                return run
        except (httpx.TransportError, httpx.HTTPStatusError, OSError) as e:
            if isinstance(e, httpx.HTTPStatusError) and e.response.status_code < 500:
                raise
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > api_outage_s:
                raise TransientError(f"Prefect's server has not answered for {api_outage_s:.0f} s ({e}); "
                                     "the run goes on on its worker: `medialib event retry` picks it up") from e
        time.sleep(poll_s)


def cancel_lecture(lecture_id: str) -> int:
    """Cancel the lecture's runs that are waiting or running (the worker stops the process); returns how many."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, \
        FlowRunFilterTags
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelling

    active = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"lecture:{lecture_id}"]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active))))
        for run in runs:
            client.set_flow_run_state(run.id, Cancelling(message="cancelled by staff (medialib lectures cancel)"),
                                      force=True)
    return len(runs)


def retry_lecture(lecture_id: str, *, deployment: str = "process-lecture/process-lecture") -> str:
    """A new run of the lecture's newest run's parameters (its finished stages are reused); returns its name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.deployments import run_deployment

    from medialib.errors import NotFoundError

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"lecture:{lecture_id}"])), sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1)
    if not runs:
        raise NotFoundError(f"{lecture_id}: no run of this lecture on Prefect's server; upload or process it again")
    if runs[0].state is not None and not runs[0].state.is_final():
        return runs[0].name   # still waiting or running: nothing to retry
    run = run_deployment(deployment, parameters=runs[0].parameters, timeout=0, as_subflow=False,
                         tags=["medialib", f"lecture:{lecture_id}"])
    return run.name
