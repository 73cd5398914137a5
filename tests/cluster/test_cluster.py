"""Several machines on Prefect, for real: Prefect's server (SQLite), the embedded S3, two process workers.

The second worker runs as a second machine would: in its own network namespace (a veth
pair on a private subnet that the test creates and removes), reaching S3 and Prefect only
through the join file's address, with the folder of recordings hidden from it (a tmpfs
mounted over it in its own mount namespace). Without root (or `ip`), both workers run on
this machine's loopback and the test says so. Heartbeats and polling are short here; a
worker is killed mid-run, the S3 server and Prefect's server are restarted mid-event, and
each event still completes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import clips
import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.skipif(sys.platform != "linux", reason="Linux process groups")]

MEDIALIB = str(Path(sys.executable).with_name("medialib"))
NETNS_OK = os.geteuid() == 0 and bool(shutil.which("ip")) and bool(shutil.which("unshare"))
SUBNET = "10.231.{n}.{host}"
TEXTS = ("The interview begins with planning and preparation of the questions.",
         "Engage and explain: the officer introduces herself and the purpose of the talk.",
         "Account, clarification and challenge come next, then closure and evaluation.")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _run(*args: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def netns():
    """(namespace, address of this machine inside the test subnet, worker's address) or None without root."""
    if not NETNS_OK:
        yield None
        return
    n = 100 + os.getpid() % 150
    ns, host_if, peer_if = f"medialib-test-{os.getpid()}", f"mlt{os.getpid() % 100000}a", f"mlt{os.getpid() % 100000}b"
    host_ip, peer_ip = SUBNET.format(n=n, host=1), SUBNET.format(n=n, host=2)
    steps = [["ip", "netns", "add", ns],
             ["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if],
             ["ip", "link", "set", peer_if, "netns", ns],
             ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
             ["ip", "link", "set", host_if, "up"],
             ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{peer_ip}/30", "dev", peer_if],
             ["ip", "netns", "exec", ns, "ip", "link", "set", peer_if, "up"],
             ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, timeout=30)
        yield ns, host_ip, peer_ip
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)


class Cluster:
    def __init__(self, root: Path, env: dict, join: Path, recordings: Path):
        self.root, self.env, self.join, self.recordings = root, env, join, recordings
        self.workers: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start_worker(self, name: str, netns: tuple[str, str, str] | None = None) -> subprocess.Popen:
        home = self.root / f"worker-{name}"
        home.mkdir()
        join = home / "join.toml"   # what an operator copies to the other machine
        shutil.copyfile(self.join, join)
        env = {**self.env, "MEDIALIB_HOME": str(home), "PREFECT_WORKER_QUERY_SECONDS": "2",
               "PREFECT_WORKER_HEARTBEAT_SECONDS": "5", "PREFECT_LOGGING_LEVEL": "INFO"}
        cmd = [MEDIALIB, "worker", "start", "--join", str(join), "--name", name, "--limit", "1"]
        if netns:
            # Its own network (only the test subnet) and its own mounts (the recordings hidden).
            inner = f"mount -t tmpfs none {self.recordings} && exec {' '.join(cmd)}"
            cmd = ["ip", "netns", "exec", netns[0], "unshare", "--mount", "sh", "-c", inner]
        log = self.root / f"worker-{name}.log"
        self.logs[name] = log
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.workers[name] = proc
        return proc

    def kill_worker(self, name: str) -> None:
        """SIGKILL to the worker's whole process group, as a machine's sudden end would."""
        proc = self.workers[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def online(self) -> set[str]:
        out = _run(MEDIALIB, "server", "status", env=self.env, timeout=60).stdout
        return {line.split()[1].rstrip(":") for line in out.splitlines()
                if line.strip().startswith("worker ") and "ONLINE" in line}

    def runs_of(self, name: str) -> list[int]:
        """PIDs of the flow-run processes a worker started (children of its process)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                if ppid == self.workers[name].pid and b"prefect.engine" in cmdline:
                    pids.append(int(entry.name))
        return pids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, netns):
    root = tmp_path_factory.mktemp("cluster")
    recordings = root / "recordings"
    recordings.mkdir()
    host = netns[1] if netns else "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIALIB_", "PREFECT_"))}
    env.update({"MEDIALIB_HOME": str(root / "server"), "MEDIALIB_CLUSTER__HOST": host,
                # A fixed S3 port, as an operator's: a restarted server comes back where the join file says.
                "MEDIALIB_CLUSTER__PREFECT_PORT": str(_free_port(host)),
                "MEDIALIB_EMBEDDED__S3_PORT": str(_free_port("127.0.0.1")),
                "MEDIALIB_CLUSTER__CRASHED_AFTER_S": "45", "MEDIALIB_CLUSTER__RESUBMIT": "2",
                "PREFECT_LOGGING_LEVEL": "WARNING"})
    c = Cluster(root, env, root / "server" / "cluster" / "join.toml", recordings)
    try:
        up = _run(MEDIALIB, "server", "up", env=env, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        c.start_worker("wA")
        c.start_worker("wB", netns)
        deadline = time.monotonic() + 120
        while c.online() != {"wA", "wB"}:
            assert time.monotonic() < deadline, {n: p.read_text()[-2000:] for n, p in c.logs.items()}
            assert all(p.poll() is None for p in c.workers.values()), {n: p.read_text() for n, p in c.logs.items()}
            time.sleep(2)
        yield c
    finally:
        for proc in c.workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in c.workers.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        _run(MEDIALIB, "server", "down", env=env, timeout=120)


def test_join_file_names_the_servers_others_reach_and_is_private(cluster, netns):
    text = cluster.join.read_text()
    host = netns[1] if netns else "127.0.0.1"
    assert f'"http://{host}:' in text and "secret_access_key" in text
    assert cluster.join.stat().st_mode & 0o077 == 0


def _start_event(cluster, stem: str, name: str, recordings: dict[str, str],
                 header: str = "") -> tuple[subprocess.Popen, Path]:
    """Spoken clips (file stem -> text, titled by stem), their manifest, and `medialib event process` on it
    in its own process group; returns the process and its log."""
    entries = []
    for file_stem, text in recordings.items():
        wav = clips.speech_wav(cluster.recordings / f"{file_stem}.wav", text)
        clip = clips.lecture_clip(cluster.recordings / f"{file_stem}.mp4", wav, size="640x360")
        entries.append(f'[[recording]]\nfile = "{clip.name}"\ntitle = "{_title(file_stem)}"\nlanguage = "en"\n')
    manifest = cluster.recordings / f"{stem}.toml"
    manifest.write_text(f'[event]\nname = "{name}"\n{header}' + "".join(entries), encoding="utf-8")
    log = cluster.root / f"{stem}.log"
    with open(log, "wb") as out:
        event = subprocess.Popen([MEDIALIB, "event", "process", str(manifest)], env=cluster.env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return event, log


def _title(file_stem: str) -> str:
    return file_stem.replace("-", " ").capitalize()


def _published_titles(cluster) -> set[str]:
    with urllib.request.urlopen(_public_url(cluster), timeout=30) as r:
        return {e["title"] for e in json.loads(r.read())}


def _wait_for_runs(cluster, event: subprocess.Popen, log: Path, n: int, timeout_s: float = 180) -> None:
    """Until n of the live workers run a lecture (a flow-run process each)."""
    deadline = time.monotonic() + timeout_s
    while sum(bool(cluster.runs_of(w)) for w, p in cluster.workers.items() if p.poll() is None) < n:
        assert time.monotonic() < deadline and event.poll() is None, log.read_text()
        time.sleep(0.2)


STORAGE_TEXTS = ("Evidence is stored, labelled and logged before the interview ends.",
                 "Records of the interview are kept with the notes and the recording.",
                 "Storage rules say who may read a record and for how long it is kept.")


def test_s3_server_restarted_mid_event(cluster):
    """The operator restarts the S3 server (`medialib storage down`, then `up` on the same port) while
    lectures run on both machines: their stages retry, and the event completes with every lecture published."""
    seen = {w: p.stat().st_size for w, p in cluster.logs.items()}   # the workers' logs so far
    event, log = _start_event(cluster, "storage", "Storage day",
                              {f"storage-{i}": t for i, t in enumerate(STORAGE_TEXTS)})
    try:
        _wait_for_runs(cluster, event, log, 2)
        deadline = time.monotonic() + 120   # until a lecture's stages run (a task logs its progress)
        while not any("Task run '" in _log_since(cluster.logs[w], seen[w]) for w in seen):
            assert time.monotonic() < deadline and event.poll() is None, log.read_text()
            time.sleep(0.2)
        down = _run(MEDIALIB, "storage", "down", env=cluster.env, timeout=60)   # by the pids it recorded
        assert down.returncode == 0 and "embedded S3 server" in down.stdout, down.stdout + down.stderr
        time.sleep(5)
        up = _run(MEDIALIB, "storage", "up", env=cluster.env, timeout=120)      # the same data and port
        assert up.returncode == 0, up.stdout + up.stderr
        assert up.stdout.startswith(f"running: {_endpoint(cluster)} "), up.stdout
        assert event.wait(timeout=420) == 0, log.read_text()
    finally:
        if event.poll() is None:
            os.killpg(event.pid, signal.SIGKILL)
    assert "3 published" in log.read_text(), log.read_text()
    assert {f"Storage {i}" for i in range(len(STORAGE_TEXTS))} <= _published_titles(cluster)
    # The outage met running lectures (their stages, or a run's own call, found the server gone).
    assert any("cannot reach the S3 server" in _log_since(cluster.logs[w], seen[w]) for w in seen)


def _log_since(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def test_an_event_runs_on_both_machines_and_survives_a_killed_worker(cluster, netns):
    event, log = _start_event(cluster, "event", "Cluster test day", {f"session-{i}": t for i, t in enumerate(TEXTS)},
                              header="date = 2026-11-28\n")
    try:
        # Kill the local worker as soon as it starts a lecture's run (the run and its ffmpeg go with it;
        # a short lecture on a quiet machine finishes within seconds, so no waiting here).
        deadline = time.monotonic() + 180
        while not (runs := cluster.runs_of("wA")):
            assert time.monotonic() < deadline and event.poll() is None, log.read_text()
            time.sleep(0.2)
        cluster.kill_worker("wA")
        deadline = time.monotonic() + 20   # a run still starting notices once its flow module loads
        while [pid for pid in runs if _alive(pid)]:
            assert time.monotonic() < deadline, "the killed worker's run lives on"
            time.sleep(0.5)
        assert event.wait(timeout=420) == 0, log.read_text()
    finally:
        if event.poll() is None:
            os.killpg(event.pid, signal.SIGKILL)
    out = log.read_text()
    for i in range(len(TEXTS)):
        assert f"Session {i}" in out
    assert {f"Session {i}" for i in range(len(TEXTS))} <= _published_titles(cluster)
    # The staff upload page's view of the runs: each lecture's, one crashed by the killed worker.
    probe = ("import json; from medialib_app import cluster; cluster.apply_join(None); "
             "from medialib_app.review.uploads import lecture_runs; print(json.dumps(lecture_runs()))")
    runs = [r for r in json.loads(_run(sys.executable, "-c", probe, env=cluster.env, timeout=60).stdout)
            if r["lecture"].startswith("session-")]   # this event's (another test's ran before)
    assert {r["lecture"].rsplit("-", 1)[0] for r in runs} == {f"session-{i}" for i in range(len(TEXTS))}
    assert "CRASHED" in {r["state"] for r in runs} and "COMPLETED" in {r["state"] for r in runs}
    b_log = cluster.logs["wB"].read_text()
    assert "submitting flow run" in b_log   # the second machine took work
    assert "submitting flow run" in cluster.logs["wA"].read_text()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _join_value(cluster, key: str) -> str:
    for line in cluster.join.read_text().splitlines():
        if line.startswith(f"{key} "):
            return json.loads(line.split("=", 1)[1])
    raise AssertionError(f"no {key} in the join file")


def _public_url(cluster) -> str:
    return _join_value(cluster, "public_base_url") + "/catalog.json"


def _endpoint(cluster) -> str:
    return _join_value(cluster, "endpoint_url")


def test_prefect_server_restarted_mid_event(cluster):
    """Prefect's server goes away while a lecture runs and comes back: the event still completes."""
    event, log = _start_event(cluster, "late", "Late session",
                              {"late-session": "A last session about notes and reports after interviews."})
    try:
        _wait_for_runs(cluster, event, log, 1)
        state = json.loads((cluster.root / "server" / "cluster" / "prefect-server.json").read_text())
        os.killpg(state["pid"], signal.SIGTERM)
        while Path(f"/proc/{state['pid']}").exists():
            time.sleep(0.2)
        time.sleep(5)
        up = _run(MEDIALIB, "server", "up", env=cluster.env, timeout=300)   # the same database and port
        assert up.returncode == 0, up.stdout + up.stderr
        assert event.wait(timeout=360) == 0, log.read_text()
    finally:
        if event.poll() is None:
            os.killpg(event.pid, signal.SIGKILL)
    assert "1 published" in log.read_text()
    # The staff page's "Retry": the lecture runs again on a worker with its last run's parameters.
    retry = ("import json; from medialib_app import cluster; cluster.apply_join(None); "
             "from medialib_flows.cluster import retry_lecture; "
             "from medialib_app.review.uploads import lecture_runs; "
             "lid = next(r['lecture'] for r in lecture_runs() if r['lecture'].startswith('late-session')); "
             "print(json.dumps([lid, retry_lecture(lid)]))")
    lid, name = json.loads(_run(sys.executable, "-c", retry, env=cluster.env, timeout=60).stdout)
    probe = ("import json; from medialib_app import cluster; cluster.apply_join(None); "
             "from medialib_app.review.uploads import lecture_runs; print(json.dumps(lecture_runs()))")
    deadline = time.monotonic() + 180
    while True:
        runs = {r["run"]: r for r in json.loads(_run(sys.executable, "-c", probe, env=cluster.env, timeout=60).stdout)}
        if runs.get(name, {}).get("state") == "COMPLETED":
            break
        assert time.monotonic() < deadline, runs.get(name)
        time.sleep(3)
    assert runs[name]["lecture"] == lid
