"""Transcription's big buffers go back to the system when freed, so memory does not grow per window."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = r"""
import sys
import numpy as np
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) / 1024
if sys.argv[1] == "bound":
    from medialib.speech.whisper import bound_heap
    assert bound_heap()
x = np.ones(16 << 20 >> 3); del x       # glibc's default: this free raises its mmap threshold to 16 MB
base = rss_mb()
keep, bigs = [], []
for i in range(20):
    bigs.append(np.ones((4 << 20) >> 3))   # 4 MB each, like a window's feature buffers
    keep.append(bytearray(1000))            # small and long-lived, between them
del bigs
print(f"{rss_mb() - base:.1f}")
"""


def _kept_mb(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", CODE, mode], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return float(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_freed_buffers_are_returned_once_the_heap_is_bounded():
    assert _kept_mb("default") >= 8        # what the default allocator keeps (the growth measured per window)
    assert _kept_mb("bound") < 2
