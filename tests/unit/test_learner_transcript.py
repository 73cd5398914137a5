"""The player's transcript panel file: compact, content-named, one per subtitle edition."""

from __future__ import annotations

import json

from medialib.publish.bundle import (
    PublishedTrack,
    learner_transcript,
    write_learner_transcript,
)
from medialib.subtitles import Cue, Track

EN = Track(language="en", origin="asr", model="m", cues=(Cue(0, 1500, "Good mornin."), Cue(2000, 3500, "Ask.")))
RU = Track(language="ru", origin="mt", model="m", cues=(Cue(0, 1500, "Доброе утро."),))


def test_learner_transcript_holds_every_language_compactly():
    doc = json.loads(learner_transcript("lec", [PublishedTrack(EN, 2), PublishedTrack(RU, 1, machine_made=True)]))
    assert doc == {"lecture_id": "lec", "tracks": [
        {"language": "en", "name": "English", "version": 2, "cues": [[0, 1500, "Good mornin."], [2000, 3500, "Ask."]]},
        {"language": "ru", "name": "Русский (machine)", "version": 1, "cues": [[0, 1500, "Доброе утро."]]},
    ]}


def test_the_name_follows_the_content(tmp_path):
    first = write_learner_transcript(tmp_path, "lec", [PublishedTrack(EN, 1)])
    assert first == write_learner_transcript(tmp_path, "lec", [PublishedTrack(EN, 1)])   # deterministic
    fixed = Track(language="en", origin="asr", model="m", cues=(Cue(0, 1500, "Good morning."), EN.cues[1]))
    second = write_learner_transcript(tmp_path, "lec", [PublishedTrack(fixed, 2)])
    assert first != second and first.startswith("transcript-") and len(first) == len("transcript-") + 12 + 5
    assert (tmp_path / first).is_file() and (tmp_path / second).is_file()
