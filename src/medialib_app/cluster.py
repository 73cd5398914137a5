"""Several machines on Prefect: the server machine, the join file, workers.

`medialib server up` starts Prefect's own server (API and UI) and, when no S3 endpoint is
configured, the embedded S3 server, both on `cluster.host`; it deploys the flows to a
process work pool and writes a join file. `medialib worker start --join FILE` on any
machine (medialib installed, Whisper weights installed) turns that file into the
environment of a Prefect process worker: the Prefect API, the shared S3 endpoint and
keys, and Prefect's result storage in that S3, so a stage cached on one machine is
reused on every other.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from medialib.config import Settings, medialib_home
from medialib.errors import InputError, NotFoundError, OperatorError
from medialib.storage.embedded import _alive

JOIN_FILE = "join.toml"
STATE_FILE = "prefect-server.json"
RESULTS_BLOCK = "medialib-results/cluster"   # Prefect block (type slug/name) holding results in S3


@dataclass(frozen=True)
class JoinInfo:
    """What a machine needs to work for this cluster (the join file's content)."""

    prefect_api_url: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    archive_bucket: str
    publish_bucket: str
    public_base_url: str
    work_pool: str
    heartbeat_s: int


def cluster_dir() -> Path:
    path = medialib_home() / "cluster"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_join_file() -> Path:
    return cluster_dir() / JOIN_FILE


def write_join_file(path: Path, info: JoinInfo) -> Path:
    """The join file, readable by its owner only: it holds the storage keys."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# medialib join file, written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `medialib server up`.",
             "# On another machine: medialib worker start --join THIS_FILE. Keep it private (storage keys).",
             "[cluster]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in asdict(info).items()]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def read_join_file(path: Path) -> JoinInfo:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")).get("cluster", {})
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no join file; copy the one `medialib server up` wrote on the server "
                            f"machine ({default_join_file()} there)") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not a join file ({e})") from None
    missing = [k for k in JoinInfo.__dataclass_fields__ if k not in data]
    if missing:
        raise InputError(f"{path}: the join file lacks {', '.join(missing)}; write it again with `medialib server up`")
    return JoinInfo(**{k: data[k] for k in JoinInfo.__dataclass_fields__})


def join_env(info: JoinInfo) -> dict[str, str]:
    """The environment of a process that works for the cluster (a worker and the runs it starts)."""
    return {
        "PREFECT_API_URL": info.prefect_api_url,
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": RESULTS_BLOCK,
        "PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK": RESULTS_BLOCK,   # a task worker's parameters, too
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(info.heartbeat_s),
        "MEDIALIB_STORAGE__ENDPOINT_URL": info.endpoint_url,
        "MEDIALIB_STORAGE__ACCESS_KEY_ID": info.access_key_id,
        "MEDIALIB_STORAGE__SECRET_ACCESS_KEY": info.secret_access_key,
        "MEDIALIB_STORAGE__REGION": info.region,
        "MEDIALIB_STORAGE__ARCHIVE_BUCKET": info.archive_bucket,
        "MEDIALIB_STORAGE__PUBLISH_BUCKET": info.publish_bucket,
        "MEDIALIB_STORAGE__PUBLIC_BASE_URL": info.public_base_url,
    }


def apply_join(path: Path | None) -> JoinInfo | None:
    """Put a join file's environment into this process (an explicit file, else this machine's own, if any)."""
    if path is None:
        path = default_join_file()
        if not path.exists():
            return None
    info = read_join_file(path)
    os.environ.update(join_env(info))
    return info


# --- the Prefect server process -------------------------------------------------------------


def _api_url(s: Settings) -> str:
    return f"http://{s.cluster.advertise or s.cluster.host}:{s.cluster.prefect_port}/api"


def _healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout_s) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def server_state() -> dict | None:
    """The running Prefect server started here ({pid, api_url, ...}), else None."""
    try:
        state = json.loads((cluster_dir() / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return state if _alive(int(state.get("pid", 0))) else None


def prefect_server_env(s: Settings) -> dict[str, str]:
    home = cluster_dir() / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_API_URL": _api_url(s),
        "PREFECT_SERVER_API_HOST": s.cluster.host,
        "PREFECT_SERVER_API_PORT": str(s.cluster.prefect_port),
    })
    env.pop("PREFECT_API_URL", None)   # the server itself is not a client of another
    if s.cluster.database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = s.cluster.database_url
    return env


def start_prefect_server(s: Settings) -> dict:
    """Start Prefect's server in its own session (it outlives this command); returns its state."""
    if (state := server_state()) is not None:
        return state
    api_url = _api_url(s)
    local_api = f"http://{s.cluster.host}:{s.cluster.prefect_port}/api"
    if _healthy(local_api):
        raise OperatorError(f"something already answers at {local_api}; stop it or set cluster.prefect_port")
    log = cluster_dir() / "prefect-server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", s.cluster.host,
             "--port", str(s.cluster.prefect_port)],
            env=prefect_server_env(s), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + s.cluster.start_timeout_s
    while not _healthy(local_api):
        if proc.poll() is not None:
            raise OperatorError(f"Prefect's server exited at start (code {proc.returncode}); see {log}")
        if time.monotonic() > deadline:
            _stop_group(proc.pid, 10)
            raise OperatorError(f"Prefect's server did not answer at {local_api} within "
                                f"{s.cluster.start_timeout_s:.0f} s; see {log}")
        time.sleep(0.5)
    state = {"pid": proc.pid, "api_url": api_url, "local_api_url": local_api, "log": str(log),
             "started_at": datetime.now(timezone.utc).isoformat()}
    (cluster_dir() / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    return state


def _stop_group(pid: int, timeout_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def stop_prefect_server() -> bool:
    state = server_state()
    with contextlib.suppress(FileNotFoundError):
        (cluster_dir() / STATE_FILE).unlink()
    if state is None:
        return False
    _stop_group(int(state["pid"]), 20)
    return True


def server_up(s: Settings) -> tuple[dict, JoinInfo, Path]:
    """The S3 server (embedded, unless storage has an endpoint), Prefect's server, the join file."""
    st = s.storage
    if st.embedded:
        info, endpoint = storage_up(s)
        key, secret = info.access_key_id, info.secret_access_key
    else:
        endpoint, key, secret = st.endpoint_url, st.access_key_id, st.secret_access_key
    state = start_prefect_server(s)
    join = JoinInfo(prefect_api_url=state["api_url"], endpoint_url=endpoint, access_key_id=key,
                    secret_access_key=secret, region=st.region, archive_bucket=st.archive_bucket,
                    publish_bucket=st.publish_bucket,
                    public_base_url=st.public_base_url or f"{endpoint}/{st.publish_bucket}",
                    work_pool=s.cluster.work_pool, heartbeat_s=s.cluster.heartbeat_s)
    return state, join, write_join_file(default_join_file(), join)


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


FORWARD_FILE = "s3-forward.json"


def _start_forwarder(host: str, port: int) -> int:
    """The S3 port (only) on host, forwarded to loopback: see medialib.storage.forward."""
    state_file = cluster_dir() / FORWARD_FILE
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
        old = json.loads(state_file.read_text(encoding="utf-8"))
        if _is_forwarder(int(old["pid"])) and (old["host"], old["port"]) == (host, port):
            return int(old["pid"])
    log = cluster_dir() / "s3-forward.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medialib.storage.forward", host, str(port), str(port)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise OperatorError(f"could not offer the S3 port on {host}:{port}; see {log}")
        time.sleep(0.2)
    state_file.write_text(json.dumps({"pid": proc.pid, "host": host, "port": port}), encoding="utf-8")
    return proc.pid


def _is_forwarder(pid: int) -> bool:
    """pid is a live forwarder (not a recycled pid of something else)."""
    if not _alive(pid):
        return False
    try:
        return b"medialib.storage.forward" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True   # no /proc: trust the pid


def _stop_forwarder() -> bool:
    """Stop the forwarder started here; once this returns its port is free (the process is gone)."""
    state_file = medialib_home() / "cluster" / FORWARD_FILE   # not made where no server ever ran
    try:
        pid = int(json.loads(state_file.read_text(encoding="utf-8"))["pid"])
    except (FileNotFoundError, ValueError, KeyError):
        return False
    state_file.unlink()
    if not _is_forwarder(pid):
        return False
    _stop_group(pid, 5)
    deadline = time.monotonic() + 5   # after a SIGKILL too: gone, its listener closed
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def storage_up(s: Settings):
    """The embedded S3 server (on loopback) with its buckets, and its port on cluster.host when that
    is not loopback (the forwarder); returns (ServerInfo, the endpoint other machines use).

    Used by `server up` and `storage up`, and so safe to run again: a running server is kept.
    weed mini wants its S3 port free on every address while it starts (it binds the wildcard
    address too), so a forwarder still holding that port (the server was stopped or died
    under it) steps aside until weed answers, then comes back on the same address and port.
    """
    from medialib.storage.embedded import server_status, start_server
    from medialib.storage.s3 import make_client
    from medialib.storage.serving import ensure_buckets

    data_dir = s.embedded_data_dir()
    if server_status(data_dir) is None:
        _stop_forwarder()
    info = start_server(s.embedded, data_dir)   # on loopback, always
    endpoint = info.endpoint_url
    if not _loopback(s.cluster.host):
        port = int(info.endpoint_url.rsplit(":", 1)[1])
        _start_forwarder(s.cluster.host, port)
        endpoint = f"http://{s.cluster.advertise or s.cluster.host}:{port}"
    opts = s.storage.model_copy(update={"endpoint_url": info.endpoint_url, "access_key_id": info.access_key_id,
                                        "secret_access_key": info.secret_access_key})
    ensure_buckets(make_client(opts), opts)
    return info, endpoint


def storage_down(s: Settings) -> list[str]:
    """Stop the S3 port forwarder and the embedded S3 server started here; returns what was stopped.

    Workers then get "connection refused" at once (a retry waits it out), not a connection
    the forwarder accepts and drops.
    """
    from medialib.storage.embedded import stop_server

    stopped = []
    if _stop_forwarder():
        stopped.append("S3 port forwarder")
    if s.storage.embedded and stop_server(s.embedded_data_dir()):
        stopped.append("embedded S3 server")
    return stopped


def server_down(s: Settings) -> list[str]:
    """Stop Prefect's server and the embedded S3 server started here; returns what was stopped."""
    stopped = []
    if stop_prefect_server():
        stopped.append("Prefect server")
    return stopped + storage_down(s)


def worker_argv(pool: str, limit: int | None, name: str | None) -> list[str]:
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if limit:
        argv += ["--limit", str(limit)]
    if name:
        argv += ["--name", name]
    return argv
