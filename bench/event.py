"""Benchmark: one machine, an event of three recordings, lectures overlapping vs one after another.

    .venv/bin/python bench/event.py [--minutes 2] [--recordings 3]

Runs process_event in this process (Prefect ephemeral, a real SeaweedFS on a free
loopback port, real ffmpeg and Whisper base) twice on fresh copies of a synthetic
lecture (bench/pipeline.py's, re-muxed so each copy has its own bytes): first with
`--limit 1` (the baseline: lectures one after another), then with the event's default
limit (three at once; per-machine slots keep one encode and one transcription at a time).

Figures: wall of each, their ratio, and CPU efficiency = CPU seconds of the whole process
tree (this process and every ffmpeg it waited for) / (cores x wall); target >= 0.9.
Beside it, how busy the whole machine was (/proc/stat: what was left idle) and the CPU the
S3 server and Prefect's temporary server spent (work for the stages, not stage CPU); run
it on a quiet machine, or the busy share counts other work.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import ffmpeg, make_lecture  # noqa: E402


def _cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]   # idle + iowait
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def _servers_cpu_s(pids: list[int]) -> float:
    """CPU seconds of the S3 server and Prefect's temporary server (not children this process waits for)."""
    total = 0.0
    for pid in pids:
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        parts = stat[stat.rindex(")") + 2:].split()
        total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _server_pids(s3_pid: int) -> list[int]:
    """The S3 server and every child of this process that is a uvicorn (Prefect's temporary server)."""
    pids = [s3_pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                cmd = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == os.getpid() and b"uvicorn" in cmd:
                pids.append(int(entry))
    return pids


def _copies(src: Path, folder: Path, tag: str, n: int) -> Path:
    """n copies of src with their own bytes, and a manifest naming them."""
    folder.mkdir(parents=True)
    lines = [f'[event]\nname = "Benchmark day {tag}"\ndate = 2026-11-28\n']
    for i in range(n):
        out = folder / f"session-{i}.mp4"
        subprocess.run([ffmpeg(), "-v", "error", "-i", str(src), "-map", "0", "-c", "copy",
                        "-metadata", f"comment={tag}-{i}", str(out)], check=True)
        lines.append(f'[[recording]]\nfile = "{out.name}"\ntitle = "Session {tag} {i}"\nlanguage = "en"\n')
    manifest = folder / "event.toml"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--recordings", type=int, default=3)
    args = ap.parse_args()
    src = make_lecture(args.minutes, 720)
    work = Path(tempfile.mkdtemp(prefix="medialib-bench-event-"))
    os.environ.update({"MEDIALIB_HOME": str(work / "home"), "PREFECT_LOGGING_LEVEL": "WARNING",
                       "MEDIALIB_EMBEDDED__S3_PORT": "0"})
    from medialib.config import load_settings
    from medialib.storage import embedded

    settings = load_settings()
    data_dir = work / "seaweedfs"
    server = embedded.start_server(settings.embedded.model_copy(update={"s3_port": 0}), data_dir, detach=False)
    os.environ.update({"MEDIALIB_STORAGE__ENDPOINT_URL": server.endpoint_url,
                       "MEDIALIB_STORAGE__ACCESS_KEY_ID": server.access_key_id,
                       "MEDIALIB_STORAGE__SECRET_ACCESS_KEY": server.secret_access_key})
    from medialib import storage

    opts = load_settings().storage
    storage.ensure_buckets(storage.make_client(opts), opts)
    try:
        from medialib_flows.process_event import process_event

        cores = os.cpu_count() or 1
        results = {}
        for tag, limit in (("one-by-one", 1), ("overlapping", load_settings().event.max_concurrent_lectures)):
            manifest = _copies(src, work / tag, tag, args.recordings)
            servers = _server_pids(server.pid)
            t0, c0, (b0, m0), s0 = time.monotonic(), _cpu_s(), _machine_busy_s(), _servers_cpu_s(servers)
            summary = process_event(manifest=str(manifest), limit=limit)
            wall, cpu = time.monotonic() - t0, _cpu_s() - c0
            (b1, m1), servers = _machine_busy_s(), _server_pids(server.pid)
            assert not summary.failed, [o.detail for o in summary.failed]
            results[tag] = (wall, cpu, cpu / (cores * wall), limit, (b1 - b0) / (m1 - m0),
                            _servers_cpu_s(servers) - s0)
            print(f"  {tag}: S3 server {_servers_cpu_s(servers[:1]):.1f} CPU s, Prefect's server "
                  f"{_servers_cpu_s(servers[1:]):.1f} CPU s since they started")
    finally:
        embedded.stop_server(data_dir)
        shutil.rmtree(work, ignore_errors=True)
    print(f"event of {args.recordings} x {args.minutes:g}-min 720p recordings, {cores} cores")
    for tag, (wall, cpu, eff, limit, busy, servers_cpu) in results.items():
        print(f"  {tag:<12} limit {limit}: wall {wall:7.1f} s  CPU {cpu:7.1f} s  efficiency {eff:.2f}  "
              f"(machine busy {busy:.2f}; S3 + Prefect servers {servers_cpu:.1f} CPU s, "
              f"{servers_cpu / (cores * wall):.2f} of the cores)")
    base, over = results["one-by-one"][0], results["overlapping"][0]
    print(f"overlapping / one-by-one wall: {over / base:.2f}; efficiency {results['overlapping'][2]:.2f} "
          f"(target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
