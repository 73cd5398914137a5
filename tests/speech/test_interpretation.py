"""Interpreter alignment on a real two-track recording: espeak-ng floor, festival interpreter, Whisper base."""

from __future__ import annotations

import pytest
from interpretation_fixture import make_two_track_recording, sentence_of_cues

from medialib.config import load_settings
from medialib.media.audio import extract_audio
from medialib.media.probe import probe_media
from medialib.speech.whisper import transcribe_audio
from medialib.subtitles.segment import check_cues
from medialib.translate.interpret import align_interpretation, estimate_lag_ms

PAIRS = (
    ("Good morning, everyone.", "Доброе утро всем."),
    ("Today we talk about interviews with witnesses.", "Сегодня мы поговорим о допросе свидетелей."),
    ("Ask open questions.", "Задавайте открытые вопросы."),
    ("Do not interrupt the witness when they are speaking.", "Не перебивайте свидетеля."),
    ("Write down names, times and places.", "Записывайте имена, время и место событий."),
)


@pytest.mark.e2e
def test_the_interpreters_track_lands_on_the_floor_sentences(tmp_path):
    settings = load_settings(environ={})
    truth = make_two_track_recording(tmp_path / "two-track.mp4", PAIRS, lag_s=2.0)
    info = probe_media(truth.path)
    assert [a.language for a in info.audio] == ["eng", "rus"]
    floor = transcribe_audio(extract_audio(truth.path, info, tmp_path / "floor.wav", audio_stream=0),
                             settings.speech, language="en")
    interp = transcribe_audio(extract_audio(truth.path, info, tmp_path / "interp.wav", audio_stream=1),
                              settings.speech, language="ru")

    assert abs(estimate_lag_ms(floor.words, interp.words) - 2000) <= 500
    track, alignment = align_interpretation(floor, interp, settings.subtitles, model=interp.model)
    assert abs(alignment.lag_ms - 2000) <= 500
    assert (track.language, track.origin) == ("ru", "interpretation")
    assert check_cues(track.cues, settings.subtitles) == []

    pairs = sentence_of_cues(track.cues, interp.words, truth)
    first: dict[int, int] = {}
    for cue, i in zip(track.cues, pairs):
        assert cue.start_ms >= truth.sentences[i].floor_start_ms, (cue, truth.sentences[i])
        first.setdefault(i, cue.start_ms)
    assert sorted(first) == list(range(len(PAIRS)))
    offsets = [abs(first[i] - s.floor_start_ms) for i, s in enumerate(truth.sentences)]
    assert sum(offsets) / len(offsets) <= 300, offsets
