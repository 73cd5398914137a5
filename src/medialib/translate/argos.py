"""Installed Argos Translate packages: the one reader of the format, and routes between languages.
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


def read_package(folder: Path) -> ArgosPackage:
    """Read one installed package folder; InputError naming what is missing or wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: Argos package folder not found; install the package (.argosmodel) again")
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise InputError(f"{folder}: no metadata.json, so not an Argos package; install it from its .argosmodel file")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{meta_path}: not valid JSON ({e}); install the package again") from None
    if not isinstance(meta, dict) or not meta.get("from_code") or not meta.get("to_code"):
        raise InputError(f"{meta_path}: from_code and to_code are required; install the package again")
    kind = meta.get("type", "translate")
    if kind != "translate":
        raise InputError(f"{folder}: an Argos {kind!r} package, not a translation package; install a translate-* package")
    if not (folder / "model" / "model.bin").is_file():
        raise InputError(f"{folder}: model/model.bin (the CTranslate2 weights) is missing; install the package again")
    if not (folder / "sentencepiece.model").is_file():
        if (folder / "bpe.model").is_file():
            raise InputError(
                f"{folder}: tokenizes with BPE (bpe.model), which medialib does not read; "
                "install a package with a sentencepiece.model"
            )
        raise InputError(f"{folder}: sentencepiece.model is missing; install the package again")
    from_code, to_code = str(meta["from_code"]), str(meta["to_code"])
    return ArgosPackage(
        path=folder,
        from_code=from_code,
        to_code=to_code,
        name=f"translate-{from_code}_{to_code}",
        version=str(meta.get("package_version") or "0"),
        license=meta.get("license") or None,
        size_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        target_prefix=str(meta.get("target_prefix") or ""),
    )


def installed_packages(folders: Sequence[Path]) -> tuple[ArgosPackage, ...]:
    """Every readable package in the given folders (one package per subfolder).

    A broken package is logged and skipped, so one bad install does not hide the others.
    """
    found = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if not (child / "metadata.json").is_file():
                continue
            try:
                found.append(read_package(child))
            except InputError as e:
                logger.warning("skipping an Argos package: %s", e)
    return tuple(found)


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
    return max(fitting, key=lambda p: _version_key(p.version), default=None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


SOURCE_FILE = "medialib-source.json"  # written into each package medialib installs


def _parse_metadata(raw: bytes, where: str) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{where}: not valid JSON ({e}); the package is damaged, download it again") from None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) and meta[k].strip()
                                             for k in ("from_code", "to_code")):
        raise InputError(f"{where}: metadata has no from_code/to_code; this is not an Argos translation package")
    meta["from_code"], meta["to_code"] = meta["from_code"].strip().lower(), meta["to_code"].strip().lower()
    return meta


def _package_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "metadata.json").is_file())
