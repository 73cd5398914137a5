"""A recording with simultaneous interpretation: English floor speech on audio stream 0,
a Russian interpreter on audio stream 1, and the true timing of every sentence.

English is spoken by espeak-ng; Russian by festival (msu_ru_nsh), because Whisper does
not recognise espeak's Russian. Each synthesised sentence is trimmed to its sound, so the
truth (start and end of every sentence on both tracks) is where the sound is, from the
sample counts, not where a WAV file with leading silence happens to begin.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medialib.media.ffmpeg import find_ffmpeg

RATE = 16_000
LEAD_S = 1.0             # silence before the first sentence
TAIL_S = 1.5             # silence after the last interpreted sentence
MIN_INTERP_GAP_S = 0.35  # the interpreter breathes between sentences


@dataclass(frozen=True)
class SentenceTruth:
    """One sentence pair; times in ms from the start of the recording."""

    floor_text: str
    interp_text: str
    floor_start_ms: int
    floor_end_ms: int
    interp_start_ms: int
    interp_end_ms: int

    @property
    def lag_ms(self) -> int:
        return self.interp_start_ms - self.floor_start_ms


@dataclass(frozen=True)
class TwoTrackTruth:
    path: Path
    duration_ms: int
    sentences: tuple[SentenceTruth, ...]
    floor_language: str = "en"
    interp_language: str = "ru"

    @property
    def mean_lag_ms(self) -> int:
        return round(sum(s.lag_ms for s in self.sentences) / len(self.sentences)) if self.sentences else 0


def make_two_track_recording(out: Path, pairs: Sequence[tuple[str, str]], *, lag_s: float = 2.0, gap_s: float = 1.2,
                             lags_s: Sequence[float] | None = None) -> TwoTrackTruth:
    """An MP4 (testsrc2 320x180, AAC) with audio 0 = English floor, audio 1 = Russian interpretation.

    `pairs` are (English, Russian) sentences; the Russian may paraphrase. Floor sentences
    follow each other after `gap_s` of silence; each Russian sentence starts `lag_s` (or
    `lags_s[i]`) after its English sentence starts. When the previous Russian sentence
    would still be running then, the floor pause is lengthened instead, so every lag is
    exactly as asked and the interpreter never talks over herself.
    """
    if not pairs:
        raise ValueError("make_two_track_recording needs at least one sentence pair")
    lags = list(lags_s) if lags_s is not None else [lag_s] * len(pairs)
    if len(lags) != len(pairs):
        raise ValueError(f"{len(lags)} lags for {len(pairs)} sentence pairs")
    for tool in ("espeak-ng", "text2wave"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: run the tests through `./run test`, which installs it")
    out = Path(out)
    work = out.with_name(f".{out.stem}-parts")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        english = [_trim(_espeak(en, work / f"en{i:02d}.wav")) for i, (en, _) in enumerate(pairs)]
        russian = [_trim(_festival(ru, work / f"ru{i:02d}.wav")) for i, (_, ru) in enumerate(pairs)]

        placed = []  # (floor_start, interp_start) in samples
        cursor = int(LEAD_S * RATE)
        prev_interp_end = 0
        for en, ru, lag in zip(english, russian, lags):
            lag_n = int(round(lag * RATE))
            floor_start = max(cursor, prev_interp_end + int(MIN_INTERP_GAP_S * RATE) - lag_n)
            interp_start = floor_start + lag_n
            placed.append((floor_start, interp_start))
            cursor = floor_start + len(en) + int(round(gap_s * RATE))
            prev_interp_end = interp_start + len(ru)
        total = max(cursor, prev_interp_end + int(TAIL_S * RATE))
        floor = np.zeros(total, np.float32)
        interp = np.zeros(total, np.float32)
        sentences = []
        for (en_text, ru_text), en, ru, (fs, is_) in zip(pairs, english, russian, placed):
            floor[fs:fs + len(en)] = en
            interp[is_:is_ + len(ru)] = ru
            sentences.append(SentenceTruth(en_text, ru_text, _ms(fs), _ms(fs + len(en)), _ms(is_), _ms(is_ + len(ru))))
        floor_wav = _write_wav(work / "floor.wav", floor)
        interp_wav = _write_wav(work / "interp.wav", interp)

        tmp = out.with_name(f".{out.name}.part.mp4")
        seconds = total / RATE
        subprocess.run(
            [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
             "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=10:d={seconds:.3f}",
             "-i", str(floor_wav), "-i", str(interp_wav),
             "-map", "0:v", "-map", "1:a", "-map", "2:a",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "64k",
             # the roles, as a recording desk labels them: players and probe_media read these
             "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Floor",
             "-metadata:s:a:1", "language=rus", "-metadata:s:a:1", "title=Interpretation",
             "-movflags", "+faststart", "-f", "mp4", str(tmp)],
            check=True, stdin=subprocess.DEVNULL, timeout=300)
        tmp.replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TwoTrackTruth(path=out, duration_ms=_ms(total), sentences=tuple(sentences))


def _ms(samples: int) -> int:
    return int(round(samples * 1000 / RATE))


def _espeak(text: str, path: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, timeout=60,
                   stdin=subprocess.DEVNULL)
    return _read_wav(path)


def _festival(text: str, path: Path) -> np.ndarray:
    txt = path.with_suffix(".txt")
    txt.write_text(text, encoding="utf-8")
    subprocess.run(["text2wave", "-eval", "(voice_msu_ru_nsh_clunits)", str(txt), "-o", str(path)], check=True,
                   timeout=120, stdin=subprocess.DEVNULL, capture_output=True)
    return _read_wav(path)


def _read_wav(path: Path) -> np.ndarray:
    """Mono float samples at 16 kHz (espeak writes 22.05 kHz: resampled band-limited, by FFT)."""
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        rate, channels = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        n_out = int(round(len(x) * RATE / rate))
        spectrum = np.fft.rfft(x)[: n_out // 2 + 1]
        x = (np.fft.irfft(spectrum, n_out) * (n_out / len(x))).astype(np.float32)
    return x


def _trim(x: np.ndarray, frame: int = 160, floor_db: float = -40.0) -> np.ndarray:
    """The samples from the first to the last 10 ms frame within 40 dB of the loudest one."""
    n = len(x) // frame
    rms = np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    return x[loud[0] * frame:(loud[-1] + 1) * frame].copy()


def _write_wav(path: Path, x: np.ndarray) -> Path:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def sentence_of_cues(cues, interp_words, truth: TwoTrackTruth) -> list[int]:
    """For each cue of an interpretation track, the sentence pair it interprets.

    A cue's first word is found in the interpreter's transcript (in order), and the pair
    is the one whose interpreted sentence holds the middle of that word on the
    interpreter's own timeline (Whisper stretches a word's start into the pause before it).
    """
    words = list(interp_words)
    out, cursor = [], 0
    for cue in cues:
        head = cue.text.split()[0]
        while cursor < len(words) and words[cursor].text != head:
            cursor += 1
        if cursor == len(words):
            raise ValueError(f"cue {cue.text!r}: its first word is not in the interpreter's transcript")
        middle = (words[cursor].start_ms + words[cursor].end_ms) // 2
        out.append(min(range(len(truth.sentences)), key=lambda i: max(
            truth.sentences[i].interp_start_ms - middle, middle - truth.sentences[i].interp_end_ms, 0)))
        cursor += 1
    return out
