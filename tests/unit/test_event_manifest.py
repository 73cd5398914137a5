"""An event's manifest and folder: read, validated all at once, nothing started while anything is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medialib.errors import InputError, NotFoundError
from medialib.pipeline.event import (
    load_manifest,
    published_unchanged,
    read_event,
    readable_title,
    scan_folder,
    validate_event,
)

GOOD = """
[event]
name = "OSCE workshop, Ankara, day 1"
date = 2026-11-28

[[recording]]
file = "room-a/0900-interviewing.mp4"
title = "Допрос свидетеля"
speaker = "A. Instructor"
language = "RU"
audio = ["0:floor", "1:interpretation:en"]

[[recording]]
file = "room-b/1100-closing.mp4"
title = "Closing"
recorded_date = "2026-11-29"
lecture_id = "closing-day-1"
"""


def _files(root: Path, *names: str) -> None:
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / n).write_bytes(f"not really media: {n}".encode())   # each its own bytes


def _manifest(tmp_path: Path, text: str, *files: str) -> Path:
    _files(tmp_path, *files)
    p = tmp_path / "manifest.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_good_manifest_reads_into_normalised_records(tmp_path):
    path = _manifest(tmp_path, GOOD, "room-a/0900-interviewing.mp4", "room-b/1100-closing.mp4")
    event = read_event(path)
    assert event.name == "OSCE workshop, Ankara, day 1" and event.date == "2026-11-28"
    first, second = event.recordings
    assert first.file == (tmp_path / "room-a/0900-interviewing.mp4").resolve()
    assert (first.title, first.speaker, first.language) == ("Допрос свидетеля", "A. Instructor", "ru")
    assert first.audio == ("0:floor", "1:interpretation:en")
    assert (first.event, first.event_date, first.recorded_date, first.index) == (event.name, "2026-11-28", None, 1)
    assert (second.recorded_date, second.lecture_id, second.language, second.index) == \
        ("2026-11-29", "closing-day-1", None, 2)
    req = first.request()
    assert (req.source, req.event, req.event_date, req.audio) == (str(first.file), event.name, "2026-11-28",
                                                                 first.audio)


def test_every_problem_is_reported_at_once_with_its_recording(tmp_path):
    text = """
[event]
name = "Day 1"
date = "2026-13-01"
venue = "Ankara"

[[recording]]
file = "missing.mp4"
title = "One"
language = "xx"

[[recording]]
file = "a.mp4"
title = "one"
audio = ["0:floor", "1:interpreter:en"]
speeker = "typo"
recorded_date = "yesterday"

[[recording]]
file = "a.mp4"
title = "Three"
lecture_id = "Bad/Id"
"""
    with pytest.raises(InputError) as err:
        read_event(_manifest(tmp_path, text, "a.mp4"))
    lines = str(err.value).splitlines()
    assert lines[0] == f"{tmp_path / 'manifest.toml'}: 10 problems, nothing was started:"
    body = "\n".join(lines[1:])
    for expected in (
        "[event]: unknown key 'venue'",
        "[event] date '2026-13-01' is not a date",
        "recording 1 (missing.mp4): no such file",
        "recording 1 (missing.mp4): language 'xx': not a language Whisper knows",
        "recording 2 (a.mp4): audio '1:interpreter:en': expected STREAM:floor[:LANG]",
        "recording 2 (a.mp4): unknown key 'speeker'",
        "recording 2 (a.mp4): recorded_date 'yesterday' is not a date",
        "recording 3 (a.mp4): lecture_id 'Bad/Id' is not a valid id",
        "recording 3 (a.mp4): the same file as recording 2 (a.mp4)",
        "recording 2 (a.mp4): the same title as recording 1 (missing.mp4)",   # "One" and "one" look the same
    ):
        assert expected in body, expected
    with pytest.raises(InputError, match=r"recording 2 \(b.mp4\): the same title as recording 1 \(a.mp4\)"):
        read_event(_manifest(tmp_path, '[[recording]]\nfile = "a.mp4"\ntitle = "One"\n'
                                       '[[recording]]\nfile = "b.mp4"\ntitle = " one "\n', "b.mp4"))


def test_empty_and_broken_manifests(tmp_path):
    with pytest.raises(InputError, match="1 problem, nothing was started:\n  no recordings"):
        read_event(_manifest(tmp_path, '[event]\nname = "Day 1"\n'))
    with pytest.raises(InputError, match="not a valid TOML manifest"):
        read_event(_manifest(tmp_path, "[event\nname = 1"))
    with pytest.raises(NotFoundError, match="no such manifest"):
        read_event(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=r"recording 1: no file"):
        read_event(_manifest(tmp_path, '[[recording]]\ntitle = "x"\n'))


def test_a_recording_without_a_title_is_named_after_its_file(tmp_path):
    event = read_event(_manifest(tmp_path, '[[recording]]\nfile = "02_Допрос_свидетеля.mkv"\n',
                                 "02_Допрос_свидетеля.mkv"))
    assert event.recordings[0].title == "Допрос свидетеля"


def test_readable_titles():
    assert readable_title("0900-interviewing") == "Interviewing"
    assert readable_title("02_Допрос_свидетеля") == "Допрос свидетеля"
    assert readable_title("2026-11-28") == "2026 11 28"
    assert readable_title("opening.session_v2") == "Opening session v2"


def test_a_folder_is_one_recording_per_media_file(tmp_path):
    _files(tmp_path, "room-a/0900-interviewing.mp4", "room-b/01-intro.mov", "room-b/02-intro.mov", "notes.txt",
           ".hidden/x.mp4", "audio/closing.m4a")
    event = read_event(tmp_path)
    assert event.name == readable_title(tmp_path.name) and event.date is None
    got = [(r.label, r.title, r.index) for r in event.recordings]
    assert got == [("audio/closing.m4a", "Closing", 1), ("room-a/0900-interviewing.mp4", "Interviewing", 2),
                   ("room-b/01-intro.mov", "01-intro", 3), ("room-b/02-intro.mov", "02-intro", 4)]


def test_a_manifest_beside_the_recordings_gives_their_details(tmp_path):
    _files(tmp_path, "a.mp4", "b.mp4")
    (tmp_path / "event.toml").write_text('[event]\nname = "Day 2"\ndate = 2026-11-29\n'
                                         '[[recording]]\nfile = "b.mp4"\ntitle = "Bee"\nlanguage = "en"\n')
    event = scan_folder(tmp_path)
    assert [(r.label, r.title, r.language, r.event, r.event_date) for r in validate_event(event).recordings] == [
        ("b.mp4", "Bee", "en", "Day 2", "2026-11-29"), ("a.mp4", "A", None, "Day 2", "2026-11-29")]


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="no recordings"):
        read_event(tmp_path)




def test_published_unchanged_needs_the_same_bytes_details_and_a_live_bundle(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from medialib import keys, storage

    path = _manifest(tmp_path, GOOD, "room-a/0900-interviewing.mp4", "room-b/1100-closing.mp4")
    spec = read_event(path).recordings[0]
    opts = SimpleNamespace(archive_bucket="arch", publish_bucket="pub")
    sha = "ab" * 32
    request = {"source": "/elsewhere/x.mp4", "title": spec.title, "language": "ru", "speaker": spec.speaker,
               "event": spec.event, "lecture_id": None, "audio": list(spec.audio), "event_date": "2026-11-28",
               "recorded_date": None}
    objects = {
        ("arch", keys.sha256_index(sha)): json.dumps({"lecture_id": "lec-1"}).encode(),
        ("arch", keys.publish_record("lec-1")): json.dumps(
            {"schema": 1, "record": {"lecture": {"request": request, "ingested": {"sha256": sha}}}}).encode(),
        ("pub", f"{keys.bundle_prefix('lec-1')}/master.m3u8"): b"#EXTM3U",
    }
    monkeypatch.setattr(storage, "get_bytes", lambda client, bucket, key: objects.get((bucket, key)))
    assert published_unchanged(spec, sha, opts, client=object()) == "lec-1"
    from dataclasses import replace

    assert published_unchanged(replace(spec, title="New title"), sha, opts, client=object()) is None
    assert published_unchanged(spec, "cd" * 32, opts, client=object()) is None
    del objects[("pub", f"{keys.bundle_prefix('lec-1')}/master.m3u8")]
    assert published_unchanged(spec, sha, opts, client=object()) is None


def test_two_files_with_the_same_bytes_are_one_recording(tmp_path):
    (tmp_path / "one.mp4").write_bytes(b"same bytes")
    (tmp_path / "two.mp4").write_bytes(b"same bytes")
    (tmp_path / "three.mp4").write_bytes(b"other byte")    # same size, other content: fine
    with pytest.raises(InputError) as err:
        read_event(tmp_path)
    assert str(err.value).endswith("1 problem, nothing was started:\n  recording 3 (two.mp4): the same content "
                                   "(the same bytes) as recording 1 (one.mp4); each recording needs its own")
