"""Media: probe a recording, run ffmpeg, encode the HLS ladder, extract speech audio, read renditions back."""

from __future__ import annotations

from .records import (
    AudioStream as AudioStream,
    Ladder as Ladder,
    MediaInfo as MediaInfo,
    Rendition as Rendition,
    VideoStream as VideoStream,
)
from .ffmpeg import ToolRun as ToolRun, find_ffmpeg as find_ffmpeg, on_tool_run as on_tool_run, run_ffmpeg as run_ffmpeg
from .probe import probe_media as probe_media
from .ladder import (
    deinterlace_filter as deinterlace_filter,
    ladder_args as ladder_args,
    make_poster as make_poster,
    output_frame_rate as output_frame_rate,
    plan_ladder as plan_ladder,
    transcode_ladder as transcode_ladder,
)
from .audio import extract_audio as extract_audio, pcm_wav as pcm_wav
from .peaks import Peaks as Peaks, compute_peaks as compute_peaks
from .readback import (
    first_pts_s as first_pts_s,
    keyframe_times as keyframe_times,
    segment_durations as segment_durations,
)
