"""Lays the sample lecture's sentences on two timelines: the English floor and a Russian
interpreter who starts each sentence 1.5-2.5 s after the speaker does.

Called by make_sample.sh with the folder holding en_NN.wav and ru_NN.wav (one per line of
lecture.txt and lecture.ru.txt). Writes floor.wav and interp.wav there (16-bit mono at
RATE) and prints, on one line, the total length and the floor start of every sentence in
seconds, for the slides. Each synthesised sentence is trimmed to its sound first, so the
lag is from speech to speech, not from one file's leading silence to another's.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 24_000
LEAD_S = 1.0             # silence before the first sentence
FLOOR_GAP_S = 0.7        # the speaker's pause between sentences
INTERP_GAP_S = 0.35      # the interpreter breathes between sentences
TAIL_S = 1.0             # after the interpreter's last word
# Interpreter's lag per sentence (s): varied, as a person's is, within 1.5-2.5 s.
LAGS_S = (1.8, 2.2, 1.6, 2.4, 2.0, 1.7, 2.3, 1.9, 2.1)


def read_wav(path: Path) -> np.ndarray:
    """Mono float samples at RATE (espeak writes 22.05 kHz, festival 16 kHz: resampled by FFT)."""
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        n_out = int(round(len(x) * RATE / rate))
        spectrum = np.fft.rfft(x)
        padded = np.zeros(n_out // 2 + 1, complex)
        k = min(len(spectrum), len(padded))
        padded[:k] = spectrum[:k]
        x = (np.fft.irfft(padded, n_out) * (n_out / len(x))).astype(np.float32)
    return x


def trim(x: np.ndarray, frame: int = RATE // 100, floor_db: float = -40.0) -> np.ndarray:
    """From the first to the last 10 ms frame within 40 dB of the loudest one."""
    n = len(x) // frame
    rms = np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    return x[loud[0] * frame:(loud[-1] + 1) * frame]


def write_wav(path: Path, x: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def main(folder: Path) -> None:
    english = [trim(read_wav(p)) for p in sorted(folder.glob("en_*.wav"))]
    russian = [trim(read_wav(p)) for p in sorted(folder.glob("ru_*.wav"))]
    if not english or len(english) != len(russian) or len(english) > len(LAGS_S):
        sys.exit(f"place_speech: {len(english)} English and {len(russian)} Russian sentences; "
                 f"lecture.txt and lecture.ru.txt need the same number of lines (at most {len(LAGS_S)})")
    placed = []  # (floor start, interpreter start) in samples
    cursor, interp_free = int(LEAD_S * RATE), 0
    for en, ru, lag_s in zip(english, russian, LAGS_S):
        lag = int(lag_s * RATE)
        # If the interpreter is still talking, the speaker waits, so every lag stays as set.
        floor_start = max(cursor, interp_free - lag)
        placed.append((floor_start, floor_start + lag))
        cursor = floor_start + len(en) + int(FLOOR_GAP_S * RATE)
        interp_free = floor_start + lag + len(ru) + int(INTERP_GAP_S * RATE)
    total = max(cursor, interp_free + int((TAIL_S - INTERP_GAP_S) * RATE))
    floor, interp = np.zeros(total, np.float32), np.zeros(total, np.float32)
    for en, ru, (f, i) in zip(english, russian, placed):
        floor[f:f + len(en)] = en
        interp[i:i + len(ru)] = ru
    write_wav(folder / "floor.wav", floor)
    write_wav(folder / "interp.wav", interp)
    print(f"{total / RATE:.2f}", *(f"{f / RATE:.2f}" for f, _ in placed))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
