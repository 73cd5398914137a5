"""Benchmark: Prefect's server + 2 process workers on this machine, overhead per lecture.

    .venv/bin/python bench/cluster.py [--minutes 2]

Starts `medialib server up` (temporary home, free ports), two `medialib worker start`,
then submits two lectures at once (fresh copies of bench/pipeline.py's synthetic
lecture) as `medialib event process` does. Per lecture: the wall from submission to
result here, and the run's own time on its worker (Prefect's start to end of the flow
run). Overhead = (submission wall - run time) / submission wall: queueing in Prefect,
the worker's poll, the run process starting and loading, the result coming back; target
under 10%. (Prefect's share inside a run is bench/pipeline.py e2e's.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import ffmpeg, make_lecture  # noqa: E402

MEDIALIB = str(Path(sys.executable).with_name("medialib"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    args = ap.parse_args()
    src = make_lecture(args.minutes, 720)
    work = Path(tempfile.mkdtemp(prefix="medialib-bench-cluster-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIALIB_", "PREFECT_"))}
    env.update({"MEDIALIB_HOME": str(work / "server"), "MEDIALIB_CLUSTER__PREFECT_PORT": str(port),
                "MEDIALIB_EMBEDDED__S3_PORT": "0", "PREFECT_LOGGING_LEVEL": "WARNING"})
    workers = []
    try:
        subprocess.run([MEDIALIB, "server", "up"], env=env, check=True, capture_output=True, timeout=300)
        join = work / "server" / "cluster" / "join.toml"
        for name in ("w1", "w2"):
            wenv = {**env, "MEDIALIB_HOME": str(work / name), "PREFECT_WORKER_QUERY_SECONDS": "2"}
            workers.append(subprocess.Popen([MEDIALIB, "worker", "start", "--join", str(join), "--name", name,
                                             "--limit", "1"], env=wenv, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(15)
        os.environ.update(env)
        from medialib_app import cluster

        cluster.apply_join(join)
        from prefect.client.orchestration import get_client

        from medialib.config import load_settings
        from medialib.pipeline import stages
        from medialib.pipeline.records import LectureRequest
        from medialib.storage.embedded import resolve_storage
        from medialib_flows.cluster import run_on_workers

        results = {}

        def one(i: int) -> None:
            copy = work / f"lecture-{i}.mp4"
            subprocess.run([ffmpeg(), "-v", "error", "-i", str(src), "-map", "0", "-c", "copy",
                            "-metadata", f"comment=cluster-{i}-{time.time()}", str(copy)], check=True)
            request = LectureRequest(source=str(copy), title=f"Cluster bench {i}", language="en")
            lecture = stages.start_lecture(request, resolve_storage(load_settings()))   # ingest: real work, apart
            t0 = time.monotonic()
            published = run_on_workers(request, lecture)
            results[i] = (time.monotonic() - t0, published.lecture_id)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs()
        print(f"Prefect server + 2 workers on this machine ({os.cpu_count()} cores), "
              f"2 lectures of {args.minutes:g} min at once")
        for i, (wall, lecture_id) in sorted(results.items()):
            run = next(r for r in runs if f"lecture:{lecture_id}" in r.tags and r.state and r.state.is_completed())
            inside = (run.end_time - run.start_time).total_seconds()
            print(f"  lecture {i}: submitted-to-result {wall:6.1f} s, run on its worker {inside:6.1f} s, "
                  f"overhead {(wall - inside) / wall:.1%} (target < 10%)")
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        subprocess.run([MEDIALIB, "server", "down"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
