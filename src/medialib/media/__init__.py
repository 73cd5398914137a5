"""Media: probe a recording, run ffmpeg, encode the HLS ladder, extract speech audio, read renditions back."""

from __future__ import annotations

from .audio import extract_audio
from .ffmpeg import ToolRun, find_ffmpeg, on_tool_run, run_ffmpeg
from .ladder import (
    ladder_args,
    make_poster,
    output_frame_rate,
    plan_ladder,
    transcode_ladder,
)
from .probe import probe_media
from .readback import first_pts_s, keyframe_times, segment_durations
from .records import AudioStream, Ladder, MediaInfo, Rendition, VideoStream
