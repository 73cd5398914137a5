"""The submitter's answer to a lecture's run on the workers: crashed or failed on a storage fault, it goes again."""

from __future__ import annotations

import time
from types import SimpleNamespace

import prefect.deployments
import pytest
from prefect.states import Completed, Crashed, Failed

import medialib.recordjson
from medialib.errors import InputError, TransientError
from medialib_flows import cluster as fc

STORAGE_FAULT = ("Flow run encountered an exception: TransientError: list s3://medialib-archive/work/x/ at "
                 "http://10.0.0.5:8333: cannot reach the S3 server (Could not connect to the endpoint URL)")
REQUEST = SimpleNamespace(source="/r/talk.mp4", title="Talk", language="en", speaker=None, event=None, audio=(),
                          event_date=None, recorded_date=None)
LECTURE = SimpleNamespace(ingested=SimpleNamespace(lecture_id="talk-1234abcd"))


@pytest.fixture
def runs(monkeypatch):
    """Each submission gets the next of the states put in the returned list; waits are recorded, not slept."""
    states, submitted, slept = [], [], []

    def run_deployment(deployment, **kw):
        submitted.append(kw["parameters"]["lecture_id"])
        return SimpleNamespace(id=len(submitted) - 1)

    monkeypatch.setenv("MEDIALIB_CLUSTER__RESUBMIT", "2")
    monkeypatch.setenv("MEDIALIB_FLOW__RETRIES", "4")
    monkeypatch.setenv("MEDIALIB_FLOW__RETRY_DELAY_S", "5")
    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setattr(medialib.recordjson, "to_jsonable", lambda obj: {})
    monkeypatch.setattr(fc, "_wait_for_run", lambda run_id, outage_s: SimpleNamespace(state=states[run_id]))
    monkeypatch.setattr(time, "sleep", slept.append)
    return SimpleNamespace(states=states, submitted=submitted, slept=slept)


def test_a_run_failed_on_a_storage_fault_goes_again_after_a_tasks_wait(runs):
    runs.states += [Failed(message=STORAGE_FAULT), Crashed(message="worker gone"), Completed(data="published")]
    assert fc.run_on_workers(REQUEST, LECTURE) == "published"
    assert runs.submitted == ["talk-1234abcd"] * 3 and runs.slept == [5]


def test_storage_faults_past_the_resubmissions_are_transient(runs):
    runs.states += [Failed(message=STORAGE_FAULT)] * 3
    with pytest.raises(TransientError, match=r"^talk-1234abcd: Flow run encountered an exception: TransientError: "):
        fc.run_on_workers(REQUEST, LECTURE)
    assert len(runs.submitted) == 3 and runs.slept == [5, 10]


def test_a_stages_own_error_is_raised_typed_and_not_resubmitted(runs):
    runs.states += [Failed(message="Flow run encountered an exception: InputError: no audio", data=InputError("no audio"))]
    with pytest.raises(InputError, match="no audio"):
        fc.run_on_workers(REQUEST, LECTURE)
    assert len(runs.submitted) == 1 and runs.slept == []


def test_a_failed_runs_error_is_read_through_a_storage_hiccup(runs, monkeypatch):
    state = Failed(message="Flow run encountered an exception: InputError: no audio")
    reads = []

    def result(raise_on_failure=True):
        reads.append(1)
        if len(reads) == 1:
            raise TransientError("download s3://medialib-archive/prefect-results/x: cannot reach the S3 server")
        raise InputError("no audio")

    monkeypatch.setattr(type(state), "result", lambda self, **kw: result(**kw))
    runs.states.append(state)
    with pytest.raises(InputError, match="no audio"):
        fc.run_on_workers(REQUEST, LECTURE)
    assert len(reads) == 2 and runs.slept == [5]
