"""Two writers racing for the next version of one track, on the real embedded SeaweedFS."""

from __future__ import annotations

import threading
import uuid

from medialib import review
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
