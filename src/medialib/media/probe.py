"""Probing a recording with PyAV: streams, duration, codecs, and a specific error for each way a file can be unusable.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from medialib.errors import InputError
from medialib.media.records import AudioStream, MediaInfo, VideoStream


def probe_media(path: Path) -> MediaInfo:
    """Streams, duration, codecs, size, rotation and frame rate; InputError for anything unusable."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{name}: the file is empty (0 bytes); upload the recording again")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise InputError(_unreadable_message(path)) from None
    except av.error.FFmpegError as e:
        raise InputError(f"{name}: cannot be read ({e.strerror or e}); upload the recording again") from None
    with container:
        video = _probe_video(container, name)
        for s in container.streams.audio:
            if not _decodable(s):
                raise InputError(f"{name}: audio stream {s.index} uses a codec ffmpeg cannot decode; "
                                 "re-export the recording as MP4 (H.264/AAC) or PCM WAV")
        audio = tuple(
            AudioStream(index=i, codec=s.codec_context.name, channels=s.codec_context.channels or 0,
                        sample_rate=s.codec_context.sample_rate or 0, language=_language(s))
            for i, s in enumerate(container.streams.audio)
        )
        duration = _duration(container)
        fmt = container.format.name
        if video is None and not audio:
            raise InputError(f"{name}: no audio or video stream; upload a recording with sound or picture")
        if duration <= 0:
            raise InputError(f"{name}: the recording has no measurable duration; it may be truncated, upload it again")
        info = MediaInfo(name=name, size_bytes=size, duration_s=duration, container=fmt, video=video, audio=audio)
        _check_complete(container, info)
    return info


def _unreadable_message(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(12)
    if head[4:8] == b"ftyp":  # an MP4/MOV whose index (moov atom, written last) never got written
        return (f"{path.name}: the MP4 file is truncated or damaged (no moov atom); "
                "upload the complete recording, or repair it with the camera's or editor's recovery tool")
    return (f"{path.name}: not a media file ffmpeg can read; "
            "upload a video or audio recording (MP4, MOV, MKV, WebM, MP3, WAV...)")


def _probe_video(container, name: str) -> VideoStream | None:
    # Cover art in audio files shows up as a one-frame video stream: not a picture track.
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        return None
    s = streams[0]
    cc = s.codec_context
    if not _decodable(s):
        raise InputError(f"{name}: the video stream uses a codec ffmpeg cannot decode; "
                         "re-export the recording as MP4 (H.264/AAC)")
    rotation = 0
    try:
        container.seek(0)
        frame = next(container.decode(s))
        rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
        field_order = _field_order(cc.field_order, frame.interlaced_frame)
        container.seek(0)
    except (StopIteration, av.error.FFmpegError):
        raise InputError(f"{name}: the video stream has no decodable picture; it may be truncated, "
                         "upload the complete recording") from None
    avg = s.average_rate or s.guessed_rate or s.base_rate or Fraction(25)
    base = s.base_rate or avg
    fps = float(avg)
    vfr = abs(float(base) - fps) > 0.01 * max(fps, 1)
    return VideoStream(index=s.index, codec=cc.name, width=cc.width, height=cc.height, rotation_deg=rotation,
                       frame_rate=fps, variable_frame_rate=vfr, field_order=field_order)


# AVFieldOrder: which field is coded first and which is shown first ("tb": top coded, bottom shown first).
_FIELD_SHOWN_FIRST = {2: "tff", 3: "bff", 4: "bff", 5: "tff"}  # TT, BB, TB, BT; 0 unknown, 1 progressive


def _field_order(codec_field_order: int, first_frame_interlaced: bool) -> str:
    """"tff"/"bff" from the stream's field order; "interlaced" when only the frames say so."""
    order = _FIELD_SHOWN_FIRST.get(int(codec_field_order or 0))
    if order:
        return order
    return "interlaced" if first_frame_interlaced else "progressive"


def _decodable(stream) -> bool:
    try:
        return stream.codec_context is not None and stream.codec_context.codec is not None
    except (AttributeError, av.error.FFmpegError):
        return False


def _language(stream) -> str | None:
    lang = (stream.metadata or {}).get("language")
    return None if lang in (None, "", "und") else lang


def _duration(container) -> float:
    if container.duration:
        return container.duration / av.time_base
    best = 0.0
    for s in container.streams:
        if s.duration and s.time_base:
            best = max(best, float(s.duration * s.time_base))
    return best


def _check_complete(container, info: MediaInfo) -> None:
    """Catch files cut short after their index (MP4 with the moov atom first): samples past EOF."""
    end = 0
    for stream in container.streams:
        entries = stream.index_entries
        if len(entries):
            last = entries[len(entries) - 1]
            end = max(end, last.pos + last.size)
    if end > info.size_bytes:
        raise InputError(f"{info.name}: the file is truncated ({info.size_bytes} of {end} bytes); "
                         "upload the complete recording")
