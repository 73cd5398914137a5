"""The error tree: user mistakes (exit 2, 4xx) apart from operator and server faults (exit 1, 5xx).

Each operator fault is produced for real with a stand-in for the broken part: an empty
PATH for ffmpeg and weed, a fake weights package for Whisper, moto for the archive
bucket, a taken port and a public address for the embedded server.
"""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

import pytest
from moto import mock_aws

from medialib import speech, storage
from medialib.config import load_settings
from medialib.errors import (
    ConfigError,
    InputError,
    MedialibError,
    NotFoundError,
    OperatorError,
    ToolError,
    TransientError,
)
from medialib.media import ffmpeg
from medialib.pipeline import stages
from medialib.pipeline.records import Ingested
from medialib.speech import whisper
from medialib.storage import embedded
from medialib_app.cli import main

WHISPER_CODES = ", ".join(sorted(whisper.whisper_languages()))


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch):
    """main() writes MEDIALIB_CONFIG and PREFECT_LOGGING_LEVEL into os.environ: put both back afterwards."""
    for name in ("MEDIALIB_CONFIG", "PREFECT_LOGGING_LEVEL"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


# ---------------------------------------------------------------- the tree


def test_user_mistakes_are_4xx_and_everything_else_5xx():
    assert InputError.http_status == 422 and NotFoundError.http_status == 404
    for cls in (MedialibError, OperatorError, ConfigError, ToolError):
        assert cls.http_status == 500
    assert TransientError.http_status == 503
    for cls in (OperatorError, ConfigError, ToolError, TransientError):
        assert not issubclass(cls, InputError)
    assert issubclass(ConfigError, OperatorError) and issubclass(NotFoundError, InputError)


# ---------------------------------------------------------------- tools and models


@pytest.fixture
def no_ffmpeg(tmp_path, monkeypatch):
    """PATH holds only tmp_path/bin, and imageio-ffmpeg has no binary; find_ffmpeg forgets what it found."""
    import imageio_ffmpeg

    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    def none():
        raise RuntimeError("no ffmpeg exe")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", none)
    ffmpeg.find_ffmpeg.cache_clear()
    yield tmp_path / "bin"
    ffmpeg.find_ffmpeg.cache_clear()


def test_missing_ffmpeg_is_an_operator_fault(no_ffmpeg):
    with pytest.raises(OperatorError) as e:
        ffmpeg.find_ffmpeg()
    assert str(e.value) == ("no ffmpeg with libx264 found (tried: nothing on PATH); "
                            "run `pip install imageio-ffmpeg` or install ffmpeg")


def test_ffmpeg_without_libx264_is_an_operator_fault(no_ffmpeg):
    fake = no_ffmpeg / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' V....D libopenh264   OpenH264 H.264'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(OperatorError, match=rf"^no ffmpeg with libx264 found \(tried: {fake}\); run"):
        ffmpeg.find_ffmpeg()


def test_missing_whisper_weights_are_an_operator_fault(monkeypatch):
    monkeypatch.setattr(whisper, "_WHISPER_MODULES", ("no_such_weights_part1", "no_such_weights_part2"))
    with pytest.raises(OperatorError, match=r"^the Whisper base weights are not installed; run `medialib models install whisper base`$"):
        whisper._bundled_model_dir()


def test_incomplete_whisper_weights_are_an_operator_fault(tmp_path, monkeypatch):
    """Packages that import but lack the model parts (a fake weights location)."""
    for name in ("fake_weights_part1", "fake_weights_part2"):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / "fake_weights_part1" / "data" / name).write_text("{}")
    (tmp_path / "fake_weights_part1" / "data" / "model.bin.part1").write_bytes(b"x")
    monkeypatch.setattr(whisper, "find_bundled_whisper", lambda: whisper.BundledWhisper(
        tmp_path / "fake_weights_part1" / "data", tmp_path / "fake_weights_part2" / "data", "1.0.0", None, 1))
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path / "home"))
    with pytest.raises(OperatorError) as e:
        whisper._bundled_model_dir()
    missing = tmp_path / "fake_weights_part2" / "data" / "model.bin.part2"
    assert str(e.value).startswith(f"the Whisper base weights are incomplete ({missing} missing); reinstall them")
    assert not (tmp_path / "home").exists()   # nothing half-joined left behind


# ---------------------------------------------------------------- the embedded server


def test_missing_weed_is_an_operator_fault(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OperatorError, match=r"^SeaweedFS `weed` not found; install it"):
        embedded.weed_path()


def test_broken_server_credentials_are_an_operator_fault(tmp_path):
    (tmp_path / "credentials.json").write_text("{not json")
    (tmp_path / "credentials.json").chmod(0o600)
    with pytest.raises(OperatorError, match="credentials.json: not valid credentials JSON; delete it"):
        embedded.load_or_create_credentials(tmp_path)


def test_embedded_server_settings_are_config_errors(tmp_path):
    eo = load_settings(environ={}).embedded
    with pytest.raises(ConfigError, match=r"^embedded.host = '0.0.0.0': the embedded server only listens on loopback"):
        embedded.start_server(eo.model_copy(update={"host": "0.0.0.0"}), tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^port {port} on 127.0.0.1 is in use by another program; set "):
            embedded._choose_ports(eo.model_copy(update={"host": "127.0.0.1", "s3_port": port}), tmp_path,
                                   fresh=True)


# ---------------------------------------------------------------- work objects in the archive bucket


@pytest.fixture
def moto_opts():
    opts = load_settings(environ={}).storage.model_copy(update={
        "endpoint_url": "https://s3.amazonaws.com", "access_key_id": "testing", "secret_access_key": "testing"})
    with mock_aws():
        storage.ensure_buckets(storage.make_client(opts), opts)
        yield opts


def test_missing_work_objects_are_operator_faults(moto_opts, tmp_path):
    opts = moto_opts
    with pytest.raises(OperatorError, match=r"^work/talk/speech-0.wav: missing from bucket 'medialib-archive'; "):
        stages.transcribe_stage("work/talk/speech-0.wav", "talk", opts, load_settings(environ={}).speech, tmp_path)
    with pytest.raises(OperatorError, match=r"^work/talk/t.json: transcript missing from the archive bucket"):
        stages._load_transcript(opts, "work/talk/t.json")
    gone = Ingested(lecture_id="talk", sha256="0" * 64, archive_key="originals/talk/x.mp4",
                    info=None, local_path=str(tmp_path / "gone.mp4"), existing=True)
    with pytest.raises(OperatorError, match=r"^originals/talk/x.mp4: the archived original is missing from bucket"):
        stages.fetch_original(gone, opts, tmp_path)


# ---------------------------------------------------------------- early input checks


def test_language_is_checked_against_whispers_codes():
    assert speech.check_language("EN") == "en" and speech.check_language(None) is None
    assert {"en", "ru", "uk", "de"} <= set(whisper.whisper_languages())
    with pytest.raises(InputError) as e:
        speech.check_language("xx")
    assert str(e.value) == f"--language 'xx': not a language Whisper knows; use one of {WHISPER_CODES}"


def test_a_folder_is_not_a_recording(tmp_path):
    with pytest.raises(InputError) as e:
        stages.check_request(tmp_path, "Talk")
    assert type(e.value) is InputError
    assert str(e.value) == f"{tmp_path}: is a folder, not a recording; pass one recording file"
    with pytest.raises(NotFoundError, match="no such file; check the path"):
        stages.check_request(tmp_path / "nope.mp4", "Talk")


@pytest.fixture
def recording(tmp_path):
    p = tmp_path / "talk.mp4"
    p.write_bytes(b"not probed: the checks come first")
    return p


@pytest.mark.parametrize("extra, message", [
    (["--language", "xx"], f"--language 'xx': not a language Whisper knows; use one of {WHISPER_CODES}"),
    (["--audio", "0:floor", "--audio", "1:interpretation:xx"],
     f"--audio '1:interpretation:xx': language 'xx': not a language Whisper knows; use one of {WHISPER_CODES}"),
])
def test_cli_bad_language_is_one_line_exit_2_before_ingest(recording, monkeypatch, capsys, extra, message):
    def no(*a, **kw):
        raise AssertionError("nothing may be ingested or archived")

    monkeypatch.setattr(stages, "ingest_recording", no)
    monkeypatch.setattr(storage, "archive_original", no)
    monkeypatch.setattr(embedded, "resolve_storage", no)
    assert main(["process", str(recording), "--title", "Talk", *extra]) == 2
    assert capsys.readouterr().err == f"medialib: error: {message}\n"


def test_cli_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main(["process", str(tmp_path), "--title", "Talk"]) == 2
    assert capsys.readouterr().err == (f"medialib: error: {tmp_path}: is a folder, not a recording; "
                                       "pass one recording file\n")


def test_flow_checks_the_language_before_storage_or_ingest(recording, tmp_path, monkeypatch):
    """The flow's body (without Prefect's engine): a bad code stops it before anything starts or is stored."""
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    from medialib_flows import process_lecture as module

    started = []
    monkeypatch.setattr(module, "resolve_storage", lambda s: started.append("storage"))
    monkeypatch.setattr(module, "ingest_task", lambda *a, **kw: started.append("ingest"))
    with pytest.raises(InputError, match=r"^--language 'xx': not a language Whisper knows; use one of af, am, "):
        module.process_lecture.fn(source=str(recording), title="Talk", language="xx")
    with pytest.raises(InputError, match=r"^--audio '0:floor:zz': language 'zz': not a language Whisper knows"):
        module.process_lecture.fn(source=str(recording), title="Talk", audio=["0:floor:zz"])
    assert started == []


# ---------------------------------------------------------------- the CLI's exit codes


def test_cli_operator_fault_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path))
    monkeypatch.setenv("MEDIALIB_EMBEDDED__HOST", "0.0.0.0")
    monkeypatch.delenv("MEDIALIB_STORAGE__ENDPOINT_URL", raising=False)
    assert main(["storage", "up"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("medialib: error: embedded.host = '0.0.0.0': the embedded server only listens on "
                          "loopback") and err.count("\n") == 1
    assert not (tmp_path / "seaweedfs" / "server.json").exists()


def test_cli_missing_config_file_is_exit_1(tmp_path, monkeypatch, capsys):
    assert main(["--config", str(tmp_path / "nope.toml"), "lectures", "list"]) == 1
    assert capsys.readouterr().err == (f"medialib: error: {tmp_path / 'nope.toml'}: config file not found; "
                                       "check MEDIALIB_CONFIG or --config\n")


def test_cli_operator_fault_from_inside_the_library_is_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path))

    def denied(settings):
        raise OperatorError("download s3://medialib-publish/catalog.json at http://x: access denied; check the keys")

    monkeypatch.setattr(embedded, "resolve_storage", denied)
    assert main(["lectures", "list"]) == 1
    assert capsys.readouterr().err == ("medialib: error: download s3://medialib-publish/catalog.json at http://x: "
                                       "access denied; check the keys\n")


def test_readme_states_the_exit_codes():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for phrase in ("exits 2", "exits 1", "130"):
        assert phrase in readme
