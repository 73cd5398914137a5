"""Waveform peaks from a synthetic 16 kHz WAV (no ffmpeg)."""

from __future__ import annotations

import json
import time
import wave

import numpy as np
import pytest

from medialib import keys
from medialib.errors import InputError
from medialib.media.peaks import Peaks, compute_peaks

RATE = 16000


def write_wav(path, samples, rate=RATE, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def test_peaks_follow_the_loudness_per_50th_of_a_second(tmp_path):
    # 1 s silence, 1 s tone at 8000, 0.5 s tone at 16000, then 10 ms at 4000 (a partial bucket)
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 200 * t)
    x = np.concatenate([np.zeros(RATE), 8000 * tone, 16000 * tone[: RATE // 2], np.full(160, 4000)])
    p = compute_peaks(write_wav(tmp_path / "s.wav", x))
    assert (p.sample_rate, p.peaks_per_second, p.duration_ms) == (16000, 50, 2510)
    assert len(p.peaks) == 126  # 2.51 s * 50, the last bucket partial
    assert set(p.peaks[:50]) == {0.0}
    assert all(0.49 <= v <= 0.51 for v in p.peaks[50:100])
    assert max(p.peaks) == 1.0 and all(0.99 <= v <= 1.0 for v in p.peaks[100:125])
    assert p.peaks[125] == 0.25
    assert all(round(v, 2) == v for v in p.peaks)
    assert Peaks.from_json(json.loads(json.dumps(p.to_json()))) == p
    assert set(p.to_json()) == {"sample_rate", "peaks_per_second", "duration_ms", "peaks"}


def test_silence_and_empty_audio(tmp_path):
    assert compute_peaks(write_wav(tmp_path / "z.wav", np.zeros(800))).peaks == (0.0,) * 3
    empty = compute_peaks(write_wav(tmp_path / "e.wav", np.zeros(0)))
    assert empty.peaks == () and empty.duration_ms == 0


def test_stereo_folds_channels(tmp_path):
    x = np.zeros((RATE, 2))
    x[:, 1] = 1000
    p = compute_peaks(write_wav(tmp_path / "st.wav", x.reshape(-1), channels=2))
    assert p.peaks == (1.0,) * 50


def test_not_a_wav_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(InputError, match="bad.wav: not a PCM WAV file"):
        compute_peaks(bad)


def test_ten_minutes_is_fast_and_small(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(RATE * 600) * 3000).clip(-32000, 32000)
    wav = write_wav(tmp_path / "long.wav", x)
    started = time.perf_counter()
    p = compute_peaks(wav)
    assert time.perf_counter() - started < 2.0  # 90 minutes: about 9x this
    assert len(p.peaks) == 30000
    assert len(json.dumps(p.to_json(), separators=(",", ":"))) < 6 * 30000


def test_peaks_key_is_outside_work():
    assert keys.peaks("lec-1") == "tracks/lec-1/peaks.json"
