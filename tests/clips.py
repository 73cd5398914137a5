"""Tiny real media for the tests, generated with the product's own ffmpeg and espeak-ng.

Each function writes one file and returns its path; tests create them once per session.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

from medialib.media.ffmpeg import find_ffmpeg

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

LECTURE_TEXT = (
    "Good morning. Today we discuss investigative interviews. "
    "Ask open questions and let the witness speak. "
    "Listen carefully, and write down what you hear. "
    "At the end, summarise the account and check it with the witness."
)

# Spontaneous-sounding short sentences, each with the pause after it (ms): spoken at 300
# words a minute, a short sentence then has less time before the next one than its
# characters need at 20 chars/s, and a long pause further back to borrow from.
FAST_SPEECH = (
    ("Okay.", 1500),
    ("There's nothing going on.", 420),
    ("We looked everywhere in the building and found nobody at all.", 1700),
    ("Nobody said a single word.", 420),
    ("They all just sat there and waited for someone else to start.", 1700),
    ("Where did you put the keys?", 420),
    ("I have no idea, I thought you had them in your coat pocket.", 1000),
)


def ff(*args: str) -> None:
    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                   check=True, stdin=subprocess.DEVNULL, timeout=300)


def ff_out(path: Path, *args: str) -> Path:
    """Run ffmpeg with `args` writing `path`; returns path."""
    ff(*args, str(path))
    return path


def speech_wav(path: Path, text: str = LECTURE_TEXT, voice: str = "en-us", wpm: int = 150,
               ssml: bool = False) -> Path:
    """Speech from espeak-ng; ssml=True reads `text` as SSML, e.g. <break time="300ms"/> for a pause."""
    if not shutil.which("espeak-ng"):
        raise RuntimeError("espeak-ng is missing: run the tests through `./run test`, which installs it")
    markup = ["-m"] if ssml else []
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), *markup, "-w", str(path), text], check=True, timeout=60)
    return path


def fast_speech_wav(path: Path, sentences: tuple[tuple[str, int], ...] = FAST_SPEECH, wpm: int = 300) -> Path:
    """Fast speech with short pauses (SSML breaks) between the sentences."""
    ssml = "".join(f'{text} <break time="{pause_ms}ms"/> ' for text, pause_ms in sentences)
    return speech_wav(path, f"<speak>{ssml}</speak>", wpm=wpm, ssml=True)


def lecture_clip(path: Path, wav: Path, size: str = "854x480", rate: int = 25, pad_s: float = 1.0) -> Path:
    """Moving test pattern (so the encoder works for real) plus the speech, as H.264/AAC MP4."""
    ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}", "-i", str(wav), "-af", f"apad=pad_dur={pad_s}",
       "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
       str(path))
    return path


def video_only(path: Path, seconds: float = 4, size: str = "640x360", extra: tuple[str, ...] = ()) -> Path:
    ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25", "-t", str(seconds), *extra,
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def with_tone(path: Path, seconds: float = 4, size: str = "640x360", rate: int = 25,
              vextra: tuple[str, ...] = (), oextra: tuple[str, ...] = ()) -> Path:
    ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}", "-f", "lavfi", "-i", "sine=f=440",
       "-t", str(seconds), *vextra, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
       "-c:a", "aac", *oextra, str(path))
    return path


def music(path: Path, seconds: float = 12) -> Path:
    """A chord with tremolo and a melody: music-like, no speech."""
    ff("-f", "lavfi", "-i", f"sine=f=220:d={seconds}", "-f", "lavfi", "-i", f"sine=f=277:d={seconds}",
       "-f", "lavfi", "-i", f"sine=f=330:d={seconds}",
       "-filter_complex", "[0][1][2]amix=inputs=3,tremolo=f=4:d=0.6,volume=0.8", "-ar", "16000", str(path))
    return path


def silence(path: Path, seconds: float = 8) -> Path:
    ff("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds), str(path))
    return path


def audio_only(path: Path, wav: Path) -> Path:
    ff("-i", str(wav), "-c:a", "aac", "-b:a", "64k", str(path))
    return path


def rotated(path: Path, source: Path, degrees: int = 90) -> Path:
    """A phone recording: landscape pixels, a display matrix saying 'turn me'."""
    ff("-display_rotation", str(degrees), "-i", str(source), "-c", "copy", str(path))
    return path


def variable_frame_rate(path: Path, seconds: float = 6) -> Path:
    """Frames dropped irregularly and kept with their original times: a variable-rate stream."""
    ff("-f", "lavfi", "-i", "testsrc2=s=640x360:r=30", "-f", "lavfi", "-i", "sine", "-t", str(seconds),
       "-vf", "select='not(mod(n\\,3))+eq(mod(n\\,7)\\,0)'", "-fps_mode", "vfr",
       "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path))
    return path


def interlaced(path: Path, seconds: float = 2, size: str = "1920x1080", field: str = "tff",
               extra: tuple[str, ...] = ()) -> Path:
    """Camcorder-style interlaced H.264: 50 pictures a second woven into 25 frames, coded as fields."""
    weave = "interleave_top" if field == "tff" else "interleave_bottom"
    ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r=50", "-f", "lavfi", "-i", "sine=f=440", "-t", str(seconds),
       "-vf", f"tinterlace={weave},setfield={field}",  # two moving pictures per frame, one in each field
       "-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ilme+ildct",  # interlaced coding
       "-x264-params", f"{field}=1",  # the field order x264 signals (it ignores the frames' flag)
       "-pix_fmt", "yuv420p", "-c:a", "aac", *extra, str(path))
    return path


def unknown_codec_wav(path: Path) -> Path:
    """A WAV whose format tag (0x1234) no decoder knows."""
    data = b"\0" * 16000
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def truncated(path: Path, source: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
