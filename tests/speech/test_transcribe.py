"""Real Whisper base on tiny generated clips: words come out timed; nothing comes from music or silence."""

from __future__ import annotations

import clips
import jiwer
import pytest

from medialib.config import load_settings
from medialib.errors import OperatorError
from medialib.speech.whisper import load_model, transcribe_audio
from medialib.subtitles.segment import check_cues, segment_cues

OPTS = load_settings().speech


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    return tmp_path_factory.mktemp("speech")


def test_english_speech_gives_ordered_timed_words(d):
    text = "Ask open questions. Then listen, and let the witness finish the answer."
    t = transcribe_audio(clips.speech_wav(d / "en.wav", text), OPTS)
    assert t.language == "en" and t.model == "whisper-base"
    assert all(a.start_ms <= b.start_ms for a, b in zip(t.words, t.words[1:]))
    assert all(0 <= w.start_ms <= w.end_ms <= t.duration_ms + 500 for w in t.words)
    wer = jiwer.wer(text.lower().replace(".", "").replace(",", ""),
                    " ".join(w.text for w in t.words).lower().replace(".", "").replace(",", ""))
    assert wer < 0.2
    cues = segment_cues(t.words, load_settings().subtitles)
    assert cues and check_cues(cues, load_settings().subtitles) == []


def test_language_given_by_staff_is_used(d):
    t = transcribe_audio(clips.speech_wav(d / "en2.wav", "Good morning."), OPTS, language="en")
    assert t.language == "en"


@pytest.mark.parametrize("kind", ["music", "silence"])
def test_no_words_are_invented_from_music_or_silence(d, kind):
    wav = clips.music(d / "music.wav") if kind == "music" else clips.silence(d / "silence.wav")
    t = transcribe_audio(wav, OPTS)
    assert t.words == ()


def test_a_missing_model_folder_or_name_offline_is_a_clear_error(monkeypatch):
    # A name that is neither "base" nor a folder goes to faster-whisper's download path;
    # here it must fail with our message instead of hanging (HF offline mode, as in CI).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OperatorError) as e:
        load_model("tiny-model-that-does-not-exist")
    assert str(e.value).startswith("Whisper model 'tiny-model-that-does-not-exist' could not be loaded")
