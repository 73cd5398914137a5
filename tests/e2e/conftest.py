"""One real end-to-end run of process_lecture, shared by many assertions.

Real SeaweedFS on a free loopback port (the `s3_server` fixture), real ffmpeg, real
Whisper base, real Prefect (one session-scoped test harness). Environment variables
point medialib at the test server and a temporary home *before* flows (and so prefect)
are imported.
"""

from __future__ import annotations

import os

import clips
import pytest

TITLE = "Допрос: open questions"


@pytest.fixture(scope="session")
def e2e_env(s3_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("medialib-home")
    env = {
        "MEDIALIB_HOME": str(home),
        "PREFECT_HOME": str(home / "prefect"),
        "MEDIALIB_STORAGE__ENDPOINT_URL": s3_server.endpoint_url,
        "MEDIALIB_STORAGE__ACCESS_KEY_ID": s3_server.access_key_id,
        "MEDIALIB_STORAGE__SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "MEDIALIB_STORAGE__ARCHIVE_BUCKET": s3_server.archive_bucket,
        "MEDIALIB_STORAGE__PUBLISH_BUCKET": s3_server.publish_bucket,
        "MEDIALIB_STORAGE__PUBLIC_BASE_URL": s3_server.public_base_url,
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    yield home
    mp.undo()


@pytest.fixture(scope="session")
def flow_harness(e2e_env):
    import medialib_flows  # noqa: F401 - applies medialib's prefect defaults before prefect starts
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def lecture_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    wav = clips.speech_wav(d / "lecture.wav")
    return clips.lecture_clip(d / "lecture.mp4", wav)


@pytest.fixture(scope="session")
def published(flow_harness, lecture_clip):
    from medialib_flows.process_lecture import process_lecture

    return process_lecture(source=str(lecture_clip), title=TITLE, speaker="Instructor", event="Test workshop")


@pytest.fixture(scope="session")
def storage_opts(e2e_env):
    from medialib_flows.process_lecture import settings

    assert os.environ["MEDIALIB_HOME"] == str(e2e_env)
    return settings().storage
