"""The local work cache: trimmed oldest first to its cap, never a folder a stage is using."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from medialib.config import load_settings
from medialib.storage import cache


def _file(path: Path, size: int, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return path


def _cache(root: Path) -> None:
    _file(root / "aaaa" / "original.mp4", 400, age_s=500)            # oldest
    _file(root / "aaaa" / "ladder-1" / "360p" / "seg_0.m4s", 300, age_s=400)
    _file(root / "bbbb" / "ladder-2" / "360p" / "seg_0.m4s", 200, age_s=300)
    _file(root / "objects" / "work" / "talk" / "speech-0.flac", 100, age_s=200)
    _file(root / "cccc" / "speech-0.flac", 50, age_s=10)              # newest


def test_nothing_goes_under_the_cap(tmp_path):
    _cache(tmp_path)
    report = cache.trim_cache(tmp_path, 10_000)
    assert report.removed == () and report.before_bytes == report.after_bytes == 1050


def test_oldest_entries_go_first_until_under_the_cap(tmp_path):
    _cache(tmp_path)
    report = cache.trim_cache(tmp_path, 400)
    assert report.removed == ("aaaa/original.mp4", "aaaa/ladder-1")   # a ladder goes whole
    assert report.after_bytes == 350 == cache.cache_bytes(tmp_path)
    assert (tmp_path / "bbbb" / "ladder-2" / "360p" / "seg_0.m4s").is_file()


def test_a_folder_in_use_is_never_touched(tmp_path):
    _cache(tmp_path)
    with cache.using(tmp_path / "aaaa"):
        report = cache.trim_cache(tmp_path, 0)
    assert report.busy == ("aaaa",)
    assert (tmp_path / "aaaa" / "original.mp4").is_file() and (tmp_path / "aaaa" / "ladder-1").is_dir()
    assert not (tmp_path / "bbbb" / "ladder-2").exists() and not (tmp_path / "cccc" / "speech-0.flac").exists()
    assert not (tmp_path / "objects" / "work" / "talk" / "speech-0.flac").exists()
    assert cache.trim_cache(tmp_path, 0).after_bytes == 0   # once the stage is done, it goes too


def test_a_folder_another_process_uses_is_kept_and_a_dead_process_pins_nothing(tmp_path):
    _cache(tmp_path)
    code = ("import sys, time; from medialib.storage import cache\n"
            f"with cache.using({str(tmp_path / 'objects' / 'work' / 'talk')!r}):\n"
            "    print('locked', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert child.stdout.readline().strip() == "locked"
        report = cache.trim_cache(tmp_path, 0)
        assert report.busy == ("objects/work/talk",)
        assert (tmp_path / "objects" / "work" / "talk" / "speech-0.flac").is_file()
    finally:
        child.kill()
        child.wait()
    assert cache.trim_cache(tmp_path, 0).after_bytes == 0   # the kernel dropped the dead process's lock


def test_the_cap_is_a_setting():
    s = load_settings(environ={})
    assert s.work.max_cache_gb == 20 and s.work.max_cache_bytes == 20_000_000_000
    assert load_settings(environ={"MEDIALIB_WORK__MAX_CACHE_GB": "0.5"}).work.max_cache_bytes == 500_000_000
