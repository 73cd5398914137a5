"""`medialib users ...` and `medialib subtitles pull|push` in-process, against the real embedded S3 server."""

from __future__ import annotations

import io

import pytest

from review_helpers import seed_lecture

from medialib_app.cli import main


@pytest.fixture
def cli_env(monkeypatch, home, s3_server):
    for key, value in {"ENDPOINT_URL": s3_server.endpoint_url, "ACCESS_KEY_ID": s3_server.access_key_id,
                       "SECRET_ACCESS_KEY": s3_server.secret_access_key,
                       "PUBLIC_BASE_URL": s3_server.public_base_url,
                       "ARCHIVE_BUCKET": s3_server.archive_bucket, "PUBLISH_BUCKET": s3_server.publish_bucket}.items():
        monkeypatch.setenv(f"MEDIALIB_STORAGE__{key}", value)
    monkeypatch.delenv("MEDIALIB_CONFIG", raising=False)
    return home


def _add(monkeypatch, name, role, password="a long password"):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["users", "add", name, "--role", role, "--password-stdin"])


def test_users_add_and_list(cli_env, monkeypatch, capsys):
    assert _add(monkeypatch, "olga", "translator") == 0
    assert _add(monkeypatch, "olga", "reviewer") == 2
    assert "exists already" in capsys.readouterr().err
    assert _add(monkeypatch, "pavel", "reviewer", password="short") == 2
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "olga\ttranslator" in out and "pavel" not in out
    assert (cli_env / "review.db").is_file()


def test_users_passwd_and_remove_revoke_sessions(cli_env, monkeypatch, capsys):
    from medialib.config import load_settings
    from medialib_app.review import auth
    from medialib_app.review.db import open_database, transaction

    assert _add(monkeypatch, "olga", "translator") == 0
    factory = open_database(load_settings().review.database())
    with transaction(factory) as db:
        sid = auth.start_session(db, "olga", 3600)
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["users", "passwd", "olga", "--password-stdin"]) == 0
    assert "1 sessions logged out" in capsys.readouterr().out
    with transaction(factory) as db:
        assert auth.session_user(db, sid, 3600) is None
        assert auth.authenticate(db, "olga", "another long password", "t", max_failures=5, window_s=60).name == "olga"
        sid = auth.start_session(db, "olga", 3600)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "passwd", "olga", "--password-stdin"]) == 2
    assert "shorter than 8" in capsys.readouterr().err
    assert main(["users", "passwd", "nobody", "--password-stdin"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    assert main(["users", "remove", "olga"]) == 0
    assert "removed olga; 1 sessions logged out" in capsys.readouterr().out
    with transaction(factory) as db:
        assert auth.session_user(db, sid, 3600) is None and auth.get_user(db, "olga") is None
    assert main(["users", "remove", "olga"]) == 2 and "no user" in capsys.readouterr().err


def test_pull_then_push_cp1251_srt_and_a_stale_push(cli_env, s3_server, monkeypatch, tmp_path, capsys):
    lecture = seed_lecture(s3_server, {"ru": ["Здравствуйте.", "Садитесь.", "Что вы видели?"]})
    _add(monkeypatch, "olga", "translator")
    pulled = tmp_path / "ru.srt"
    assert main(["subtitles", "pull", lecture, "ru", "-o", str(pulled)]) == 0
    assert (tmp_path / "ru.srt.medialib.json").is_file()
    text = pulled.read_text(encoding="utf-8").replace("Садитесь.", "Садитесь, пожалуйста.")
    edited = tmp_path / "edited.srt"
    edited.write_bytes(text.replace("\n", "\r\n").encode("cp1251"))
    (tmp_path / "edited.srt.medialib.json").write_bytes((tmp_path / "ru.srt.medialib.json").read_bytes())
    assert main(["subtitles", "push", lecture, "ru", str(edited), "--as", "olga"]) == 0, capsys.readouterr().err
    assert "saved version 2" in capsys.readouterr().out
    vtt = tmp_path / "v2.vtt"
    assert main(["subtitles", "pull", lecture, "ru", "--format", "vtt", "-o", str(vtt)]) == 0
    body = vtt.read_text(encoding="utf-8")
    assert "Садитесь, пожалуйста." in body and f"NOTE medialib lecture={lecture} language=ru version=2" in body
    # the first file again: pulled at version 1, but olga saved version 2 since
    assert main(["subtitles", "push", lecture, "ru", str(edited), "--as", "ivan"]) == 2
    err = capsys.readouterr().err
    assert "pulled at version 1, but olga saved version 2" in err
    assert main(["subtitles", "push", lecture, "ru", str(edited), "--as", "ivan", "--force"]) == 0
    assert "saved version 3" in capsys.readouterr().out
    # a VTT's own NOTE line names its base; publishing needs a reviewer
    assert main(["subtitles", "push", lecture, "ru", str(vtt), "--as", "olga", "--publish"]) == 2
    assert "needs a reviewer or staff account" in capsys.readouterr().err


def test_push_reports_the_bad_line(cli_env, s3_server, tmp_path, capsys):
    lecture = seed_lecture(s3_server, {"en": ["One.", "Two."]})
    bad = tmp_path / "bad.srt"
    bad.write_text("1\n00:00:01,000 --> 00:00:02,000\nOne\n\n2\n00:00:03,000 -> 00:00:04,000\nTwo\n")
    assert main(["subtitles", "push", lecture, "en", str(bad), "--as", "x"]) == 2
    assert "line 6" in capsys.readouterr().err


def test_push_with_a_sidecar_lacking_its_version_is_a_clear_error(cli_env, s3_server, tmp_path, capsys):
    lecture = seed_lecture(s3_server, {"en": ["One.", "Two."]})
    srt = tmp_path / "en.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nOne!\n")
    (tmp_path / "en.srt.medialib.json").write_text('{"lecture_id": "%s", "language": "en"}' % lecture)
    assert main(["subtitles", "push", lecture, "en", str(srt), "--as", "x"]) == 2
    err = capsys.readouterr().err
    assert "en.srt.medialib.json: not a sidecar" in err and "--base N" in err and "KeyError" not in err
