"""One long recording transcribed as independent windows cut at silences, so any worker can take any window.

    plan_windows   where to cut: every ~window_s, at the quietest stretch of the last
                   search_s before the mark (energy of 100 ms frames, smoothed over
                   smooth_ms so a stop consonant is not taken for a pause)
    cut_window     one window's samples as its own 16 kHz mono WAV (what a worker fetches)
    transcribe_window   the ordinary transcribe_audio on that WAV, words moved onto the
                   recording's timeline
    merge_windows  the windows' words in order; a word that crosses a cut and was heard
                   by both neighbours is kept once (the earlier window's)

Short windows lose context: with 7 s windows on a 22 s espeak clip the words around the
seams were right, but Whisper heard "investigative interviews" as "in MasterGate event
review" inside window 0 (WER 0.20 against 0.13 in one pass). Production windows are
5-10 min, where only the 30 s stretch at each seam decodes differently.

Windows do not overlap: cutting in a pause means no word is split, and an overlap
would only create duplicates to remove. whisper.transcribe_audio cuts the same way for
memory (WINDOW_S); here the windows are records that travel to other workers.
Language: a window needs the language fixed to be independent; the caller passes the
staff's language, or the language detected in window 0 (merge_windows keeps window 0's).
"""

from __future__ import annotations

import logging
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from medialib.config import SpeechOptions
from medialib.speech.transcript import Transcript, Word
from medialib.speech.whisper import SAMPLE_RATE, _cut_repetitions, _open_audio, transcribe_audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """Samples [start_ms, end_ms) of a 16 kHz recording; times in ms on the recording's timeline."""

    index: int
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_ms < self.end_ms:
            raise ValueError(f"window {self.index}: bad bounds {self.start_ms}..{self.end_ms} ms")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


def plan_windows(audio_path: Path, window_s: float, *, search_s: float = 20.0, smooth_ms: int = 500) -> tuple[Window, ...]:
    """Windows of about window_s (at most window_s + max(search_s, window_s / 4)), each ending in the quietest stretch of its last search_s."""
    import numpy as np

    if window_s <= 0 or search_s <= 0:
        raise ValueError("window_s and search_s must be positive")
    audio = _open_audio(Path(audio_path))
    n = len(audio)
    frame = SAMPLE_RATE // 10
    size = int(window_s * SAMPLE_RATE)
    search = min(int(search_s * SAMPLE_RATE), size // 2)  # never a window under half its length
    k = max(1, smooth_ms // 100)
    cuts, start = [0], 0
    while n - start > size:
        end = start + size
        region = np.asarray(audio[end - search:end], dtype=np.float32)
        energy = np.square(region[: len(region) // frame * frame]).reshape(-1, frame).mean(axis=1)
        if len(energy) >= k:  # mean over k frames: a pause, not a plosive's 100 ms
            energy = np.convolve(energy, np.ones(k) / k, mode="valid")
            best = int(np.argmin(energy)) + k // 2
        else:
            best = int(np.argmin(energy))
        start = end - search + best * frame + frame // 2
        cuts.append(start)
    if len(cuts) > 1 and n - cuts[-1] < max(search, size // 4):
        cuts.pop()  # a short tail joins the window before it: no tiny last task
    cuts.append(n)
    ms = [int(round(c * 1000 / SAMPLE_RATE)) for c in cuts]
    return tuple(Window(i, a, b) for i, (a, b) in enumerate(zip(ms, ms[1:])) if b > a)


def cut_window(audio_path: Path, window: Window, out_path: Path) -> Path:
    """The window's samples as a 16 kHz mono 16-bit WAV."""
    import numpy as np

    audio = _open_audio(Path(audio_path))
    a, b = (int(round(t * SAMPLE_RATE / 1000)) for t in (window.start_ms, window.end_ms))
    samples = np.asarray(audio[a:b])
    if samples.dtype.kind == "f":
        samples = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    out_path = Path(out_path)
    with wave.open(str(out_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return out_path


def transcribe_window(window_wav: Path, window: Window, opts: SpeechOptions, *, language: str | None = None,
                      task: str = "transcribe", prompt_terms: Sequence[str] = ()) -> Transcript:
    """transcribe_audio on one window's WAV; words and segments on the recording's timeline."""
    t = transcribe_audio(Path(window_wav), opts, language=language, task=task, prompt_terms=prompt_terms)
    off = window.start_ms
    return replace(t, duration_ms=window.duration_ms,
                   words=tuple(Word(w.start_ms + off, w.end_ms + off, w.text, w.probability) for w in t.words),
                   segments=tuple(replace(s, start_ms=s.start_ms + off, end_ms=s.end_ms + off) for s in t.segments))


def merge_windows(windows: Sequence[Window], transcripts: Sequence[Transcript], *,
                  max_repeats: int | None = None) -> Transcript:
    """One transcript from the windows' (window order, recording timeline); language and model of window 0."""
    if not transcripts or len(windows) != len(transcripts):
        raise ValueError(f"{len(windows)} windows but {len(transcripts)} transcripts")
    pairs = sorted(zip(windows, transcripts), key=lambda p: p[0].start_ms)
    words: list[Word] = []
    segments = []
    for window, t in pairs:
        for w in t.words:
            # only at a seam: inside one window, Whisper's words do not repeat by overlapping
            if words and w.start_ms < window.start_ms + SEAM_MS and _duplicate(words, w):
                log.info("window %d: %r at %d ms already heard by the window before", window.index, w.text, w.start_ms)
                continue
            words.append(w)
        segments.extend(t.segments)
    if max_repeats:
        words = _cut_repetitions(words, max_repeats)  # a loop can run across a seam
    first = pairs[0][1]
    return Transcript(language=first.language, language_probability=first.language_probability,
                      duration_ms=pairs[-1][0].end_ms, words=tuple(words), model=first.model,
                      dropped_segments=sum(t.dropped_segments for _, t in pairs),
                      segments=tuple(sorted(segments, key=lambda s: s.start_ms)))


SEAM_MS = 2000  # how far after a cut a word is compared with the words before the cut


def _norm(text: str) -> str:
    return re.sub(r"[^\w]", "", text.lower())


def _duplicate(kept: list[Word], w: Word, tolerance_ms: int = 300) -> bool:
    """w starts before the last kept word ended (within tolerance) and says what one of the last two said."""
    if w.start_ms >= kept[-1].end_ms - tolerance_ms and w.start_ms >= kept[-1].start_ms + tolerance_ms:
        return False
    return any(_norm(k.text) == _norm(w.text) for k in kept[-2:])
