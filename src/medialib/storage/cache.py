"""The local work cache ($MEDIALIB_HOME/work): kept under a cap, oldest first, never what a stage is using.

    work/<sha256[:16]>/          one folder per recording: a copy of the original,
                                 ladder-<digest>/ (renditions), speech audio
    work/objects/<key's folder>/ work objects downloaded from the archive bucket

Everything here is a copy of what object storage holds (the archive's original and work/,
the published renditions), or the leftover of a stage that died, which a re-run makes
again; so any of it may go, except while a stage uses it. A stage holds a shared lock
(flock) on `<folder>/.in-use` while it works in a folder; trimming takes the exclusive
lock without waiting and skips a folder it cannot get. The kernel drops a lock when its
process dies, so a killed worker leaves nothing that pins the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".in-use"
OBJECTS = "objects"


@contextlib.contextmanager
def using(folder: Path) -> Iterator[Path]:
    """Mark folder in use while the block runs (a shared lock: several stages may share it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)   # waits only while a trim is deleting from this folder
        yield folder
    finally:
        os.close(fd)   # releases the lock


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[bool]:
    """True when nobody uses folder (and holds it so until the block ends); False when in use."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _units(root: Path) -> list[Path]:
    """The folders a stage locks: each recording's folder, and each folder of downloaded objects."""
    if not root.is_dir():
        return []
    out = [d for d in root.iterdir() if d.is_dir() and d.name != OBJECTS]
    objects = root / OBJECTS
    if objects.is_dir():
        out += sorted({p.parent for p in objects.rglob("*") if p.is_file() and p.name != LOCK_NAME})
    return out


@dataclass(frozen=True)
class Entry:
    path: Path          # a file or a folder (a ladder) directly inside a unit
    size_bytes: int
    mtime: float        # newest modification inside it


def _entry(path: Path) -> Entry:
    if path.is_dir() and not path.is_symlink():
        files = [p for p in path.rglob("*") if p.is_file()]
        stats = [p.stat() for p in files]
        # files only: a folder's own mtime moves whenever a temporary file comes and goes
        return Entry(path, sum(s.st_size for s in stats),
                     max((s.st_mtime for s in stats), default=path.stat().st_mtime))
    st = path.lstat()
    return Entry(path, st.st_size, st.st_mtime)


def _entries(root: Path, unit: Path) -> list[Entry]:
    """What may go from a unit: its files and folders (under objects/, files only: subfolders are units)."""
    objects = root / OBJECTS
    in_objects = unit == objects or objects in unit.parents
    out = []
    for p in unit.iterdir():
        if p.name == LOCK_NAME or (in_objects and p.is_dir()):
            continue
        with contextlib.suppress(FileNotFoundError):   # a stage may be replacing it right now
            out.append(_entry(p))
    return out


def cache_bytes(root: Path) -> int:
    """Bytes of every file under the cache root."""
    root = Path(root)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


@dataclass(frozen=True)
class TrimReport:
    before_bytes: int
    after_bytes: int
    removed: tuple[str, ...]     # paths relative to the cache root, oldest first
    busy: tuple[str, ...]        # folders skipped because a stage was using them


def trim_cache(root: Path, max_bytes: int) -> TrimReport:
    """Delete the oldest entries until the cache is at most max_bytes; folders in use are left alone.

    An entry is a file, or a folder such as a ladder, directly inside a unit folder; it goes
    whole. When what is in use alone exceeds max_bytes, the cache stays above the cap until
    those stages finish (the next trim takes it down).
    """
    root = Path(root)
    total = cache_bytes(root)
    if total <= max_bytes:
        return TrimReport(total, total, (), ())
    removed: list[str] = []
    busy: list[str] = []
    candidates = []
    for unit in _units(root):
        with contextlib.suppress(FileNotFoundError):
            candidates += [(e.mtime, unit, e) for e in _entries(root, unit)]
    candidates.sort(key=lambda c: c[0])
    now = total
    for _mtime, unit, e in candidates:
        if now <= max_bytes:
            break
        if str(unit) in busy:
            continue
        with _exclusive(unit) as free:
            if not free:
                busy.append(str(unit))
                continue
            if e.path.is_dir() and not e.path.is_symlink():
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    e.path.unlink()
        now -= e.size_bytes
        removed.append(e.path.relative_to(root).as_posix())
    if removed:
        log.info("work cache: removed %d entries, %d -> %d bytes (cap %d)", len(removed), total, now, max_bytes)
    if now > max_bytes:
        log.warning("work cache: %d bytes, above the cap of %d; in use: %s", now, max_bytes,
                    ", ".join(busy) or "nothing")
    return TrimReport(total, cache_bytes(root), tuple(removed), tuple(Path(b).relative_to(root).as_posix()
                                                                        for b in busy))
