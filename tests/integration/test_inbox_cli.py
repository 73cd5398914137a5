"""`medialib inbox watch --once` and `medialib uploads cleanup` against the session's SeaweedFS."""

from __future__ import annotations

import uuid

import pytest

from medialib import storage
from medialib_app import cli


@pytest.fixture
def env(s3_server, tmp_path, monkeypatch):
    bucket = f"inbox-cli-{uuid.uuid4().hex[:8]}"
    for k, v in {"HOME": str(tmp_path / "home"), "STORAGE__ENDPOINT_URL": s3_server.endpoint_url,
                 "STORAGE__ACCESS_KEY_ID": s3_server.access_key_id,
                 "STORAGE__SECRET_ACCESS_KEY": s3_server.secret_access_key,
                 "STORAGE__ARCHIVE_BUCKET": bucket}.items():
        monkeypatch.setenv(f"MEDIALIB_{k}", v)
    opts = s3_server.model_copy(update={"archive_bucket": bucket})
    storage.ensure_buckets(storage.make_client(opts), opts)
    return opts


def test_watch_once_rejects_a_non_media_file(env, s3_client, capsys):
    s3_client.put_object(Bucket=env.archive_bucket, Key="inbox/notes.mp4", Body=b"not a recording\n" * 50)
    s3_client.put_object(Bucket=env.archive_bucket, Key="inbox/notes.mp4.toml", Body=b'title = "Notes"\n')
    assert cli.main(["inbox", "watch", "--once"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rejected   inbox/notes.mp4  notes.mp4: ")
    assert storage.get_bytes(s3_client, env.archive_bucket, "inbox/notes.mp4") is None


def test_uploads_cleanup_with_nothing_to_do(env, capsys):
    assert cli.main(["uploads", "cleanup"]) == 0
    assert capsys.readouterr().out == ""


def test_processing_runs_medialib_process_and_drops_the_download(tmp_path, monkeypatch):
    import subprocess
    from types import SimpleNamespace

    from medialib.pipeline.records import LectureRequest

    seen = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or SimpleNamespace(returncode=0))
    (tmp_path / "claim").mkdir()
    src = tmp_path / "claim" / "talk.mp4"
    src.write_bytes(b"x")
    request = LectureRequest(source=str(src), title="Talk", language="ru", lecture_id="talk-12345678",
                             audio=("0:floor", "1:interpretation:en"), event_date="2026-11-28")
    assert cli._process_in_subprocess(request) == 0
    assert seen[0][1:] == ["-m", "medialib_app.cli", "process", str(src), "--title", "Talk", "--lecture-id",
                           "talk-12345678", "--language", "ru", "--event-date", "2026-11-28",
                           "--audio", "0:floor", "--audio", "1:interpretation:en"]
    assert not src.parent.exists()
