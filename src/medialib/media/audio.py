"""Speech audio for Whisper: one stream as 16 kHz mono 16-bit samples, stored as FLAC, read as WAV.

FLAC is lossless: decoded, it gives back the very samples a WAV would hold, so
transcription and peaks are unchanged, at about half the bytes (speech at 16 kHz
compresses 2-3x). Whisper memory-maps a PCM WAV (no copy of an hour of samples in
memory), so readers decode the FLAC to a temporary WAV first (pcm_wav; ~1000x realtime).
"""

from __future__ import annotations

import os
from pathlib import Path

from medialib.errors import InputError
from medialib.media.ffmpeg import Progress, run_ffmpeg
from medialib.media.records import MediaInfo


def _codec_args(path: Path) -> list[str]:
    """FLAC for a .flac name, else 16-bit PCM WAV."""
    if path.suffix.lower() == ".flac":
        return ["-c:a", "flac", "-sample_fmt", "s16", "-f", "flac"]
    return ["-c:a", "pcm_s16le", "-f", "wav"]


def extract_audio(source: Path, info: MediaInfo, out_path: Path, *, audio_stream: int = 0,
                  progress: Progress | None = None, timeout_s: float = 3600) -> Path:
    """16 kHz mono 16-bit samples of one audio stream: FLAC when out_path ends in .flac, else WAV (~200x realtime)."""
    if not info.has_audio:
        raise InputError(f"{info.name}: no audio stream to transcribe")
    if audio_stream >= len(info.audio):
        raise InputError(f"{info.name}: audio stream {audio_stream} does not exist "
                         f"(the recording has {len(info.audio)}); pick 0..{len(info.audio) - 1}")
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.part")
    run_ffmpeg(["-i", str(source), "-map", f"0:a:{audio_stream}", "-vn", "-ac", "1", "-ar", "16000",
                *_codec_args(out_path), str(tmp)],
               what=f"{info.name}: audio extraction", duration_s=info.duration_s, progress=progress,
               timeout_s=timeout_s)
    os.replace(tmp, out_path)
    return out_path


def pcm_wav(path: Path, out_path: Path, *, timeout_s: float = 3600) -> Path:
    """The samples of a FLAC (or any audio file) as 16-bit PCM WAV at out_path, for readers that map WAV."""
    path, out_path = Path(path), Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.part")
    run_ffmpeg(["-i", str(path), "-vn", "-c:a", "pcm_s16le", "-f", "wav", str(tmp)],
               what=f"{path.name}: decoding to WAV", timeout_s=timeout_s)
    os.replace(tmp, out_path)
    return out_path
