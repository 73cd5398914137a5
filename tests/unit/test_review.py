"""Track versions, provenance of edits and the review workflow (moto for storage; the race is in integration)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from medialib import review
from medialib.errors import ConflictError, NotFoundError, PermissionDenied
from medialib.review import InvalidTransition, VersionConflict, next_state
from medialib.storage import s3
from medialib.subtitles import Cue, Track

LECTURE = "2024-05-01-interviews-abc123"


def track(*texts: str, language: str = "en") -> Track:
    return Track(language=language, origin="asr", model="whisper-base",
                 cues=tuple(Cue(i * 2000, i * 2000 + 1500, t, confidence=0.8, risk=0.6, flags=("low-confidence",))
                            for i, t in enumerate(texts)))


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(s3, "_conditional_ok", set())
    with mock_aws():
        c = boto3.client("s3", region_name="us-east-1")
        c.create_bucket(Bucket="archive")
        yield c


# ---------------------------------------------------------------- provenance


def test_changed_and_new_cues_become_the_editors_and_the_rest_keep_theirs():
    base = track("Good morning.", "Ask open questions.", "Listen.")
    edited = Track(language="en", origin="asr", model="whisper-base", cues=(
        Cue(0, 1500, "Good morning.", id="c00001"),                     # untouched (provenance dropped by the editor)
        Cue(2000, 3500, "Ask open questions!", id="c00002"),            # text changed
        Cue(4000, 5000, "Listen.", id="c00003"),                        # end time changed
        Cue(6000, 7000, "Write it down.", id="n1a2b3c4d"),              # new
    ))
    out = review.apply_provenance(base, edited, "anna", 2)
    assert out.cues[0] == base.cues[0]                                  # confidence, risk, flags kept
    for c in out.cues[1:]:
        assert (c.origin, c.editor, c.version, c.risk, c.flags) == ("human", "anna", 2, 0.0, ())
    assert review.apply_provenance(base, out, "anna", 2) == out           # idempotent
    assert review.changed_cue_ids(base, edited) == ("c00002", "c00003", "n1a2b3c4d")


# ---------------------------------------------------------------- versions


def test_versions_are_numbered_from_their_base_and_a_stale_base_is_a_conflict(client):
    v1 = review.create_version(client, "archive", LECTURE, "en", track("Good morning."), base=None,
                               author="whisper-base", kind="machine", now="2024-05-01T10:00:00+00:00")
    assert (v1.number, v1.base, v1.kind) == (1, None, "machine")
    v2 = review.create_version(client, "archive", LECTURE, "en", track("Good morning!"), base=1, author="anna",
                               now="2024-05-01T11:00:00+00:00")
    assert (v2.number, v2.base) == (2, 1) and v2.track.cues[0].editor == "anna"
    with pytest.raises(VersionConflict) as e:
        review.create_version(client, "archive", LECTURE, "en", track("Good morning?"), base=1, author="boris")
    assert str(e.value) == (f"{LECTURE} en: version 2 was saved by anna at 2024-05-01T11:00:00+00:00 after you "
                            "started from version 1; open version 2, bring your changes over, and save again")
    assert e.value.latest == v2 and isinstance(e.value, ConflictError) and e.value.http_status == 409
    assert review.list_versions(client, "archive", LECTURE, "en") == (1, 2)
    assert review.latest_version(client, "archive", LECTURE, "en") == v2
    assert review.load_version(client, "archive", LECTURE, "en", 1) == v1
    with pytest.raises(NotFoundError):
        review.load_version(client, "archive", LECTURE, "en", 7)
    with pytest.raises(VersionConflict):   # "I started from nothing" when there is something
        review.create_version(client, "archive", LECTURE, "en", track("x"), base=None, author="boris")


def test_a_create_refused_while_another_write_is_in_flight_is_a_conflict_not_a_404(client, monkeypatch):
    # S3 answers 409 ConditionalRequestConflict while another conditional write to the key is
    # in flight: put_bytes_if_absent says False, yet the winner's version cannot be read yet
    review.create_version(client, "archive", LECTURE, "en", track("Hi."), base=None, author="m", kind="machine")
    monkeypatch.setattr(review.store, "put_bytes_if_absent", lambda *a, **k: False)
    with pytest.raises(VersionConflict) as e:
        review.create_version(client, "archive", LECTURE, "en", track("Hello."), base=1, author="anna")
    assert e.value.latest is None and e.value.http_status == 409
    assert str(e.value) == (f"{LECTURE} en: someone else is saving version 2 right now; "
                            "wait a moment, reload, bring your changes over, and save again")


def test_machine_versions_are_recorded_only_when_the_cues_change(client):
    a = review.record_machine_version(client, "archive", LECTURE, track("Good morning."))
    assert a.number == 1 and a.kind == "machine" and a.author == "whisper-base"
    assert review.record_machine_version(client, "archive", LECTURE, track("Good morning.")) == a   # a re-run
    review.create_version(client, "archive", LECTURE, "en", track("Good morning, all."), base=1, author="anna")
    # the same machine output again: the newest *machine* version has it, nothing new
    assert review.record_machine_version(client, "archive", LECTURE, track("Good morning.")).number == 1
    b = review.record_machine_version(client, "archive", LECTURE, track("Good mourning."))   # a better model
    assert (b.number, b.base, b.kind) == (3, 2, "machine")
    assert review.latest_machine_version(client, "archive", LECTURE, "en") == b


def test_live_pointer(client):
    assert review.live(client, "archive", LECTURE, "en") is None
    review.create_version(client, "archive", LECTURE, "en", track("Hi."), base=None, author="m", kind="machine")
    p = review.set_live(client, "archive", LECTURE, "en", 1, approved=True, by="vera", now="2024-05-02T09:00:00+00:00")
    assert review.live(client, "archive", LECTURE, "en") == p == review.LivePointer(1, True, "vera",
                                                                                   "2024-05-02T09:00:00+00:00")
    with pytest.raises(NotFoundError):
        review.set_live(client, "archive", LECTURE, "en", 5, approved=True, by="vera")


# ---------------------------------------------------------------- workflow

# (state, action, role) -> new state, or the error; actor "anna", last author "tom"
TABLE = [
    ("machine", "save", "translator", "draft"),
    ("machine", "send", "translator", "in_review"),
    ("draft", "save", "translator", "draft"),
    ("draft", "send", "translator", "in_review"),
    ("draft", "approve", "reviewer", InvalidTransition),
    ("in_review", "save", "reviewer", "in_review"),
    ("in_review", "approve", "translator", PermissionDenied),
    ("in_review", "approve", "reviewer", "approved"),
    ("in_review", "approve", "staff", "approved"),
    ("in_review", "return", "translator", PermissionDenied),
    ("in_review", "return", "reviewer", "draft"),
    ("in_review", "send", "translator", InvalidTransition),
    ("approved", "publish", "translator", "published"),
    ("approved", "save", "translator", "draft"),
    ("draft", "publish", "staff", InvalidTransition),
    ("draft", "publish_unreviewed", "translator", PermissionDenied),
    ("draft", "publish_unreviewed", "reviewer", "published"),
    ("machine", "publish_unreviewed", "staff", "published"),
    ("published", "publish_unreviewed", "staff", InvalidTransition),
    ("published", "save", "translator", "draft"),
]


@pytest.mark.parametrize("state,action,role,expected", TABLE)
def test_permissions_table(state, action, role, expected):
    if isinstance(expected, str):
        assert next_state(state, action, role=role, actor="anna", last_author="tom") == expected
        assert action in review.allowed_actions(state, role=role, actor="anna", last_author="tom")
    else:
        with pytest.raises(expected):
            next_state(state, action, role=role, actor="anna", last_author="tom")
        assert action not in review.allowed_actions(state, role=role, actor="anna", last_author="tom")


def test_nobody_approves_their_own_version():
    with pytest.raises(PermissionDenied, match="anna wrote the version under review and cannot approve it"):
        next_state("in_review", "approve", role="staff", actor="anna", last_author="anna")
    assert next_state("in_review", "approve", role="reviewer", actor="anna", last_author=None) == "approved"
    assert review.allowed_actions("in_review", role="reviewer", actor="anna", last_author="anna") == (
        "save", "return", "publish_unreviewed")
    assert PermissionDenied.http_status == 403 and InvalidTransition.http_status == 409


def test_the_latest_machine_version_is_two_reads_however_many_people_saved(client):
    """machine.json names it; a store from before machine.json, or a pointer whose create never happened, is scanned."""
    m = review.record_machine_version(client, "archive", LECTURE, track("Good morning."))
    base = m.number
    for i in range(6):
        base = review.create_version(client, "archive", LECTURE, "en", track(f"Good morning {i}."), base=base,
                                     author="anna").number
    sent = []
    client.meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    assert review.latest_machine_version(client, "archive", LECTURE, "en") == m
    assert sent == ["GetObject", "GetObject"]
    # an old store: no machine.json; a pointer at a version never created, or at a person's version
    for pointer in (None, b'{"version": 99}', b'{"version": 3}'):
        if pointer is None:
            client.delete_object(Bucket="archive", Key=f"tracks/{LECTURE}/en/machine.json")
        else:
            client.put_object(Bucket="archive", Key=f"tracks/{LECTURE}/en/machine.json", Body=pointer)
        assert review.latest_machine_version(client, "archive", LECTURE, "en") == m
    b = review.record_machine_version(client, "archive", LECTURE, track("Good mourning."))
    assert b.number == 8 and review.latest_machine_version(client, "archive", LECTURE, "en") == b
