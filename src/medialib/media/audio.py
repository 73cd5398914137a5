"""Speech audio for Whisper: one stream as 16 kHz mono WAV.
"""

from __future__ import annotations

import os
from pathlib import Path

from medialib.errors import InputError
from medialib.media.ffmpeg import Progress, run_ffmpeg
from medialib.media.records import MediaInfo


def extract_audio(source: Path, info: MediaInfo, out_path: Path, *, audio_stream: int = 0,
                  progress: Progress | None = None, timeout_s: float = 3600) -> Path:
    """16 kHz mono 16-bit WAV of one audio stream: what Whisper reads (~200x realtime)."""
    if not info.has_audio:
        raise InputError(f"{info.name}: no audio stream to transcribe")
    if audio_stream >= len(info.audio):
        raise InputError(f"{info.name}: audio stream {audio_stream} does not exist "
                         f"(the recording has {len(info.audio)}); pick 0..{len(info.audio) - 1}")
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.part")
    run_ffmpeg(["-i", str(source), "-map", f"0:a:{audio_stream}", "-vn", "-ac", "1", "-ar", "16000",
                "-c:a", "pcm_s16le", "-f", "wav", str(tmp)],
               what=f"{info.name}: audio extraction", duration_s=info.duration_s, progress=progress,
               timeout_s=timeout_s)
    os.replace(tmp, out_path)
    return out_path
