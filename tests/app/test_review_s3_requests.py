"""What the review app asks S3 for: a live QC check (several a minute per editor) asks nothing once warm."""

from __future__ import annotations

import contextlib

import pytest
from review_helpers import login

from medialib import review, storage
from medialib.subtitles import Track, cue_from_dict

from medialib_app.review import tracks as lib


@contextlib.contextmanager
def s3_requests(opts):
    """The operations the app's S3 client sends while the block runs (a botocore event hook, retries included)."""
    sent: list[str] = []

    def count(model, **_):
        sent.append(model.name)

    events = lib.client_for(opts).meta.events
    events.register("before-call.s3", count)
    try:
        yield sent
    finally:
        events.unregister("before-call.s3", count)


class Clock:
    """The listing cache's clock, moved by hand: a loaded machine must not age a listing by itself."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(lib, "_clock", c)
    return c


def _qc(client, lecture):
    r = client.post(f"/api/lectures/{lecture}/ru/qc", json={"cues": [
        {"id": "a", "start_ms": 0, "end_ms": 2000, "text": "Здравствуйте."}]})
    assert r.status_code == 200, r.text


def test_a_warm_qc_check_asks_s3_nothing_and_opening_lists_each_track_once(users, lecture, s3_server, clock):
    tanya = login(users, "tanya")
    assert tanya.get(f"/api/lectures/{lecture}/ru").status_code == 200   # the first open records machine v1
    clock.now += lib.NUMBERS_MAX_AGE_S + 0.1
    with s3_requests(s3_server) as aged_open:   # the listings expired: ru's and en's (the source), once each
        assert tanya.get(f"/api/lectures/{lecture}/ru").status_code == 200
    assert aged_open == ["ListObjectsV2", "ListObjectsV2"], aged_open
    with s3_requests(s3_server) as warm_open:
        assert tanya.get(f"/api/lectures/{lecture}/ru").status_code == 200
    assert warm_open == [], warm_open
    with s3_requests(s3_server) as qc_calls:
        for _ in range(5):
            _qc(tanya, lecture)
    assert qc_calls == [], qc_calls
    clock.now += lib.NUMBERS_MAX_AGE_S + 0.1
    with s3_requests(s3_server) as aged_qc:
        _qc(tanya, lecture)
    assert aged_qc == ["ListObjectsV2"], aged_qc


def _edited(opts, lecture, lang, text) -> Track:
    head = lib.head_version(opts, lecture, lang, max_age_s=0)
    cues = [{"id": c.id, "start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text} for c in head.track.cues]
    cues[0]["text"] = text
    return Track(lang, "human", tuple(cue_from_dict(c) for c in cues)), head.number


def test_own_saves_show_at_once_and_other_processes_saves_within_the_max_age(users, lecture, s3_server, clock):
    opts = s3_server
    lib.ensure_machine_version(opts, lecture, "en")
    assert lib.source_track(opts, lecture, "ru").cues[0].text == "Hello there."
    track, base = _edited(opts, lecture, "en", "Hello, everyone.")
    lib.create_version(opts, lecture, "en", track, base=base, author="tanya")
    assert lib.source_track(opts, lecture, "ru").cues[0].text == "Hello, everyone."   # this process's save: at once

    clock.now += lib.NUMBERS_MAX_AGE_S + 0.1
    lib.source_track(opts, lecture, "ru")   # listed now
    track, base = _edited(opts, lecture, "en", "Good morning.")
    other = storage.make_client(opts)       # another process: the CLI, a second server
    review.create_version(other, opts.archive_bucket, lecture, "en", track, base=base, author="rita")
    assert lib.source_track(opts, lecture, "ru").cues[0].text == "Hello, everyone."   # the cached listing
    clock.now += lib.NUMBERS_MAX_AGE_S + 0.1
    assert lib.source_track(opts, lecture, "ru").cues[0].text == "Good morning."


def test_publishing_a_version_chosen_from_a_stale_listing_is_a_conflict(users, lecture, s3_server, home, settings):
    opts = s3_server
    lib.ensure_machine_version(opts, lecture, "ru")
    track, base = _edited(opts, lecture, "ru", "Доброе утро.")
    mine = lib.create_version(opts, lecture, "ru", track, base=base, author="tanya")
    assert lib.head_number(lib.list_versions(opts, lecture, "ru")) == mine.number   # now cached
    track, _ = _edited(opts, lecture, "ru", "Добрый вечер.")
    review.create_version(storage.make_client(opts), opts.archive_bucket, lecture, "ru", track, base=mine.number,
                          author="roman")   # another process, inside the listing's max age
    assert lib.head_number(lib.list_versions(opts, lecture, "ru")) == mine.number
    with pytest.raises(review.VersionConflict, match="roman"):
        lib.publish(opts, settings, home, lecture, "ru", mine.number, approved=True, by="rita")
    assert review.live(storage.make_client(opts), opts.archive_bucket, lecture, "ru") is None
