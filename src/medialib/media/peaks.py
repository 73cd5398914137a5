"""Waveform peaks of the speech audio, for the review editor's waveform.

The editor draws the speech so a translator can set cue times by eye. Decoding a
lecture's audio in the browser would take the whole file (170 MB of WAV for 90 minutes);
peaks are 50 numbers a second instead (~270,000 for 90 minutes, ~1 MB of JSON), made
once by the pipeline from the 16 kHz WAV it already extracted for Whisper.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medialib.errors import InputError

PEAKS_PER_SECOND = 50
BLOCK_S = 30  # read this much audio at a time: memory stays flat for a 3-hour recording


@dataclass(frozen=True)
class Peaks:
    """Max |sample| per 1/peaks_per_second bucket, 0..1 (1 = the loudest bucket), 2 decimals."""

    sample_rate: int
    peaks_per_second: int
    duration_ms: int
    peaks: tuple[float, ...]

    def to_json(self) -> dict:
        return {"sample_rate": self.sample_rate, "peaks_per_second": self.peaks_per_second,
                "duration_ms": self.duration_ms, "peaks": list(self.peaks)}

    @classmethod
    def from_json(cls, d: dict) -> "Peaks":
        return cls(int(d["sample_rate"]), int(d["peaks_per_second"]), int(d["duration_ms"]),
                   tuple(float(p) for p in d["peaks"]))


def compute_peaks(wav_path: Path, peaks_per_second: int = PEAKS_PER_SECOND) -> Peaks:
    """Peaks of a 16-bit PCM WAV (any rate, channels folded), read in BLOCK_S blocks.

    Scaled to the loudest bucket rather than to full scale: a quiet lecture microphone
    (peaks at -30 dBFS) would otherwise draw as a flat line. A last partial bucket counts.
    """
    path = Path(wav_path)
    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError) as e:
        raise InputError(f"{path.name}: not a PCM WAV file ({e}); extract the speech audio again") from None
    with w:
        if w.getsampwidth() != 2:
            raise InputError(f"{path.name}: {8 * w.getsampwidth()}-bit samples; peaks need 16-bit PCM")
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
        if rate % peaks_per_second:
            raise ValueError(f"{rate} Hz does not divide into {peaks_per_second} peaks a second")
        bucket = rate // peaks_per_second
        block = bucket * peaks_per_second * BLOCK_S  # whole buckets per block
        out = np.zeros(-(-frames // bucket), dtype=np.float32)
        at = 0
        while chunk := w.readframes(block):
            x = np.abs(np.frombuffer(chunk, dtype="<i2").astype(np.int32))
            x = x.reshape(-1, channels).max(axis=1) if channels > 1 else x
            n = -(-len(x) // bucket)
            padded = np.zeros(n * bucket, dtype=np.int32)
            padded[: len(x)] = x
            out[at:at + n] = padded.reshape(n, bucket).max(axis=1)
            at += n
    out = out[:at]
    loudest = float(out.max()) if len(out) else 0.0
    scaled = np.round(out.astype(np.float64) / loudest, 2) if loudest > 0 else out.astype(np.float64)
    return Peaks(rate, peaks_per_second, round(frames * 1000 / rate) if rate else 0,
                 tuple(float(p) for p in scaled.tolist()))
