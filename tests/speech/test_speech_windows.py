"""A recording in windows cut at its pauses, each transcribed alone, merged: the words of a single pass."""

from __future__ import annotations

import wave

import clips
import jiwer
import numpy as np
import pytest

from medialib.config import load_settings
from medialib.speech.transcript import Segment, Transcript, Word
from medialib.speech.whisper import transcribe_audio
from medialib.speech.windows import Window, cut_window, merge_windows, plan_windows, transcribe_window

OPTS = load_settings().speech
SENTENCES = (
    "Good morning, and welcome to the second session.",
    "Today we talk about interviews with witnesses.",
    "Ask open questions and let the witness speak without interruption.",
    "Listen carefully, and write down what you hear.",
    "At the end, summarise the account and check it with the witness.",
)


def _wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def test_windows_end_in_pauses_and_cover_everything(tmp_path):
    # 1 s tone bursts separated by 0.6 s of silence: every cut must fall in a silence
    rng = np.random.default_rng(0)
    burst = (rng.standard_normal(16000) * 3000)
    gap = np.zeros(9600)
    audio = np.concatenate([np.concatenate([burst, gap]) for _ in range(12)])
    path = _wav(tmp_path / "bursts.wav", audio)
    windows = plan_windows(path, window_s=4, search_s=2)
    assert len(windows) >= 4
    assert windows[0].start_ms == 0 and windows[-1].end_ms == round(len(audio) / 16)
    assert all(a.end_ms == b.start_ms for a, b in zip(windows, windows[1:]))
    for w in windows[:-1]:
        assert w.end_ms % 1600 >= 1000, f"cut at {w.end_ms} ms is inside a burst"
        assert w.duration_ms <= 4000
    assert cut_window(path, windows[1], tmp_path / "w1.wav").stat().st_size == 44 + windows[1].duration_ms * 32


def test_merge_keeps_a_seam_word_once_and_order():
    w0, w1 = Window(0, 0, 2000), Window(1, 2000, 4000)
    t0 = Transcript("en", 0.9, 2000, (Word(100, 500, "ask", 0.9), Word(1700, 2050, "open", 0.8)), "whisper-base",
                    segments=(Segment(100, 2050, -0.2, 0.01, 1.2),))
    t1 = Transcript("en", 0.5, 2000, (Word(1990, 2060, "open.", 0.4), Word(2300, 2700, "questions", 0.9)),
                    "whisper-base", dropped_segments=1)
    m = merge_windows([w0, w1], [t0, t1])
    assert [w.text for w in m.words] == ["ask", "open", "questions"]
    assert m.language == "en" and m.language_probability == 0.9 and m.duration_ms == 4000 and m.dropped_segments == 1
    # the same word said twice, well apart, is not a duplicate
    t1b = Transcript("en", 0.5, 2000, (Word(2600, 2900, "open", 0.9),), "whisper-base")
    assert [w.text for w in merge_windows([w0, w1], [t0, t1b]).words] == ["ask", "open", "open"]


def _clean(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").replace(",", " ").split())


def test_windowed_words_equal_single_pass_within_one_wer_point(tmp_path):
    ssml = "<speak>" + "".join(f'{s} <break time="900ms"/> ' for s in SENTENCES) + "</speak>"
    wav16 = tmp_path / "lecture16.wav"
    clips.ff("-i", str(clips.speech_wav(tmp_path / "lecture.wav", ssml, ssml=True)), "-ar", "16000", "-ac", "1",
             str(wav16))
    reference = _clean(" ".join(SENTENCES))
    single = transcribe_audio(wav16, OPTS, language="en")
    windows = plan_windows(wav16, window_s=12, search_s=4)
    assert len(windows) >= 2
    parts = [transcribe_window(cut_window(wav16, w, tmp_path / f"w{w.index}.wav"), w, OPTS, language="en")
             for w in windows]
    merged = merge_windows(windows, parts, max_repeats=OPTS.max_repeats)
    assert all(a.start_ms <= b.start_ms for a, b in zip(merged.words, merged.words[1:]))
    assert all(0 <= w.start_ms <= w.end_ms <= merged.duration_ms + 500 for w in merged.words)
    wer_single = jiwer.wer(reference, _clean(" ".join(w.text for w in single.words)))
    wer_windows = jiwer.wer(reference, _clean(" ".join(w.text for w in merged.words)))
    assert wer_windows <= wer_single + 0.01, (wer_single, wer_windows, [w.text for w in merged.words])
    # and the words are where the single pass heard them (within 300 ms each)
    if len(merged.words) == len(single.words):
        assert max(abs(a.start_ms - b.start_ms) for a, b in zip(merged.words, single.words)) < 300


@pytest.mark.parametrize("bad", [0, -1])
def test_window_length_must_be_positive(tmp_path, bad):
    path = _wav(tmp_path / "s.wav", np.zeros(16000))
    with pytest.raises(ValueError):
        plan_windows(path, window_s=bad)
