"""Two writers racing for the next version of one track, on the real embedded SeaweedFS."""

from __future__ import annotations

import threading
import uuid

import pytest

from medialib import review
from medialib.errors import NotFoundError
from medialib.subtitles import Cue, Track


def test_two_writers_on_the_same_base_one_saves_and_the_other_is_told_who(s3_client, s3_server):
    lecture = f"2024-05-01-race-{uuid.uuid4().hex[:6]}"
    bucket = s3_server.archive_bucket
    machine = Track(language="ru", origin="interpretation", model="whisper-base",
                    cues=(Cue(0, 1500, "Доброе утро."), Cue(2000, 3500, "Задавайте открытые вопросы.")))
    review.record_machine_version(s3_client, bucket, lecture, machine)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def save(user: str) -> None:
        edited = Track(language="ru", origin="interpretation", model="whisper-base",
                       cues=(Cue(0, 1500, f"Доброе утро ({user}).", id="c00001"), machine.cues[1]))
        barrier.wait()
        try:
            outcomes[user] = review.create_version(s3_client, bucket, lecture, "ru", edited, base=1, author=user)
        except review.VersionConflict as e:
            outcomes[user] = e

    threads = [threading.Thread(target=save, args=(u,)) for u in ("anna", "boris")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = [v for v in outcomes.values() if isinstance(v, review.TrackVersion)]
    refused = [e for e in outcomes.values() if isinstance(e, review.VersionConflict)]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    winner = saved[0]
    assert winner.number == 2 and refused[0].latest == winner
    assert f"version 2 was saved by {winner.author}" in str(refused[0])
    assert review.list_versions(s3_client, bucket, lecture, "ru") == (1, 2)
    assert review.latest_version(s3_client, bucket, lecture, "ru") == winner


def test_a_stale_base_names_the_newest_and_a_missing_base_leaves_no_gap(s3_client, s3_server):
    """Saves do not list the versions first: the conditional create of base+1 is the check."""
    lecture = f"2024-05-01-stale-{uuid.uuid4().hex[:6]}"
    bucket = s3_server.archive_bucket
    track = Track(language="en", origin="asr", cues=(Cue(0, 1500, "Good morning."),))
    review.create_version(s3_client, bucket, lecture, "en", track, base=None, author="whisper", kind="machine")
    for n, user in ((1, "anna"), (2, "boris")):
        edited = Track(language="en", origin="asr", cues=(Cue(0, 1500, f"Good morning, {user}.", id="c00001"),))
        review.create_version(s3_client, bucket, lecture, "en", edited, base=n, author=user)
    with pytest.raises(review.VersionConflict, match="version 3 was saved by boris") as e:
        review.create_version(s3_client, bucket, lecture, "en", track, base=1, author="vera")
    assert e.value.latest.number == 3
    with pytest.raises(review.VersionConflict, match="version 3"):
        review.create_version(s3_client, bucket, lecture, "en", track, base=None, author="vera")
    with pytest.raises(NotFoundError):
        review.create_version(s3_client, bucket, lecture, "en", track, base=7, author="vera")
    assert review.list_versions(s3_client, bucket, lecture, "en") == (1, 2, 3)


def test_a_rerun_adds_a_machine_version_that_never_displaces_the_translators(s3_client, s3_server):
    """A re-run's machine output goes after a person's version; their line of work goes on past it."""
    lecture = f"2024-05-01-rerun-{uuid.uuid4().hex[:6]}"
    bucket = s3_server.archive_bucket
    first = Track(language="en", origin="asr", model="whisper-base", cues=(Cue(0, 1500, "Good morning."),))
    review.record_machine_version(s3_client, bucket, lecture, first)
    mine = Track(language="en", origin="asr", cues=(Cue(0, 1500, "Good morning, all.", id="c00001"),))
    v2 = review.create_version(s3_client, bucket, lecture, "en", mine, base=1, author="anna")
    better = Track(language="en", origin="asr", model="whisper-small", cues=(Cue(0, 1400, "Good morning, y'all."),))
    assert review.record_machine_version(s3_client, bucket, lecture, better).number == 3
    assert review.head_version(s3_client, bucket, lecture, "en") == v2          # what anna edits and approves
    assert review.head_number([(1, "machine"), (2, "human"), (3, "machine")]) == 2
    again = Track(language="en", origin="asr", cues=(Cue(0, 1500, "Good morning, everyone.", id="c00001"),))
    v4 = review.create_version(s3_client, bucket, lecture, "en", again, base=2, author="anna")
    assert (v4.number, v4.base, v4.track.cues[0].version, v4.track.cues[0].editor) == (4, 2, 4, "anna")
    with pytest.raises(review.VersionConflict, match="version 4 was saved by anna"):   # boris started from v2 too
        review.create_version(s3_client, bucket, lecture, "en", mine, base=2, author="boris")
    assert review.list_versions(s3_client, bucket, lecture, "en") == (1, 2, 3, 4)
