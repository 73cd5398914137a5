"""Hallucination guards, on stand-in Whisper segments (no model needed)."""

from __future__ import annotations

from types import SimpleNamespace as NS

from medialib.config import load_settings
from medialib.speech.transcript import Transcript, Word
from medialib.speech.whisper import _cut_repetitions, _guard_segment

OPTS = load_settings().speech


def seg(text, prob=0.9, no_speech=0.1, logprob=-0.3):
    words = [NS(start=i * 0.4, end=i * 0.4 + 0.3, word=" " + w, probability=prob) for i, w in enumerate(text.split())]
    return NS(text=text, words=words, no_speech_prob=no_speech, avg_logprob=logprob)


def test_normal_segment_kept_with_ms_times():
    words = _guard_segment(seg("Ask open questions."), OPTS)
    assert [w.text for w in words] == ["Ask", "open", "questions."]
    assert words[1].start_ms == 400 and words[1].end_ms == 700


def test_silence_segment_dropped():
    assert _guard_segment(seg("Thank you.", no_speech=0.9, logprob=-1.5), OPTS) is None


def test_credit_line_over_music_dropped():
    assert _guard_segment(seg("Thanks for watching!", logprob=-0.8), OPTS) is None


def test_all_low_confidence_words_dropped():
    assert _guard_segment(seg("la la la", prob=0.05), OPTS) is None


def test_repetition_loop_cut_to_max_repeats():
    words = [Word(i * 100, i * 100 + 90, t, 0.9) for i, t in enumerate(["I", "said", *["no,"] * 9, "then", "stop."])]
    cut = _cut_repetitions(words, 3)
    assert [w.text for w in cut] == ["I", "said", "no,", "no,", "no,", "then", "stop."]


def test_phrase_loop_cut():
    text = ["we", "will", "see"] * 6 + ["end."]
    words = [Word(i * 100, i * 100 + 90, t, 0.9) for i, t in enumerate(text)]
    assert [w.text for w in _cut_repetitions(words, 2)] == ["we", "will", "see", "we", "will", "see", "end."]


def test_transcript_json_round_trip():
    t = Transcript("en", 0.97, 5000, (Word(0, 300, "Hello,", 0.91), Word(350, 700, "world.", 0.88)), "whisper-base")
    assert Transcript.from_json(t.to_json()) == Transcript("en", 0.97, 5000, t.words, "whisper-base")


def test_long_audio_is_cut_into_windows_at_quiet_moments():
    import numpy as np

    from medialib.speech.whisper import SAMPLE_RATE, _windows

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(SAMPLE_RATE * 25) * 3000).astype(np.int16)  # 25 s of "speech"
    audio[SAMPLE_RATE * 8: SAMPLE_RATE * 8 + SAMPLE_RATE // 2] = 0          # a pause at 8.0-8.5 s
    windows = list(_windows(audio, window_s=10, search_s=5))
    assert windows[0][0] == 0.0 and 8.0 <= windows[1][0] <= 8.5  # the first cut falls inside the pause
    assert sum(len(w) for _, w in windows) == len(audio)


def test_16k_mono_wav_is_read_a_window_at_a_time(tmp_path):
    """No memory map: its pages stay resident, so memory would grow with the recording's length."""
    import wave

    import numpy as np

    from medialib.speech.whisper import PcmFile, _open_audio, _windows

    p = tmp_path / "a.wav"
    samples = (np.arange(16000 * 25) % 30000).astype("<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(samples.tobytes())
    audio = _open_audio(p)
    assert isinstance(audio, PcmFile) and not isinstance(audio, np.ndarray) and len(audio) == len(samples)
    assert audio[999:1001].tolist() == [999, 1000] and len(audio[len(samples) - 5:len(samples) + 5]) == 5
    windows = list(_windows(audio, window_s=10, search_s=5))
    assert len(windows) >= 3 and np.array_equal(np.concatenate([w for _, w in windows]), samples)
