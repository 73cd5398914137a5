"""Transcription stage vs plain faster-whisper with its defaults, same model, same audio.

    .venv/bin/python bench/transcription.py [--rounds 2]

Audio: the bench lecture's paragraphs spoken by espeak-ng with pauses between them
(about 3.5 minutes). Baseline: `model.transcribe(audio)` with every default (beam 5, no
VAD, no word timestamps), the generator consumed. Ours: `medialib.speech.transcribe_audio`
with the default settings (greedy, VAD, word timestamps, guards). The same loaded model
serves both; runs alternate A, B, A, B and the median wall time is reported.
Prints speed ratio and WER (jiwer, lower-cased, punctuation removed) of both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import OUT, PARAGRAPHS, ffmpeg  # noqa: E402

NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
                      jiwer.ReduceToListOfListOfWords()])


def make_audio(passes: int) -> tuple[Path, str]:
    """16 kHz mono WAV of the paragraphs (`passes` times over), with 1.5 s pauses, and its text."""
    out = OUT / f"speech-{passes}x.wav"
    text = " ".join(PARAGRAPHS * passes)
    if out.exists():
        return out, text
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parts = []
        for i, p in enumerate(PARAGRAPHS * passes):
            w = tmp / f"p{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(w), p], check=True)
            parts.append(w)
        pause = tmp / "pause.wav"
        subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1.5",
                        str(pause)], check=True)
        lst = tmp / "list.txt"
        lst.write_text("".join(f"file '{w}'\nfile '{pause}'\n" for w in parts))
        subprocess.run([ffmpeg(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(lst), "-ac", "1",
                        "-ar", "16000", "-c:a", "pcm_s16le", str(out)], check=True)
    return out, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--passes", type=int, default=2, help="times the six paragraphs are spoken (2: ~3.5 min)")
    a = ap.parse_args()
    from faster_whisper import decode_audio

    from medialib.config import load_settings
    from medialib.speech.whisper import load_model, transcribe_audio

    wav, reference = make_audio(a.passes)
    opts = load_settings().speech
    model = load_model(opts.model, opts.device, opts.compute_type, opts.cpu_threads)
    audio = decode_audio(str(wav), sampling_rate=16000)
    minutes = len(audio) / 16000 / 60

    def baseline() -> str:
        segments, _ = model.transcribe(audio)
        return " ".join(s.text for s in segments)

    def ours() -> str:
        return " ".join(w.text for w in transcribe_audio(wav, opts).words)

    times = {"baseline": [], "ours": []}
    texts = {}
    for _ in range(a.rounds):
        for name, fn in (("baseline", baseline), ("ours", ours)):
            t0 = time.monotonic()
            texts[name] = fn()
            times[name].append(time.monotonic() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    wer = {k: jiwer.wer(reference, texts[k], reference_transform=NORM, hypothesis_transform=NORM) for k in texts}
    print(f"audio: {minutes:.1f} min of English lecture speech; runs per side: {a.rounds}")
    for k in ("baseline", "ours"):
        print(f"{k:<9} median {med[k]:6.1f} s ({minutes * 60 / med[k]:.1f}x realtime), WER {wer[k]:.1%}, "
              f"runs {', '.join(f'{t:.1f}' for t in times[k])}")
    print(f"transcribe: ours {med['ours']:.1f} s, baseline {med['baseline']:.1f} s, speed ratio "
          f"{med['baseline'] / med['ours']:.2f}x (target >= 2x); WER ours {wer['ours']:.1%}, baseline "
          f"{wer['baseline']:.1%} (target <= +1 pt)")


if __name__ == "__main__":
    main()
