"""Speech audio is stored as FLAC: the very samples a 16 kHz WAV holds, in fewer bytes."""

from __future__ import annotations

import wave

import clips
import numpy as np

from medialib.media.audio import extract_audio, pcm_wav
from medialib.media.peaks import compute_peaks
from medialib.media.probe import probe_media


def _samples(path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def test_flac_decodes_to_the_samples_of_the_wav_and_is_smaller(tmp_path):
    speech = clips.speech_wav(tmp_path / "talk.wav", "Open questions help the witness remember more.")
    src = clips.lecture_clip(tmp_path / "talk.mp4", speech, size="320x180")
    info = probe_media(src)
    wav = extract_audio(src, info, tmp_path / "speech-0.wav")
    flac = extract_audio(src, info, tmp_path / "speech-0.flac")
    assert flac.read_bytes()[:4] == b"fLaC"
    assert flac.stat().st_size < 0.7 * wav.stat().st_size
    back = pcm_wav(flac, tmp_path / "back.wav")
    rate_a, a = _samples(wav)
    rate_b, b = _samples(back)
    assert rate_a == rate_b == 16000 and np.array_equal(a, b)   # lossless: Whisper reads the same input
    assert compute_peaks(back) == compute_peaks(wav)
