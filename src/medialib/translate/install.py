"""Model management: which Whisper and Argos Translate models are installed, and installing Argos packages.

Argos packages (``*.argosmodel``) are zip files with one top folder holding
``metadata.json``, ``model/`` (CTranslate2) and ``sentencepiece.model``. They come from the
Argos package index (a JSON list; the public one gives ``links`` but no checksums) or from
a file the user has. An install never leaves a half-written package where the translator
looks: the zip is validated, extracted into a hidden folder beside the target and renamed
into place; a previous version of the same language pair is removed only after that.

Temporary names in the install folder start with ``.`` so nothing that lists packages
mistakes them for one: ``.download-*`` (a package being fetched), ``.partial-*`` (being
extracted), ``.replaced-*`` (an old version being removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from medialib.config import TranslationOptions
from medialib.errors import InputError, MedialibError, TransientError
from medialib.ids import file_sha256
from medialib.models import ModelInfo, argos_model_info
from medialib.translate.argos import (
    REQUIRED_FILES,
    SOURCE_FILE,
    inspect_package,
    parse_metadata,
    scan_packages,
    version_key,
)

log = logging.getLogger(__name__)


DownloadProgress = Callable[[int, int | None], None]  # bytes done, bytes in all (None: unknown)


_TMP_PREFIXES = (".download-", ".partial-", ".replaced-")


_CHUNK_BYTES = 1 << 20


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class _LocalDiskError(InputError):
    """Writing on this machine failed: trying the next link cannot help."""


@dataclass(frozen=True)
class IndexEntry:
    """One translation package offered by an Argos package index."""

    from_code: str
    to_code: str
    version: str
    urls: tuple[str, ...]  # absolute http(s)/file URLs, in the index's order (ipfs links dropped)
    sha256: str | None  # lower-case hex; None when the index gives none (the public index never does)
    name: str  # "translate-en_ru-1_9"

    @property
    def pair(self) -> str:
        return f"{self.from_code} -> {self.to_code}"


def fetch_index(url: str, timeout_s: float = 30) -> tuple[IndexEntry, ...]:
    """Translation packages from an Argos index at an http(s) URL, a file:// URL or a local path."""
    location = _as_url(url)
    with _open_url(location, timeout_s, what="the Argos package index") as (resp, _):
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise TransientError(f"{url}: reading the Argos package index failed ({_reason(e)}); "
                                 "check the network and retry") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{url}: the Argos package index is not valid JSON ({e}); "
                         "check translation.index_url or --index") from None
    if not isinstance(data, list):
        raise InputError(f"{url}: the Argos package index is not a JSON list of packages; "
                         "check translation.index_url or --index")
    return tuple(e for item in data if (e := _index_entry(item, location)) is not None)


def _index_entry(item: object, base_url: str) -> IndexEntry | None:
    if not isinstance(item, dict) or item.get("type", "translate") != "translate":
        return None  # sentence-boundary ("sbd") packages and junk
    src, dst = item.get("from_code"), item.get("to_code")
    if not (isinstance(src, str) and isinstance(dst, str) and src and dst):
        return None
    links = item.get("links") if isinstance(item.get("links"), list) else []
    # Relative links resolve against the index (a local mirror); ipfs:// links are skipped.
    absolute = (urllib.parse.urljoin(base_url, link) for link in links if isinstance(link, str))
    urls = tuple(u for u in absolute if urllib.parse.urlsplit(u).scheme in ("http", "https", "file"))
    version = str(item.get("package_version") or "")
    if urls:
        name = PurePosixPath(urllib.parse.urlsplit(urls[0]).path).name.removesuffix(".argosmodel")
    else:
        name = f"{item.get('code') or f'translate-{src}_{dst}'}-{version.replace('.', '_')}"
    return IndexEntry(src.lower(), dst.lower(), version, urls, _index_sha256(item), name)


def _index_sha256(item: dict) -> str | None:
    """The package's sha256 from `sha256` or `checksum` ("sha256:<hex>" or bare hex); other algorithms ignored."""
    for key in ("sha256", "checksum"):
        value = item.get(key)
        if isinstance(value, str):
            algo, sep, digest = value.strip().lower().rpartition(":")
            if (not sep or algo == "sha256") and _SHA256_RE.match(digest):
                return digest
    return None


def _as_url(location: str) -> str:
    """http(s) and file URLs unchanged; a local path (also C:\\...) as a file:// URL."""
    scheme = urllib.parse.urlsplit(location).scheme
    if len(scheme) > 1:
        return location
    return Path(location).expanduser().resolve().as_uri()


@contextlib.contextmanager
def _open_url(url: str, timeout_s: float, *, what: str) -> Iterator[tuple[object, int | None]]:
    """(response, Content-Length) with errors sorted: unreachable or 5xx -> TransientError, else InputError."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            f = open(path, "rb")
        except OSError as e:
            raise InputError(f"{path}: cannot read {what} ({e.strerror}); check the path") from None
        with f:
            yield f, path.stat().st_size
        return
    if scheme not in ("http", "https"):
        raise InputError(f"{url}: cannot fetch {what} over {scheme!r}; give an http(s) URL or a local file")
    request = urllib.request.Request(url, headers={"User-Agent": "medialib"})
    try:
        resp = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 429 or e.code >= 500:
            raise TransientError(f"{url}: the server answered HTTP {e.code} for {what}; retry later") from None
        raise InputError(f"{url}: the server answered HTTP {e.code} for {what}; check the URL") from None
    except (OSError, http.client.HTTPException) as e:  # URLError, refused, timeout, reset
        raise TransientError(f"{url}: could not fetch {what} ({_reason(e)}); "
                             "check the network and retry") from None
    with resp:
        length = resp.headers.get("Content-Length")
        yield resp, int(length) if length and length.isdigit() else None


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def missing_pair_hint(src: str, dst: str) -> str:
    """The command that installs the Argos package for src -> dst."""
    return f"medialib models install argos {src} {dst}"


def install_argos(src: str, dst: str, translation: TranslationOptions, *, index_url: str | None = None,
                  progress: DownloadProgress | None = None, timeout_s: float = 60) -> ModelInfo:
    """Download the src -> dst package from the Argos index, check it, install it.

    The sha256 is checked when the index gives one; either way it is recorded in
    medialib-source.json. `timeout_s` bounds each network wait, not the whole download.
    """
    src, dst = src.strip().lower(), dst.strip().lower()
    if src == dst:
        raise InputError(f"{src} -> {dst}: source and target language are the same; give two languages")
    url = index_url or translation.index_url
    entries = fetch_index(url, timeout_s)
    entry = _pick_entry(entries, src, dst, url)
    if not entry.urls:
        raise InputError(f"{entry.name}: the index at {url} gives no http(s) link for {entry.pair}; "
                         "download the .argosmodel yourself and run "
                         f"`medialib models install argos {src} {dst} --from FILE.argosmodel`")
    root = translation.argos_paths()[0]
    with _install_lock(root):
        fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".argosmodel", dir=root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                source_url, digest = _download(entry, out, progress, timeout_s)
            if entry.sha256 is not None and digest != entry.sha256:
                raise InputError(f"{source_url}: checksum mismatch for {entry.name}: expected {entry.sha256} "
                                 f"got {digest}; nothing was installed; retry, and if it happens again "
                                 "report it to the index's maintainers")
            if entry.sha256 is None:
                log.warning("%s: the index gives no checksum; installing unverified (sha256 %s)", entry.name, digest)
            return _install_package(tmp, root, {
                "source": "Argos index", "index_url": url, "url": source_url, "sha256": digest,
                "sha256_verified": entry.sha256 is not None,
            }, expect=(src, dst))
        finally:
            tmp.unlink(missing_ok=True)


def install_argos_file(path: Path, translation: TranslationOptions, *, source: str | None = None,
                       pair: tuple[str, str] | None = None) -> ModelInfo:
    """Install a .argosmodel file the user has.

    `source` labels it in `models list` (default "file: NAME"); `pair` (src, dst), when
    given, must match the package's metadata, so `install argos ru en --from X` cannot
    quietly install en -> ru.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: file not found; give the path of a .argosmodel file")
    expect = (pair[0].strip().lower(), pair[1].strip().lower()) if pair else None
    root = translation.argos_paths()[0]
    with _install_lock(root):
        return _install_package(path, root, {
            "source": source or f"file: {path.name}", "file": str(path.resolve()), "sha256": file_sha256(path),
            "sha256_verified": False,
        }, expect=expect)


def _pick_entry(entries: tuple[IndexEntry, ...], src: str, dst: str, url: str) -> IndexEntry:
    matches = [e for e in entries if e.from_code == src and e.to_code == dst]
    if matches:
        return max(matches, key=lambda e: version_key(e.version))
    pairs = sorted({f"{e.from_code}->{e.to_code}" for e in entries})
    msg = (f"{src} -> {dst}: no package for this pair in the Argos index {url}; "
           f"available pairs: {', '.join(pairs) or 'none'}")
    if "en" not in (src, dst):
        has = {(e.from_code, e.to_code) for e in entries}
        if (src, "en") in has and ("en", dst) in has:
            msg += (f". To translate through English install both halves: "
                    f"`{missing_pair_hint(src, 'en')}` and `{missing_pair_hint('en', dst)}`")
        else:
            msg += f". A pivot through English needs both {src} -> en and en -> {dst}, and the index lacks one"
    raise InputError(msg)


def _download(entry: IndexEntry, out, progress: DownloadProgress | None, timeout_s: float) -> tuple[str, str]:
    """Stream the first link that answers into `out`; (the URL used, hex sha256)."""
    failures: list[MedialibError] = []
    for url in entry.urls:
        out.seek(0)
        out.truncate()
        h = hashlib.sha256()
        done = 0
        try:
            with _open_url(url, timeout_s, what=f"the package {entry.name}") as (resp, total):
                if progress:
                    progress(0, total)
                while True:
                    try:
                        block = resp.read(_CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as e:
                        raise TransientError(f"{url}: download of {entry.name} broke off after {done} bytes "
                                             f"({_reason(e)}); retry") from None
                    if not block:
                        break
                    try:
                        out.write(block)
                    except OSError as e:  # our disk, not the network: a retry will not help
                        raise _LocalDiskError(f"{out.name}: cannot write the download of {entry.name} "
                                              f"({e.strerror}); free some space; nothing was installed") from None
                    h.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (TransientError, InputError) as e:
            if isinstance(e, _LocalDiskError):
                raise
            log.warning("%s", e)
            failures.append(e)
            continue
        if total is not None and done != total:
            failures.append(TransientError(f"{url}: download of {entry.name} stopped at {done} of {total} bytes; "
                                           "retry"))
            continue
        return url, h.hexdigest()
    # Any link that failed for a passing reason makes the whole download worth a retry.
    kind = TransientError if any(isinstance(f, TransientError) for f in failures) else InputError
    raise kind("; ".join(str(f) for f in failures))


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    """One install at a time per install folder; leftovers of an install that was killed are removed.

    Held through the download too, so a second install of the same pair waits instead of
    fetching it twice, and the clean-up can never remove a download in progress.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{root}: cannot create the Argos package folder ({e.strerror}); "
                         "check MEDIALIB_HOME and its permissions") from None
    lock_path = root.parent / f".{root.name}.lock"  # beside, not inside: the package folder stays clean
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent installs there are the user's business
        fcntl = None
    with open(lock_path, "a+b") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for p in root.iterdir():
                if p.name.startswith(_TMP_PREFIXES):
                    log.info("removing %s, left by an install that did not finish", p)
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _install_package(archive: Path, root: Path, record: dict, expect: tuple[str, str] | None = None) -> ModelInfo:
    """Validate, extract beside the target, rename into place, then drop older versions of the pair."""
    top, meta, members = _check_archive(archive)
    pair = (meta["from_code"], meta["to_code"])
    if expect is not None and pair != expect:
        where, fix = (record["url"], "report it to the index's maintainers") if "url" in record else (
            archive.name, "give the package for the pair you asked for")
        raise InputError(f"{where}: the package is for {pair[0]} -> {pair[1]}, not {expect[0]} -> {expect[1]}; "
                         f"nothing was installed; {fix}")
    needed = sum(m.file_size for m in members)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise InputError(f"{archive.name}: needs {needed} bytes unpacked, {root} has {free} free; free some space")
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    replaced: list[Path] = []
    try:
        _extract(archive, members, staging)
        package = staging / top
        if (problem := inspect_package(package).problem) is not None:  # read as the translator will read it
            raise InputError(f"{archive.name}: nothing was installed: {problem.replace(str(package), top)}")
        record = {**record, "installed_at": datetime.now(UTC).isoformat(timespec="seconds")}
        (package / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        target = root / top
        older = [f.path for f in scan_packages([root]) if f.path != target and f.pair == pair]
        if target.exists():
            replaced.append(target.rename(root / f".replaced-{top}-{staging.name.removeprefix('.partial-')}"))
        try:
            package.rename(target)
        except OSError:
            if replaced:  # put the old version back: the pair keeps working
                replaced.pop().rename(target)
            raise
        for p in older:  # only now that the new version is complete
            try:
                replaced.append(p.rename(root / f".replaced-{p.name}-{staging.name.removeprefix('.partial-')}"))
            except OSError as e:
                log.warning("%s: could not remove this older version of %s -> %s (%s)", p, *pair, e)
    except OSError as e:
        raise InputError(f"{archive.name}: could not install into {root} ({e.strerror or e}); "
                         "check free space and permissions; nothing was installed") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for p in replaced:
            shutil.rmtree(p, ignore_errors=True)
    log.info("installed Argos package %s (%s -> %s) into %s", top, *pair, target)
    return argos_model_info(inspect_package(target))


def _check_archive(archive: Path) -> tuple[str, dict, list[zipfile.ZipInfo]]:
    """(top folder, metadata, file members) of a valid package; InputError naming the first problem."""
    name = archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{name}: not a valid .argosmodel (zip) file ({e}); download it again") from None
    with zf:
        infos = zf.infolist()
        tops: set[str] = set()
        for info in infos:
            parts = PurePosixPath(info.filename).parts
            if ("\\" in info.filename or info.filename.startswith("/") or ".." in parts
                    or (parts and ":" in parts[0])):
                raise InputError(f"{name}: member {info.filename!r} points outside the package folder; "
                                 "refusing to install it; get the package from a trusted source")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(f"{name}: member {info.filename!r} is a symbolic link; "
                                 "refusing to install it; get the package from a trusted source")
            if parts:
                tops.add(parts[0])
        if len(tops) != 1 or any(len(PurePosixPath(i.filename).parts) < 2 and not i.is_dir() for i in infos):
            raise InputError(f"{name}: a package holds exactly one top folder, this has "
                             f"{', '.join(sorted(tops)) or 'nothing'}; it is not an Argos package")
        top = tops.pop()
        if top.startswith(".") or top in (".", ".."):
            raise InputError(f"{name}: top folder {top!r} is not a valid package name; it is not an Argos package")
        files = {i.filename: i for i in infos if not i.is_dir()}
        for required in REQUIRED_FILES:
            if f"{top}/{required}" not in files:
                raise InputError(f"{name}: {required} is missing from the package; "
                                 "it is incomplete or not an Argos package; download it again")
        try:
            raw = zf.read(f"{top}/metadata.json")
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise InputError(f"{name}: metadata.json cannot be read ({e}); the file is damaged, "
                             "download it again") from None
        meta = parse_metadata(raw, f"{name}: metadata.json")
    return top, meta, list(files.values())


def _extract(archive: Path, members: list[zipfile.ZipInfo], dest: Path) -> None:
    """Write members under dest; CRC and truncation errors become InputError."""
    dest_resolved = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in members:
                out = (dest / info.filename).resolve()
                if not out.is_relative_to(dest_resolved):  # checked already; kept as the last line of defence
                    raise InputError(f"{archive.name}: member {info.filename!r} points outside the package folder")
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK_BYTES)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise InputError(f"{archive.name}: the package is damaged ({e}); download it again; "
                         "nothing was installed") from None
