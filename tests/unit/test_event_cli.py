"""`medialib event check`: the manifest or folder checked, one error line block, exit 2; nothing started."""

from __future__ import annotations

from medialib_app.cli import main


def test_event_check_lists_the_recordings(tmp_path, capsys):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "manifest.toml").write_text('[event]\nname = "Day 1"\ndate = 2026-11-28\n'
                                            '[[recording]]\nfile = "a.mp4"\ntitle = "Допрос [1]"\nlanguage = "ru"\n'
                                            'audio = ["0:floor", "1:interpretation:en"]\n', encoding="utf-8")
    assert main(["event", "check", str(tmp_path / "manifest.toml")]) == 0
    out = capsys.readouterr().out
    assert "Day 1 (2026-11-28), 1 recording, all checked" in out
    assert "1. a.mp4: Допрос [1] [ru, 0:floor 1:interpretation:en]" in out


def test_event_check_reports_every_problem_and_exits_2(tmp_path, capsys):
    (tmp_path / "manifest.toml").write_text('[[recording]]\nfile = "gone.mp4"\nlanguage = "zz"\n', encoding="utf-8")
    assert main(["event", "check", str(tmp_path / "manifest.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"medialib: error: {tmp_path / 'manifest.toml'}: 2 problems, nothing was started:\n")
    assert "recording 1 (gone.mp4): no such file" in err and "recording 1 (gone.mp4): language 'zz'" in err


def test_event_process_checks_before_prefect_starts(tmp_path, capsys):
    assert main(["event", "process", str(tmp_path)]) == 2          # an empty folder: nothing to start
    assert "no recordings" in capsys.readouterr().err


def test_lectures_edit_refuses_before_storage_starts(capsys, monkeypatch):
    import medialib.storage.embedded as embedded

    def no_storage(settings):
        raise AssertionError("storage started for a refusal")

    monkeypatch.setattr(embedded, "resolve_storage", no_storage)
    assert main(["lectures", "edit", "some-lecture"]) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert main(["lectures", "edit", "some-lecture", "--event-date", "28/11"]) == 2
    assert "event date '28/11' is not a date" in capsys.readouterr().err
