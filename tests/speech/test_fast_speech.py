"""Fast speech through real Whisper base: every cue keeps the reading-speed cap by borrowing time."""

from __future__ import annotations

import clips
import pytest

from medialib.config import load_settings
from medialib.speech.whisper import transcribe_audio
from medialib.subtitles.cues import Cue, Track
from medialib.subtitles.segment import check_cues, segment_cues, split_by_sentence

SETTINGS = load_settings(environ={})
RULES = SETTINGS.subtitles


def cps(cue: Cue) -> float:
    """Reading speed as check_cues measures it."""
    return cue.chars * 1000 / cue.duration_ms


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    wav = clips.fast_speech_wav(tmp_path_factory.mktemp("fast-speech") / "fast.wav")
    return transcribe_audio(wav, SETTINGS.speech, language="en").words


def test_the_fixture_is_too_fast_to_read_at_its_own_words(words):
    sentences = split_by_sentence((tuple(words),))
    assert len(sentences) >= 5
    spoken = [Cue(s[0].start_ms, s[-1].end_ms, " ".join(w.text for w in s)) for s in sentences]
    assert max(map(cps, spoken)) > 1.3 * RULES.max_cps
    # Each sentence shown from its first word until the next one starts: some break the cap,
    # so the cues below had to borrow time to keep it.
    at_own_words = [Cue(a[0].start_ms, b[0].start_ms - RULES.min_gap_ms, " ".join(w.text for w in a))
                    for a, b in zip(sentences, sentences[1:])]
    assert any(cps(c) > RULES.max_cps for c in at_own_words)


def test_fast_speech_cues_keep_the_reading_speed_cap(words):
    cues = segment_cues(words, RULES)
    assert check_cues(cues, RULES) == []
    assert max(map(cps, cues)) <= RULES.max_cps
    assert " ".join(c.text.replace("\n", " ") for c in cues) == " ".join(w.text for w in words)
    Track("en", "asr", cues)  # ordered, never overlapping
    spoken = [w for w in words if w.text.strip()]
    firsts, n = [], 0
    for cue in cues:
        firsts.append(spoken[n])
        n += len(cue.text.split())
    for cue, first in zip(cues, firsts):
        assert first.start_ms - RULES.max_lead_ms <= cue.start_ms <= first.start_ms
        assert RULES.min_duration_ms <= cue.duration_ms <= RULES.max_duration_ms
    for a, b, next_first in zip(cues, cues[1:], firsts[1:]):
        assert b.start_ms - a.end_ms >= RULES.min_gap_ms
        assert a.end_ms < next_first.start_ms
