"""No orphans: a killed command's children are stopped by its reaper; a run dies with its worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medialib import procs

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc and process groups")

PARENT = """
import subprocess, sys, time
from medialib.procs import start_reaper
start_reaper()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        st = procs._stat(pid)
        if st is None or Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0:
            return True
        time.sleep(0.1)
    return False


def test_a_sigkilled_command_leaves_no_child_behind():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(1.5)   # the reaper has seen the child
    parent.kill()
    parent.wait(timeout=10)
    try:
        assert _gone(child, 10), "the child outlived its killed parent"
    finally:
        if procs._stat(child):
            os.kill(child, signal.SIGKILL)


RUN = """
import os, subprocess, sys, time
os.setpgrp()   # a worker's run process leads its own group
from medialib.procs import die_with_parent
assert die_with_parent(poll_s=0.2)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(os.getpid(), child.pid, flush=True)
time.sleep(120)
"""

WORKER = """
import subprocess, sys, time
run = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=sys.stdout)
time.sleep(120)
"""


def test_a_run_and_its_children_die_with_their_worker():
    worker = subprocess.Popen([sys.executable, "-c", WORKER, RUN], stdout=subprocess.PIPE, text=True)
    run, child = map(int, worker.stdout.readline().split())
    worker.kill()
    worker.wait(timeout=10)
    try:
        assert _gone(run, 10) and _gone(child, 10)
    finally:
        for pid in (run, child):
            if procs._stat(pid):
                os.kill(pid, signal.SIGKILL)


def test_descendants_stay_in_the_session():
    detached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    attached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = procs.descendants(os.getpid())
        assert attached.pid in found and detached.pid not in found
    finally:
        detached.kill()
        attached.kill()
        detached.wait()
        attached.wait()


def test_machine_slots_are_shared_by_processes(tmp_path):
    hold = ("import sys, time; from medialib.procs import machine_slot\n"
            "with machine_slot('encode', 1, sys.argv[1]):\n    print('in', flush=True); time.sleep(1.5)\n")
    first = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "in"
    t0 = time.monotonic()
    with procs.machine_slot("encode", 1, tmp_path, poll_s=0.05):
        waited = time.monotonic() - t0
    first.wait(timeout=10)
    assert waited > 0.5   # the other process held the only slot
    with procs.machine_slot("encode", 2, tmp_path) as a, procs.machine_slot("encode", 2, tmp_path) as b:
        assert {a, b} == {0, 1}
