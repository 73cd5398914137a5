"""Benchmark: many editors saving at once through the review app.

Budget (issue 7): 50 concurrent editors on different lectures, each saving a version
every second for a minute: p95 save latency under 200 ms, zero lost or duplicated versions.

Set-up, all on loopback: a fresh embedded SeaweedFS on free ports, N lectures seeded as the
pipeline leaves them (publish record, machine track of --cues cues, catalog entry), one
account per editor, the app under uvicorn in its own process (SQLite review database in
WAL mode, as shipped). Each editor logs in, opens its lecture, takes the lock, then saves
every --interval seconds: a POST /versions with one cue's text changed, based on the
version it saved last. A save's latency is the POST's wall time as the client sees it.

Checked afterwards, from object storage and the audit table: every lecture has versions
1..K with no gap, exactly one version per successful save (no duplicate, none lost:
the messages "save 1".."save n" each appear once), and one audit row per saved version.

    .venv/bin/python bench/concurrent_saves.py [--editors 50] [--duration 60] [--cues 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "app"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings_env: dict, opts_json: str, db_url: str, home: str, port: int) -> None:
    os.environ.update(settings_env)
    import uvicorn

    from medialib.config import StorageOptions, load_settings
    from medialib_app.review import create_app

    app = create_app(load_settings(), storage=StorageOptions.model_validate_json(opts_json), database_url=db_url,
                     home=Path(home))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _editor(base: str, name: str, password: str, lecture: str, clock: dict, interval: float,
                  latencies: list, errors: list) -> int:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await c.get("/login")).text).group(1)
        r = await c.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"})
        assert r.status_code == 303, r.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await c.get("/login")).text).group(1)
        c.headers["X-CSRF-Token"] = token
        doc = (await c.get(f"/api/lectures/{lecture}/en")).json()
        assert (await c.post(f"/api/lectures/{lecture}/en/lock", json={})).status_code == 200
        cues, version, saved = doc["track"]["cues"], doc["version"], 0
        clock["ready"] += 1
        if clock["ready"] == clock["editors"]:
            clock["until"] = time.monotonic() + clock["duration"]
            clock["go"].set()
        await clock["go"].wait()   # everyone logged in and opened: now the minute starts
        until = clock["until"]
        await asyncio.sleep(random.random() * interval)   # editors do not press Save in lockstep
        next_at = time.monotonic()
        while time.monotonic() < until:
            next_at += interval
            saved_n = saved + 1
            cues[saved % len(cues)]["text"] = f"{name} edit {saved_n}"
            t0 = time.perf_counter()
            r = await c.post(f"/api/lectures/{lecture}/en/versions",
                             json={"base_version": version, "cues": cues, "message": f"save {saved_n}"})
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"{name}: {r.status_code} {r.text[:200]}")
            else:
                version, saved = r.json()["version"], saved_n
            if saved % 30 == 0:
                await c.post(f"/api/lectures/{lecture}/en/lock", json={})   # heartbeat
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--editors", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of saving")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between one editor's saves")
    ap.add_argument("--cues", type=int, default=500, help="cues per track (a 30-minute lecture has about 500)")
    args = ap.parse_args()

    from review_helpers import PASSWORD, seed_lecture   # tests/app: the same seeding as the tests

    from medialib import storage
    from medialib.config import load_settings
    from medialib.storage import embedded
    from medialib_app.review import db as review_db
    from medialib_app.review.auth import add_user
    from medialib_app.review.models import Audit

    tmp = Path(tempfile.mkdtemp(prefix="medialib-bench-saves-"))
    home = tmp / "home"
    env = {"MEDIALIB_HOME": str(home)}
    settings = load_settings(environ=env)
    eo = settings.embedded.model_copy(update={"s3_port": 0, "data_dir": str(tmp / "seaweedfs")})
    info = embedded.start_server(eo, tmp / "seaweedfs", detach=False)
    server = None
    try:
        opts = settings.storage.model_copy(update={
            "endpoint_url": info.endpoint_url, "access_key_id": info.access_key_id,
            "secret_access_key": info.secret_access_key,
            "public_base_url": f"{info.endpoint_url}/{settings.storage.publish_bucket}"})
        storage.ensure_buckets(storage.make_client(opts), opts)
        t0 = time.monotonic()
        texts = [f"Cue number {i}: what the speaker said here." for i in range(args.cues)]
        lectures = [seed_lecture(opts, {"en": texts}, duration_s=args.cues * 3 + 10) for _ in range(args.editors)]
        db_url = f"sqlite:///{home / 'review.db'}"
        factory = review_db.open_database(db_url)
        with review_db.transaction(factory) as s:
            for i in range(args.editors):
                add_user(s, f"editor{i}", "translator", PASSWORD)
        print(f"seeded {args.editors} lectures x {args.cues} cues in {time.monotonic() - t0:.1f} s", file=sys.stderr)

        port = _free_port()
        ctx = multiprocessing.get_context("spawn")
        server = ctx.Process(target=_serve, args=(env, opts.model_dump_json(), db_url, str(home), port), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)

        latencies: list[float] = []
        errors: list[str] = []

        async def run() -> list[int]:
            clock = {"ready": 0, "editors": len(lectures), "duration": args.duration, "go": asyncio.Event()}
            return await asyncio.gather(*(_editor(base, f"editor{i}", PASSWORD, lec, clock, args.interval,
                                                   latencies, errors) for i, lec in enumerate(lectures)))

        def cpu_s(pid: int) -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        cpu0, client_cpu0 = cpu_s(server.pid), time.process_time()
        started = time.monotonic()
        saved = asyncio.run(run())
        wall = time.monotonic() - started
        server_cpu, client_cpu = cpu_s(server.pid) - cpu0, time.process_time() - client_cpu0
        if len(latencies) < 2:
            print(f"no saves measured; errors: {errors[:3]}", file=sys.stderr)
            return 1

        from medialib_app.review import tracks as lib
        from sqlalchemy import func, select

        problems = []
        for i, lec in enumerate(lectures):
            numbers = list(lib.version_numbers(opts, lec, "en"))
            if numbers != list(range(1, len(numbers) + 1)):
                problems.append(f"{lec}: versions {numbers} have a gap")
            messages = [v["message"] for v in lib.list_versions(opts, lec, "en")[1:]]
            if sorted(messages) != sorted(f"save {k}" for k in range(1, saved[i] + 1)) or len(set(messages)) != len(messages):
                problems.append(f"{lec}: {saved[i]} saves acknowledged, versions hold {len(messages)}: lost or duplicated")
            with review_db.transaction(factory) as s:
                audited = s.scalar(select(func.count()).select_from(Audit).where(Audit.lecture == lec,
                                                                                  Audit.action == "save"))
            if audited != saved[i]:
                problems.append(f"{lec}: {audited} audit rows for {saved[i]} saves")
        ms = sorted(x * 1000 for x in latencies)
        q = statistics.quantiles(ms, n=100)
        report = {"editors": args.editors, "duration_s": args.duration, "cues": args.cues,
                  "saves": len(ms), "saves_ok": sum(saved), "errors": len(errors), "wall_s": round(wall, 1),
                  "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
                  "max_ms": round(ms[-1], 1), "saves_per_s": round(len(ms) / max(args.duration, 1e-9), 1),
                  # the app's own CPU per save (log-ins and opens included): independent of other load
                  "server_cpu_ms_per_save": round(server_cpu * 1000 / max(len(ms), 1), 1),
                  # the 50 clients (one process, asyncio + httpx): CPU they take from the same cores
                  "client_cpu_ms_per_save": round(client_cpu * 1000 / max(len(ms), 1), 1),
                  "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1),
                  "lost_or_duplicated": len(problems), "budget_p95_ms": 200,
                  "within_budget": q[94] < 200 and not problems and not errors}
        print(json.dumps(report, indent=2))
        for line in (errors[:5] + problems[:5]):
            print("  ", line, file=sys.stderr)
        return 0 if report["within_budget"] else 1
    finally:
        if server is not None:
            server.terminate()
            server.join(10)
        embedded.stop_server(tmp / "seaweedfs", timeout_s=5)


if __name__ == "__main__":
    sys.exit(main())
