"""The watched inbox on the session's real SeaweedFS: ready rules, exactly-once claims, rejection, duplicates."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from clips import with_tone

from medialib import keys, storage
from medialib.errors import InputError
from medialib.ingest import inbox
from medialib.pipeline.stages import ingest_recording


@pytest.fixture
def opts(s3_server):
    """A fresh archive bucket per test: scans see only that test's inbox."""
    tag = uuid.uuid4().hex[:8]
    o = s3_server.model_copy(update={"archive_bucket": f"inbox-{tag}", "publish_bucket": f"inbox-pub-{tag}"})
    storage.ensure_buckets(storage.make_client(o), o)
    return o


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return with_tone(tmp_path_factory.mktemp("inbox") / "clip.mp4", seconds=1, size="160x90")


def _drop(client, opts, name: str, data: bytes, sidecar: str | None = None) -> str:
    key = inbox.INBOX + name
    client.put_object(Bucket=opts.archive_bucket, Key=key, Body=data)
    if sidecar is not None:
        client.put_object(Bucket=opts.archive_bucket, Key=key + ".toml", Body=sidecar.encode())
    return key


def _exists(client, bucket, key) -> bool:
    return storage.get_bytes(client, bucket, key) is not None


def test_sidecar_fields_and_defaults():
    s = inbox.parse_sidecar('title = "Допрос свидетеля"\nspeaker = "A. B."\nlanguage = "RU"\n'
                            'audio = ["0:floor", "1:interpretation:en"]\nevent = "OSCE day 1"\n'
                            'event_date = 2026-11-28\n', "0900-interviewing.mp4")
    assert (s.title, s.speaker, s.language, s.audio, s.event, s.event_date, s.status) == (
        "Допрос свидетеля", "A. B.", "ru", ("0:floor", "1:interpretation:en"), "OSCE day 1", "2026-11-28", "ready")
    assert inbox.parse_sidecar("", "0900_interviewing-witnesses.mp4").title == "0900 interviewing witnesses"
    assert inbox.parse_sidecar(s.to_toml(), "x.mp4") == s     # the upload page writes what the watcher reads


@pytest.mark.parametrize("text, message", [
    ("title = ", "a.mp4.toml: not valid TOML"),
    ('titel = "x"', "a.mp4.toml: unknown field(s) titel; use audio, event, event_date"),
    ('event_date = "28.11.2026"', "a.mp4.toml: event_date '28.11.2026' is not a date; write it as YYYY-MM-DD"),
    ("audio = 3", "a.mp4.toml: audio must be a list like"),
    ("title = 3", "a.mp4.toml: title must be a string, not 3"),
])
def test_bad_sidecar_is_named(text, message):
    with pytest.raises(InputError) as e:
        inbox.parse_sidecar(text, "a.mp4")
    assert str(e.value).startswith(message)


def test_two_watchers_claim_each_object_once(opts, s3_client):
    storage.check_conditional_writes(s3_client, opts.archive_bucket)   # SeaweedFS honours If-None-Match
    for i in range(6):
        _drop(s3_client, opts, f"r{i}.mp4", b"x" * (i + 1))
    candidates, _ = inbox.list_inbox(s3_client, opts.archive_bucket)
    won: dict[str, list[str]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def watcher(owner: str) -> None:
        barrier.wait()
        for c in candidates:
            if inbox.claim(s3_client, opts.archive_bucket, c, owner):
                won[owner].append(c.key)

    threads = [threading.Thread(target=watcher, args=(o,)) for o in won]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won["a"] + won["b"]) == sorted(c.key for c in candidates)   # each once, none twice


def test_two_scans_start_one_recording_once(opts, s3_client, clip, tmp_path):
    _drop(s3_client, opts, "talk.mp4", clip.read_bytes(), 'title = "Talk"\nlanguage = "en"\n')
    started, lock = [], threading.Lock()

    def start(request):
        with lock:
            started.append(request)

    results: dict[str, list] = {}
    barrier = threading.Barrier(2)

    def scan(owner):
        barrier.wait()
        results[owner] = inbox.scan_inbox(s3_client, opts, tmp_path / owner, start, grace_s=3600, owner=owner)

    threads = [threading.Thread(target=scan, args=(o,)) for o in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    actions = sorted(o.action for r in results.values() for o in r)
    assert actions in (["lost-claim", "started"], ["started"])   # the loser may list after the claim exists
    assert len(started) == 1
    r = started[0]
    assert (r.title, r.language, r.lecture_id) == ("Talk", "en", f"talk-{r.lecture_id[-8:]}")
    assert _exists(s3_client, opts.archive_bucket, "inbox/talk.mp4")   # kept until its bytes are archived


def test_ready_rules(opts, s3_client, clip, tmp_path):
    _drop(s3_client, opts, "up.mp4", clip.read_bytes(), 'status = "uploading"\n')
    _drop(s3_client, opts, "bare.mp4", clip.read_bytes())
    out = inbox.scan_inbox(s3_client, opts, tmp_path, lambda r: None, grace_s=3600, owner="w")
    assert {o.key: o.action for o in out} == {"inbox/up.mp4": "waiting", "inbox/bare.mp4": "waiting"}
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    out = inbox.scan_inbox(s3_client, opts, tmp_path, lambda r: None, grace_s=3600, owner="w", now=later)
    assert {o.key: o.action for o in out} == {"inbox/up.mp4": "waiting", "inbox/bare.mp4": "started"}
    assert [o.request.title for o in out if o.request] == ["bare"]


def test_non_media_is_rejected_with_the_probes_message_and_removed(opts, s3_client, tmp_path):
    key = _drop(s3_client, opts, "notes.mp4", b"these are my notes, not a recording\n" * 20, 'title = "Notes"\n')
    started = []
    [o] = inbox.scan_inbox(s3_client, opts, tmp_path, started.append, grace_s=0, owner="w")
    assert o.action == "rejected" and not started
    assert o.message.startswith("notes.mp4: ")
    assert not _exists(s3_client, opts.archive_bucket, key)
    assert not _exists(s3_client, opts.archive_bucket, key + ".toml")
    note = storage.get_bytes(s3_client, opts.archive_bucket, "inbox-rejected/notes.mp4.txt").decode()
    assert o.message in note


def test_bad_sidecar_keeps_the_recording(opts, s3_client, clip, tmp_path):
    key = _drop(s3_client, opts, "a.mp4", clip.read_bytes(), 'language = 5\n')
    [o] = inbox.scan_inbox(s3_client, opts, tmp_path, lambda r: None, grace_s=0, owner="w")
    assert (o.action, o.message) == ("rejected", "a.mp4.toml: language must be a string, not 5")
    assert _exists(s3_client, opts.archive_bucket, key)           # nothing lost: fix the sidecar
    s3_client.put_object(Bucket=opts.archive_bucket, Key=key + ".toml", Body=b'language = "en"\n')
    [o] = inbox.scan_inbox(s3_client, opts, tmp_path, lambda r: None, grace_s=0, owner="w")
    assert o.action == "started"


def test_same_bytes_twice_are_recognised(opts, s3_client, clip, tmp_path):
    def ingest(request):   # what processing does first: archive the original, index its sha256
        ingest_recording(request.source, request.title, opts, lecture_id=request.lecture_id)

    _drop(s3_client, opts, "first.mp4", clip.read_bytes(), 'title = "First"\n')
    [first] = inbox.scan_inbox(s3_client, opts, tmp_path, ingest, grace_s=0, owner="w")
    assert first.action == "started"
    assert _exists(s3_client, opts.archive_bucket, keys.sha256_index(first.sha256))
    _drop(s3_client, opts, "again.mp4", clip.read_bytes(), 'title = "Again"\n')
    out = {o.key: o for o in inbox.scan_inbox(s3_client, opts, tmp_path, ingest, grace_s=0, owner="w")}
    assert out["inbox/again.mp4"].action == "duplicate"
    assert out["inbox/again.mp4"].lecture_id == first.lecture_id
    assert out["inbox/first.mp4"].action == "tidied"             # archived: gone from the inbox
    assert inbox.list_inbox(s3_client, opts.archive_bucket)[0] == []
