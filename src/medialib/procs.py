"""No orphans: the work a process started stops when that process dies, even by SIGKILL.

Two cases, both Linux (/proc, process groups):

- a run process started by a Prefect worker (its own process group, ffmpeg inside it):
  `die_with_parent()` watches the parent; when the worker dies, the run's whole process
  group is killed, so neither the run nor its ffmpeg goes on alone;
- a command (`medialib process`) killed with SIGKILL cannot clean up after itself:
  `start_reaper()` starts a small watcher process in its own session that notes the
  command's descendants (same session only: the embedded S3 server is meant to outlive
  the command) and, when the command is gone, stops them (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

_watching = False


def die_with_parent(poll_s: float = 0.5) -> bool:
    """Kill this process group when the parent process goes away; once per process.

    Only for a process that leads its own group (a worker's run process does), so the
    kill never reaches the parent's group. Returns whether the watch started.
    """
    global _watching
    if _watching or os.getpgrp() != os.getpid() or sys.platform != "linux":
        return False
    parent = os.getppid()
    _watching = True

    def watch() -> None:
        while os.getppid() == parent and parent != 1:   # 1: the parent died before the watch began
            time.sleep(poll_s)
        # No logging first: its handlers write to the dead parent's pipe.
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    return True


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, session id, start time) of pid from /proc, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()   # after "pid (comm) "
    return int(fields[1]), int(fields[3]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of root's descendants in root's session."""
    me = _stat(root)
    if me is None:
        return {}
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            table[int(name)] = st
    out, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, sid, start) in table.items():
            if ppid == parent and pid not in out:
                if sid == me[1]:
                    out[pid] = start
                frontier.append(pid)   # walk through other sessions' children, keep only ours
    return out


def reap(root: int, poll_s: float = 0.5, grace_s: float = 3.0) -> int:
    """Watch root; when it dies, stop the descendants last seen. Returns how many were stopped."""
    seen: dict[int, int] = {}
    while _stat(root) is not None:
        seen.update(descendants(root))
        seen = {pid: start for pid, start in seen.items() if (st := _stat(pid)) is not None and st[2] == start}
        time.sleep(poll_s)
    alive = {pid for pid, start in seen.items() if (st := _stat(pid)) is not None and st[2] == start}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = {pid for pid in alive if (st := _stat(pid)) is not None and seen[pid] == st[2]}
        if not alive:
            break
    return len(seen)


def start_reaper() -> subprocess.Popen | None:
    """A watcher for this process (see the module's docstring); it exits when this process does."""
    if sys.platform != "linux":
        return None
    return subprocess.Popen([sys.executable, "-m", "medialib.procs", str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True)


if __name__ == "__main__":
    reap(int(sys.argv[1]))


@contextlib.contextmanager
def machine_slot(kind: str, limit: int, folder, poll_s: float = 0.5):
    """Hold one of `limit` slots of `kind` on this machine (a file lock), across every process.

    So two lectures on one machine overlap (one encodes while the other transcribes)
    without both encoding at once on the same cores. limit <= 0: no limit.
    """
    if limit <= 0:
        yield None
        return
    import fcntl
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for i in range(limit):
            f = open(folder / f"{kind}-{i}.lock", "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            try:
                yield i
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
            return
        if not waited:
            log.info("waiting for a free %s slot on this machine (%d in use)", kind, limit)
            waited = True
        time.sleep(poll_s)
