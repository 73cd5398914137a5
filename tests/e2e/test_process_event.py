"""process_event on the session's Prefect harness and real SeaweedFS, with process_lecture replaced by a fake.

Each real lecture costs an encode and a Whisper pass; what this flow adds (the window of
running lectures, one failure not stopping the others, the summary, re-runs skipping
what is published) needs none of that. The fake sleeps, records how many run at once,
and fails for one title.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from medialib import keys, storage
from medialib.errors import InputError
from medialib.ids import file_sha256
from medialib.pipeline.records import Published

MANIFEST = """
[event]
name = "Fake workshop"
date = 2026-11-28
[[recording]]
file = "a.mp4"
title = "Alpha"
[[recording]]
file = "b.mp4"
title = "Bad one"
[[recording]]
file = "c.mp4"
title = "Gamma"
language = "en"
"""


class FakeLectures:
    """Stands in for process_lecture: records calls and concurrency, fails for 'Bad one'."""

    def __init__(self):
        self.calls: list[dict] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, **kw) -> Published:
        with self.lock:
            self.calls.append(kw)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.6)
            if kw["title"] == "Bad one":
                raise InputError("b.mp4: no audio or video stream ffmpeg can read; re-export the recording")
            lid = kw["title"].lower()
            return Published(lecture_id=lid, player_url=f"http://x/lectures/{lid}/index.html", master_url="",
                             uploaded_bytes=10, uploaded_count=3, skipped_count=0, languages=("en",), notes=())
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def event_dir(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.mp4").write_bytes(f"fake recording {name} {time.time_ns()}".encode())
    (tmp_path / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def test_event_runs_within_the_limit_and_a_failure_stops_nothing(flow_harness, event_dir, monkeypatch):
    import medialib_flows.process_event as pe

    fake = FakeLectures()
    monkeypatch.setattr(pe, "process_lecture", fake)
    summary = pe.process_event(manifest=str(event_dir / "manifest.toml"), limit=2)
    assert fake.most == 2
    assert [(o.index, o.file, o.status) for o in summary.outcomes] == [
        (1, "a.mp4", "published"), (2, "b.mp4", "failed"), (3, "c.mp4", "published")]
    a, b, c = summary.outcomes
    assert a.detail == "http://x/lectures/alpha/index.html" and a.lecture_id == "alpha" and a.seconds >= 0.5
    assert b.detail.startswith("b.mp4: no audio or video stream") and b.user_fault
    assert summary.event == "Fake workshop" and summary.count("failed") == 1
    sent = {kw["title"]: kw for kw in fake.calls}
    assert sent["Gamma"]["language"] == "en" and sent["Gamma"]["event"] == "Fake workshop"
    assert sent["Gamma"]["event_date"] == "2026-11-28" and sent["Gamma"]["source"] == str(event_dir / "c.mp4")


def test_a_rerun_skips_what_is_published_unchanged(flow_harness, storage_opts, event_dir, monkeypatch):
    import medialib_flows.process_event as pe

    # Alpha as if published before: the sha256 index, its publish record, its master playlist.
    opts, client = storage_opts, storage.make_client(storage_opts)
    sha = file_sha256(event_dir / "a.mp4")
    request = {"source": "/elsewhere/a.mp4", "title": "Alpha", "language": None, "speaker": None,
               "event": "Fake workshop", "lecture_id": None, "audio": [], "event_date": "2026-11-28",
               "recorded_date": None}
    storage.put_bytes(client, opts.archive_bucket, keys.sha256_index(sha),
                      json.dumps({"lecture_id": "alpha-event-test"}).encode())
    storage.put_bytes(client, opts.archive_bucket, keys.publish_record("alpha-event-test"), json.dumps(
        {"schema": 1, "record": {"lecture": {"request": request, "ingested": {"sha256": sha}}}}).encode())
    storage.put_bytes(client, opts.publish_bucket, f"{keys.bundle_prefix('alpha-event-test')}/master.m3u8",
                      b"#EXTM3U\n")
    fake = FakeLectures()
    monkeypatch.setattr(pe, "process_lecture", fake)
    summary = pe.process_event(manifest=str(event_dir), limit=1)   # the folder: its manifest.toml is used
    assert [o.status for o in summary.outcomes] == ["skipped", "failed", "published"]
    assert summary.outcomes[0].lecture_id == "alpha-event-test"
    assert sorted(kw["title"] for kw in fake.calls) == ["Bad one", "Gamma"] and fake.most == 1


def test_a_bad_manifest_starts_nothing(flow_harness, event_dir, monkeypatch):
    import medialib_flows.process_event as pe

    fake = FakeLectures()
    monkeypatch.setattr(pe, "process_lecture", fake)
    (event_dir / "c.mp4").unlink()
    with pytest.raises(InputError, match=r"recording 3 \(c.mp4\): no such file"):
        pe.process_event(manifest=str(event_dir / "manifest.toml"))
    assert fake.calls == []


def test_the_cli_prints_progress_and_a_summary_table(flow_harness, event_dir, monkeypatch, capsys):
    import medialib_flows.process_event as pe
    from medialib_app.cli import main

    monkeypatch.setattr(pe, "process_lecture", FakeLectures())
    monkeypatch.setenv("COLUMNS", "200")
    code = main(["event", "process", str(event_dir / "manifest.toml"), "--limit", "3"])
    out, err = capsys.readouterr()
    assert code == 2                                   # the one failure was the recording's own
    assert "3 recordings, 3 at a time" in err
    assert "started   [2/3] b.mp4: Bad one" in err
    assert re.search(r"failed    \[2/3\] b.mp4 in \d+ s: b.mp4: no audio or video stream", err)
    assert "1 of 3 recordings failed" in err and f"medialib event retry {event_dir / 'manifest.toml'}" in err
    assert "Fake workshop: 2 published, 0 skipped, 1 failed" in out
    assert "http://x/lectures/gamma/index.html" in out and "alpha" in out
