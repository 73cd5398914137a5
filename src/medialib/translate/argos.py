"""Installed Argos Translate packages: the one reader of the format, and routes between languages.

The translator (`installed_packages`), `medialib models list` (`scan_packages`, broken
packages included, with their problem) and the installer (`parse_metadata`,
`inspect_package`) all read packages here, so they agree on what is installed. The
folders searched (`TranslationOptions.argos_paths`) are medialib's own, `argos_dirs` and
argostranslate's own package folder: the layout is the same, one package per subfolder.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medialib.errors import InputError

logger = logging.getLogger(__name__)


PIVOT_LANGUAGE = "en"  # Argos publishes most pairs to and from English


@dataclass(frozen=True)
class ArgosPackage:
    """An installed Argos translation package: one folder."""

    path: Path
    from_code: str
    to_code: str
    name: str  # "translate-en_ru"
    version: str  # the package's own version, "1.9"
    license: str | None
    size_bytes: int
    target_prefix: str = ""  # a token some multilingual packages expect first in the output

    @property
    def model_id(self) -> str:
        """What made a track, for its provenance: ``argos:translate-en_ru-1.9``."""
        return f"argos:{self.name}-{self.version}"


@dataclass(frozen=True)
class PackageFolder:
    """A folder where an Argos package is installed: the package, or why it cannot be used."""

    path: Path
    package: ArgosPackage | None
    problem: str | None = None  # what is wrong, with the next step, when package is None
    pair: tuple[str, str] | None = None  # (from_code, to_code) when metadata.json says, broken or not


# What a translation package folder holds, relative to it: read_package checks these (and says
# what each is when one is missing); the installer checks an .argosmodel's members against them.
REQUIRED_FILES = ("metadata.json", "model/model.bin", "sentencepiece.model")


def parse_metadata(raw: bytes, where: str) -> dict:
    """A translation package's metadata.json (codes lower-cased); InputError naming `where` and what is wrong.

    The one parser for installed folders and for .argosmodel files about to be installed.
    """
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{where}: not valid JSON ({e}); the package is damaged, download it again") from None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) and meta[k].strip()
                                             for k in ("from_code", "to_code")):
        raise InputError(f"{where}: metadata has no from_code/to_code; this is not an Argos translation package")
    kind = meta.get("type", "translate")
    if kind != "translate":
        raise InputError(f"{where}: an Argos {kind!r} package, not a translation package; "
                         "install a translate-* package")
    meta["from_code"], meta["to_code"] = meta["from_code"].strip().lower(), meta["to_code"].strip().lower()
    return meta


def read_package(folder: Path) -> ArgosPackage:
    """Read one installed package folder; InputError naming what is missing or wrong."""
    found = inspect_package(folder)
    if found.package is None:
        raise InputError(found.problem)
    return found.package


def inspect_package(folder: Path) -> PackageFolder:
    """One package folder read: the package, or the problem that makes it unusable (never raises InputError)."""
    folder = Path(folder)
    pair = None
    try:
        meta = _read_metadata(folder)
        pair = (meta["from_code"], meta["to_code"])
        _check_files(folder)
    except InputError as e:
        return PackageFolder(folder, None, str(e), pair)
    package = ArgosPackage(
        path=folder,
        from_code=pair[0],
        to_code=pair[1],
        name=f"translate-{pair[0]}_{pair[1]}",
        version=str(meta.get("package_version") or "0"),
        license=str(meta["license"]) if meta.get("license") else None,
        size_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        target_prefix=str(meta.get("target_prefix") or ""),
    )
    return PackageFolder(folder, package, None, pair)


def _read_metadata(folder: Path) -> dict:
    if not folder.is_dir():
        raise InputError(f"{folder}: Argos package folder not found; install the package (.argosmodel) again")
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise InputError(f"{folder}: no metadata.json, so not an Argos package; install it from its .argosmodel file")
    try:
        raw = meta_path.read_bytes()
    except OSError as e:
        raise InputError(f"{meta_path}: cannot be read ({e.strerror}); check its permissions") from None
    return parse_metadata(raw, str(meta_path))


def _check_files(folder: Path) -> None:
    if not (folder / "model" / "model.bin").is_file():
        raise InputError(f"{folder}: model/model.bin (the CTranslate2 weights) is missing; install the package again")
    if not (folder / "sentencepiece.model").is_file():
        if (folder / "bpe.model").is_file():
            raise InputError(
                f"{folder}: tokenizes with BPE (bpe.model), which medialib does not read; "
                "install a package with a sentencepiece.model"
            )
        raise InputError(f"{folder}: sentencepiece.model is missing; install the package again")


def scan_packages(roots: Sequence[Path]) -> tuple[PackageFolder, ...]:
    """Every package folder under the given install folders (one package per subfolder), broken ones too.

    A subfolder counts when it has a metadata.json and its name does not start with "."
    (the installer's .download-*, .partial-* and .replaced-* are never packages). A
    folder reached twice (the same path listed twice, or through a link) counts once,
    where it is first found.
    """
    found: list[PackageFolder] = []
    seen: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if child.name.startswith(".") or not (child / "metadata.json").is_file():
                continue
            if (key := child.resolve()) in seen:
                continue
            seen.add(key)
            found.append(inspect_package(child))
    return tuple(found)


def installed_packages(roots: Sequence[Path]) -> tuple[ArgosPackage, ...]:
    """The usable packages under the given install folders, in `scan_packages` order.

    A broken package is logged and skipped, so one bad install does not hide the others;
    `medialib models list` shows it with the same problem.
    """
    usable = []
    for found in scan_packages(roots):
        if found.package is None:
            logger.warning("skipping an Argos package: %s", found.problem)
        else:
            usable.append(found.package)
    return tuple(usable)


def find_route(packages: Sequence[ArgosPackage], src: str, dst: str) -> tuple[ArgosPackage, ...] | None:
    """Packages that translate src to dst: one direct, else two via English; None when none do.

    The newest version wins among packages of one pair. For src == dst the route is
    empty: nothing to translate. Region subtags are ignored ("en-GB" uses an "en" package).
    """
    src, dst = _primary(src), _primary(dst)
    if src == dst:
        return ()
    if direct := _best(packages, src, dst):
        return (direct,)
    if PIVOT_LANGUAGE not in (src, dst):
        first, second = _best(packages, src, PIVOT_LANGUAGE), _best(packages, PIVOT_LANGUAGE, dst)
        if first and second:
            return (first, second)
    return None


def _primary(code: str) -> str:
    return code.split("-")[0].lower()


def _best(packages: Sequence[ArgosPackage], src: str, dst: str) -> ArgosPackage | None:
    fitting = [p for p in packages if _primary(p.from_code) == src and _primary(p.to_code) == dst]
    return max(fitting, key=lambda p: version_key(p.version), default=None)


def version_key(version: str) -> tuple[int, ...]:
    """A package version for comparing: "1.10" > "1.9"; digits only, so "1.9-rc" == "1.9"."""
    return tuple(int(n) for n in re.findall(r"\d+", version))


SOURCE_FILE = "medialib-source.json"  # written into each package medialib installs: where it came from
