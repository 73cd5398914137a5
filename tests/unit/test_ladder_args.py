"""The ladder's ffmpeg command: who scales, which preset and how many threads each rung gets."""

from __future__ import annotations

from pathlib import Path

from medialib.config import load_settings
from medialib.media.ladder import encoder_threads, ladder_args, plan_ladder
from medialib.media.records import AudioStream, MediaInfo, VideoStream


def source(width: int, height: int) -> MediaInfo:
    return MediaInfo(name="talk.mp4", size_bytes=1, duration_s=60, container="mp4",
                     video=VideoStream(0, "h264", width, height, 0, 25.0, False),
                     audio=(AudioStream(0, "aac", 2, 48000, None),))


def test_threads_share_the_cores_by_pixels():
    ladder = plan_ladder(source(1920, 1080), load_settings().ladder)
    assert [r.height for r in ladder.video] == [1080, 720, 480, 360]
    assert encoder_threads(ladder, cores=2) == [2, 1, 1, 1]   # x264's default would be 3 each
    assert encoder_threads(ladder, cores=16) == [14, 6, 3, 2]


def test_top_rung_at_the_preset_smaller_rungs_lighter_and_zimg_scales():
    opts = load_settings().ladder
    info = source(1920, 1080)
    args = ladder_args(Path("talk.mp4"), info, plan_ladder(info, opts), opts, Path("out"))
    graph = args[args.index("-filter_complex") + 1]
    assert "zscale=w=1280:h=720:filter=lanczos" in graph and "scale=1920" not in graph   # the top rung is not scaled
    assert args[args.index("-preset:v:0") + 1] == opts.preset
    assert {args[args.index(f"-preset:v:{i}") + 1] for i in (1, 2, 3)} == {opts.lower_preset}


def test_odd_sized_source_is_scaled_by_swscale_first():
    opts = load_settings().ladder
    info = source(641, 361)
    args = ladder_args(Path("w.webm"), info, plan_ladder(info, opts), opts, Path("out"))
    graph = args[args.index("-filter_complex") + 1]
    assert graph.split(";")[0].endswith("scale=640:360:flags=lanczos,setsar=1[v0]")
