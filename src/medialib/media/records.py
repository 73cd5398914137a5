"""Records of a source recording and its HLS ladder (what probing finds, what encoding makes).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FPS = 30.0  # lectures gain nothing from 50/60 fps; halves encode time for such sources


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int            # coded size
    height: int
    rotation_deg: int     # display rotation; 90/270 swap the displayed width and height
    frame_rate: float     # average frame rate (frames, not fields, for interlaced video)
    variable_frame_rate: bool
    # "progressive"; or interlaced with the field shown first: "tff" (top), "bff" (bottom),
    # "interlaced" (frames say they are interlaced, the stream does not say which field leads)
    field_order: str = "progressive"

    @property
    def interlaced(self) -> bool:
        return self.field_order != "progressive"

    @property
    def display_width(self) -> int:
        return self.height if self.rotation_deg % 180 else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation_deg % 180 else self.height


@dataclass(frozen=True)
class AudioStream:
    index: int            # index among audio streams (0 = first audio stream)
    codec: str
    channels: int
    sample_rate: int
    language: str | None


@dataclass(frozen=True)
class MediaInfo:
    name: str             # file name, for messages
    size_bytes: int
    duration_s: float
    container: str
    video: VideoStream | None
    audio: tuple[AudioStream, ...]

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)


@dataclass(frozen=True)
class Rendition:
    """One encoded variant of the lecture."""

    name: str                   # "720p", "audio"
    kind: str                   # "video" | "audio"
    width: int = 0
    height: int = 0
    video_bitrate_kbps: int = 0
    audio_bitrate_kbps: int = 0
    audio_stream: int = 0           # audio: which stream of the recording it encodes
    language: str | None = None     # audio: its language, when known
    role: str = "floor"             # audio: "floor" or "interpretation"


@dataclass(frozen=True)
class Ladder:
    """The renditions planned for one source, highest first, plus the shared audio."""

    video: tuple[Rendition, ...]
    audio: Rendition | None
    frame_rate: float
    gop_frames: int
    segment_s: float
    alternate_audio: tuple[Rendition, ...] = ()   # interpreters' channels, offered beside the floor audio

    @property
    def audio_renditions(self) -> tuple[Rendition, ...]:
        return ((self.audio,) if self.audio else ()) + self.alternate_audio

    @property
    def renditions(self) -> tuple[Rendition, ...]:
        return self.video + self.audio_renditions
