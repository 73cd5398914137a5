"""Finding and running ffmpeg: argv lists, progress, timeouts, and each run's own CPU and memory.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from medialib.errors import OperatorError, ToolError

log = logging.getLogger(__name__)


Progress = Callable[[float], None]  # fraction done, 0..1


@lru_cache(maxsize=None)
def find_ffmpeg(configured: str = "") -> str:
    """A configured path, else the system ffmpeg, else imageio-ffmpeg's static build; must have libx264."""
    candidates = [configured] if configured else []
    if which := shutil.which("ffmpeg"):
        candidates.append(which)
    try:
        import imageio_ffmpeg

        candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "libx264" in out:
            return exe
        log.warning("%s has no libx264 encoder; trying the next ffmpeg", exe)
    raise OperatorError(f"no ffmpeg with libx264 found (tried: {', '.join(candidates) or 'nothing on PATH'}); "
                        "run `pip install imageio-ffmpeg` or install ffmpeg")


@dataclass(frozen=True)
class ToolRun:
    """One finished ffmpeg run: what it did and what it cost (for logs and benchmarks)."""

    what: str
    wall_s: float
    cpu_s: float  # user + system seconds of the ffmpeg process
    max_rss_mb: float


_tool_listeners: list[Callable[[ToolRun], None]] = []


def on_tool_run(listener: Callable[[ToolRun], None]) -> Callable[[], None]:
    """Subscribe to finished ffmpeg runs; returns an unsubscribe function."""
    _tool_listeners.append(listener)
    return lambda: _tool_listeners.remove(listener) if listener in _tool_listeners else None


def run_ffmpeg(args: Sequence[str], *, what: str, duration_s: float = 0.0, progress: Progress | None = None,
               timeout_s: float = 3600) -> ToolRun:
    """Run ffmpeg with argv `args` (without the binary), report progress, raise ToolError with stderr tail."""
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-y"]
    if progress:
        argv += ["-progress", "pipe:1", "-nostats"]  # machine-readable key=value progress on stdout
    argv += list(args)
    log.debug("ffmpeg: %s", " ".join(argv))
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if progress else subprocess.DEVNULL,
                                stderr=err, text=True)
        reader = None
        if progress:
            reader = threading.Thread(target=_read_progress, args=(proc.stdout, duration_s, progress), daemon=True)
            reader.start()
        try:
            rc, usage = _wait(proc, timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ToolError(f"{what}: ffmpeg ran past {timeout_s:.0f} s and was stopped", argv) from None
        finally:
            if reader:
                reader.join(timeout=5)
        if rc != 0:
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
            raise ToolError(f"{what}: ffmpeg failed (exit {rc})", argv, stderr, rc)
    run = ToolRun(what=what, wall_s=time.monotonic() - started,
                  cpu_s=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
                  max_rss_mb=(usage.ru_maxrss / 1024) if usage else 0.0)
    log.info("%s: %.1f s, %.1f CPU-s", what, run.wall_s, run.cpu_s)
    for listener in list(_tool_listeners):
        listener(run)
    return run


def _wait(proc: subprocess.Popen, timeout_s: float):
    """Wait for the child and collect its own resource usage (wait4), not all children's."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout_s)
        time.sleep(0.05)


def _read_progress(stream, duration_s: float, progress: Progress) -> None:
    for line in stream:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and duration_s > 0 and value.isdigit():
            progress(min(1.0, int(value) / 1e6 / duration_s))
        elif key == "progress" and value == "end":
            progress(1.0)
