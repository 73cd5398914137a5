"""flows/chunked.py without a server: cache keys, when a run distributes, a task's storage and home on a task worker."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from medialib.config import load_settings
from medialib_app import cluster


def test_every_cached_chunk_task_has_a_cache_key():
    """A key function that raises only logs in Prefect: the result is silently not persisted (and a task
    worker's result then never reaches the run)."""
    from medialib_flows import chunked

    ing = SimpleNamespace(sha256="ab" * 32, lecture_id="talk-abcd1234")
    for t in chunked.TASKS:
        if t.cache_key_fn is not None:
            key = t.cache_key_fn(None, {"ing": ing, "chunk": 1, "plan": 2, "job": 3, "audio_key": "k"})
            assert key.startswith(f"{t.name}-r") and ing.sha256 in key, key


def test_no_server_or_distribute_off_keeps_chunks_in_the_run():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from medialib_flows.chunked import task_workers_serving

    opts = load_settings().chunks
    assert opts.distribute   # the default: with a server, chunks go to its task workers
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not task_workers_serving(opts)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):   # never asked: distribute off
        assert not task_workers_serving(opts.model_copy(update={"distribute": False}))


def test_a_server_that_does_not_answer_keeps_chunks_in_the_run():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from medialib_flows.chunked import task_workers_serving

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):   # nothing listens on port 9
        assert not task_workers_serving(load_settings().chunks)


def test_a_task_worker_uses_its_own_storage_home_and_slots(monkeypatch, tmp_path):
    from medialib_flows import chunked

    caller = load_settings().storage.model_copy(update={"endpoint_url": "http://caller:1"})
    with chunked._on_this_machine(caller, Path("/caller/home"), "encode") as (opts, home):
        assert opts is caller and home == Path("/caller/home")
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path))
    monkeypatch.setenv("MEDIALIB_STORAGE__ENDPOINT_URL", "http://here:8333")
    with chunked._on_this_machine(None, None, "transcribe") as (opts, home):
        assert opts.endpoint_url == "http://here:8333" and home == tmp_path
        assert (tmp_path / "slots" / "transcribe-0.lock").exists()


def test_task_parameters_travel_through_the_cluster_storage():
    env = cluster.join_env(cluster.JoinInfo(
        prefect_api_url="http://10.0.0.5:4200/api", endpoint_url="http://10.0.0.5:8333", access_key_id="AK",
        secret_access_key="SK", region="us-east-1", archive_bucket="a", publish_bucket="p",
        public_base_url="http://10.0.0.5:8333/p", work_pool="medialib", heartbeat_s=30))
    assert env["PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK"] == cluster.RESULTS_BLOCK


@pytest.mark.parametrize("argv", [["worker", "tasks", "--help"], ["worker", "start", "--help"]])
def test_worker_commands_offer_the_task_options(argv, capsys):
    from medialib_app.cli import main

    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    assert ("--encoders" in out) if argv[1] == "tasks" else ("--no-tasks" in out)
