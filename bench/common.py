"""Shared helpers for the benchmarks: fixture media, fair interleaved timing, small tables.

Fixtures are generated once into bench/out/ (git-ignored) and reused by later runs.
Timing is interleaved (A, B, A, B, ...) in one process and reported as the median, so
load from other work on the machine falls on both sides about equally.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medialib.media.ffmpeg import find_ffmpeg

OUT = Path(__file__).resolve().parent / "out"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# The benchmark lecture (a police-training session), one string per paragraph. Plain words a
# lecturer would say, one spelling convention, no numerals, so that the reference and
# Whisper's output compare word for word after normalisation.
LECTURE_PARAGRAPHS = (
    "Good morning, everyone, and welcome to the second day of the course on investigative interviewing. "
    "Yesterday we looked at the legal framework and at the rights of the person being interviewed. "
    "Today we turn to the practical side: how to plan an interview, how to open it, and how to listen.",

    "Let us begin with planning. Before you meet a witness, read the file carefully. "
    "Write down what you already know, what you need to find out, and which parts of the account "
    "may be difficult for the witness to talk about. A good plan is short, and it leaves room for surprises.",

    "The opening of the interview matters more than most officers think. Introduce yourself, "
    "explain the purpose of the conversation, and tell the witness how long it is likely to take. "
    "Offer water, and make sure the room is quiet. A calm witness remembers more, and remembers it more accurately.",

    "Now, the most important skill of all is asking open questions. An open question invites the witness "
    "to describe events in their own words. For example, tell me everything you saw from the moment you "
    "arrived at the station. A closed question, such as was the car red, gives you one word and may "
    "suggest an answer that the witness never had in mind.",

    "When the witness is speaking, do not interrupt. Silence is a powerful tool. Many officers feel the "
    "need to fill every pause, but a pause often means the witness is searching their memory. "
    "Wait, nod, and let them continue. You will be surprised by how much detail arrives after a few seconds of quiet.",

    "Take notes, but keep your eyes on the person in front of you. Write down names, times and places, "
    "and mark anything you want to come back to later. If the interview is recorded, your notes are still "
    "useful, because they help you structure the questions that follow.",

    "After the free account, move to probing questions. Go through the account topic by topic: the people, "
    "the places, the sequence of actions, and any objects that were involved. Ask about one topic at a time, "
    "and summarize each one before you move on, so the witness can correct any mistakes.",

    "Be careful with leading questions. A question that contains the answer you expect can change what the "
    "witness remembers. This is not a theory; it has been shown many times in research on memory. "
    "If you must check a detail, ask it in a neutral way and record exactly how you asked it.",

    "Finally, close the interview properly. Summarize the whole account, check it with the witness, and "
    "thank them for their time. Explain what happens next, and give them a way to contact you if they "
    "remember anything else. Many important details come back to people a day or two later.",

    "That is all for this session. After the break we will practice these steps in pairs, using the case "
    "studies in your handbook. Please read the first case before we meet again at half past eleven.",
)

LECTURE_TEXT = " ".join(LECTURE_PARAGRAPHS)


# ---------------------------------------------------------------- running tools


def ff(*args: str, timeout_s: float = 1800) -> None:
    """Run the product's ffmpeg quietly; raise with the stderr tail on failure."""
    argv = [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
    if p.returncode:
        raise RuntimeError(f"ffmpeg failed ({p.returncode}): {' '.join(argv)}\n{p.stderr[-3000:]}")


def ff_stderr(*args: str, timeout_s: float = 1800) -> str:
    """Run ffmpeg at info log level and return its stderr (filters such as ssim/psnr report there)."""
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-y", *args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
    if p.returncode:
        raise RuntimeError(f"ffmpeg failed ({p.returncode}): {' '.join(argv)}\n{p.stderr[-3000:]}")
    return p.stderr


# ---------------------------------------------------------------- timing


@dataclass
class Sample:
    wall_s: float
    cpu_s: float  # this process plus its finished children (ffmpeg), user + system


def _cpu_now() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object]) -> tuple[Sample, object]:
    cpu0, t0 = _cpu_now(), time.perf_counter()
    result = fn()
    return Sample(time.perf_counter() - t0, _cpu_now() - cpu0), result


@dataclass
class Runs:
    name: str
    samples: list[Sample] = field(default_factory=list)
    results: list[object] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(s.wall_s for s in self.samples)

    @property
    def cpu_s(self) -> float:
        return statistics.median(s.cpu_s for s in self.samples)


def interleave(variants: dict[str, Callable[[], object]], rounds: int, *, log=print) -> dict[str, Runs]:
    """Run every variant once per round, alternating the order each round (A,B then B,A) to spread drift."""
    runs = {name: Runs(name) for name in variants}
    names = list(variants)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            sample, result = timed(variants[name])
            runs[name].samples.append(sample)
            runs[name].results.append(result)
            log(f"  round {r + 1}/{rounds} {name:<12} wall {sample.wall_s:7.2f} s   cpu {sample.cpu_s:7.2f} s")
    return runs


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


# ---------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------- fixture media


def speech_paragraphs(paragraphs: Sequence[str], out: Path, *, wpm: int = 150, gaps_s: Sequence[float] = (1.5,),
                      voice: str = "en-us") -> Path:
    """One WAV (16 kHz mono) of every paragraph spoken by espeak-ng, with silences between them."""
    if out.exists():
        return out
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: install it (apt-get install espeak-ng) or run through ./run")
    parts = out.parent / f".{out.stem}-parts"
    fresh_dir(parts)
    inputs, labels = [], []
    for i, text in enumerate(paragraphs):
        wav = parts / f"p{i:02d}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text], check=True, timeout=120,
                       stdin=subprocess.DEVNULL)
        inputs += ["-i", str(wav)]
        labels.append(f"[{len(labels)}:a]")
    # Each paragraph gets a trailing pause (apad) before the next one starts: a lecturer's breath.
    graph = [f"{lab}aresample=16000,aformat=channel_layouts=mono,apad=pad_dur={gaps_s[i % len(gaps_s)]}[p{i}]"
             for i, lab in enumerate(labels)]
    graph.append("".join(f"[p{i}]" for i in range(len(labels))) + f"concat=n={len(labels)}:v=0:a=1[out]")
    tmp = out.with_name(f".{out.name}.part.wav")
    ff(*inputs, "-filter_complex", ";".join(graph), "-map", "[out]", "-ar", "16000", "-ac", "1",
       "-c:a", "pcm_s16le", str(tmp))
    tmp.replace(out)
    shutil.rmtree(parts)
    return out


def wav_duration_s(path: Path) -> float:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def lecture_video(out: Path, seconds: float, *, fps: int = 25) -> Path:
    """A 1080p H.264/AAC lecture: static slides whose text changes every 9.7 s, a moving
    480x270 picture-in-picture (the talking head) in a corner, and the lecture speech.

    Encoded once at CRF 20 (good quality, as a camera or screen recorder would deliver) and
    cached: a later run asking for the same length reuses it.
    """
    if out.exists():
        return out
    wav = speech_paragraphs(LECTURE_PARAGRAPHS, OUT / "lecture.wav", gaps_s=(1.5, 1.0, 2.0))
    slides_dir = fresh_dir(out.parent / f".{out.stem}-slides")
    # 9.7 s, not 10: slide changes then fall between the 2 s keyframes, inside P/B frames,
    # as a lecturer's clicks do.
    slide_s = 9.7
    n_slides = max(1, int(-(-seconds // slide_s)))
    graph = [f"color=c=0xF2F1EC:s=1920x1080:r={fps}:d={seconds},"
             "drawbox=x=0:y=0:w=iw:h=150:color=0x1F3A5F:t=fill,"
             "drawbox=x=100:y=1000:w=1720:h=4:color=0x1F3A5F:t=fill"]
    for i in range(n_slides):
        para = LECTURE_PARAGRAPHS[i % len(LECTURE_PARAGRAPHS)]
        sentences = [s.strip() for s in para.replace("?", ".").split(".") if s.strip()]
        title = slides_dir / f"title{i}.txt"
        body = slides_dir / f"body{i}.txt"
        title.write_text(f"Investigative interviewing - part {i + 1}")
        body.write_text("\n\n".join("- " + _wrap(s, 52) for s in sentences[:4]))
        on = f"enable='gte(t,{i * slide_s:.2f})*lt(t,{(i + 1) * slide_s:.2f})'"
        graph.append(f"drawtext=fontfile={FONT}:textfile={title}:fontsize=64:fontcolor=white:x=100:y=42:{on}")
        graph.append(f"drawtext=fontfile={FONT}:textfile={body}:fontsize=44:line_spacing=14:fontcolor=0x222222:"
                     f"x=100:y=220:{on}")
        graph.append(f"drawtext=fontfile={FONT}:text='{i + 1} / {n_slides}':fontsize=32:fontcolor=0x555555:"
                     f"x=w-tw-100:y=1020:{on}")
    slides = ",".join(graph) + "[slides]"
    # Camera-like picture-in-picture: motion everywhere and temporal sensor noise, the part
    # of a lecture recording that costs the encoder most.
    pip = f"testsrc2=s=480x270:r={fps}:d={seconds},noise=alls=8:allf=t+u[pip]"
    tmp = out.with_name(f".{out.name}.part.mp4")
    ff("-filter_complex", f"{slides};{pip};[slides][pip]overlay=x=W-w-60:y=H-h-120[v]",
       "-stream_loop", "-1", "-i", str(wav),
       "-map", "[v]", "-map", "0:a", "-t", str(seconds),
       "-c:v", "libx264", "-preset", "fast", "-crf", "20", "-pix_fmt", "yuv420p", "-profile:v", "high",
       "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000", "-movflags", "+faststart", str(tmp))
    tmp.replace(out)
    shutil.rmtree(slides_dir)
    return out


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n  ".join(textwrap.wrap(text, width))
