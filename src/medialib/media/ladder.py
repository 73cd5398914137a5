"""The HLS ladder: which renditions a source gets, and one ffmpeg process that encodes them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from medialib.config import LadderOptions
from medialib.errors import InputError, ToolError
from medialib.media.ffmpeg import Progress, run_ffmpeg
from medialib.media.records import MAX_FPS, Ladder, MediaInfo, Rendition

log = logging.getLogger(__name__)


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def plan_ladder(info: MediaInfo, opts: LadderOptions, *, audio_stream: int = 0, floor_language: str | None = None,
                interpretations: Sequence[tuple[int, str]] = ()) -> Ladder:
    """Rungs from config, none above the source height, even sizes, the source's aspect ratio.

    interpretations: (audio stream, language) of interpreters' channels, each encoded as
    an alternate audio rendition.
    """
    audio = (Rendition(name="audio", kind="audio", audio_bitrate_kbps=opts.audio_bitrate_kbps,
                       audio_stream=audio_stream, language=floor_language) if info.has_audio else None)
    alternates = tuple(Rendition(name=f"interpretation-{lang}", kind="audio", audio_bitrate_kbps=opts.audio_bitrate_kbps,
                                 audio_stream=stream, language=lang, role="interpretation")
                       for stream, lang in interpretations)
    if not info.video:
        return Ladder(video=(), audio=audio, frame_rate=0.0, gop_frames=0, segment_s=opts.segment_s,
                      alternate_audio=alternates)
    v = info.video
    src_w, src_h = v.display_width, v.display_height
    heights = [r for r in opts.rungs if r.height <= src_h]
    if not heights:  # a source smaller than the lowest rung: one rendition at its own size
        lowest = opts.rungs[-1]
        heights = [lowest.model_copy(update={"height": _even(src_h)})]
    renditions = []
    for rung in heights:
        h = _even(rung.height)
        w = _even(rung.height * src_w / src_h)
        renditions.append(Rendition(name=f"{rung.height}p", kind="video", width=w, height=h,
                                    video_bitrate_kbps=rung.video_bitrate_kbps))
    fps = output_frame_rate(v.frame_rate)
    return Ladder(video=tuple(renditions), audio=audio, frame_rate=fps,
                  gop_frames=max(1, int(round(fps * opts.gop_s))), segment_s=opts.segment_s, alternate_audio=alternates)


def output_frame_rate(source_fps: float) -> float:
    """Constant output rate: the source's, halved while above MAX_FPS (60 -> 30, 50 -> 25)."""
    fps = source_fps if 1 <= source_fps <= 240 else 25.0
    while fps > MAX_FPS + 0.01:
        fps /= 2
    return round(fps, 3)


def deinterlace_filter(info: MediaInfo) -> str:
    """"bwdif=...," for interlaced video (first in a chain: before any scale or fps), "" for progressive.

    Scaling an interlaced frame blends its two fields, shot half a frame apart: every moving
    edge then shows combing in every rung, which no later filter can undo. bwdif: ffmpeg's
    motion-adaptive deinterlacer (yadif's successor, with w3fdif's interpolation).
    mode=send_frame gives one frame per frame, so 1080i50 becomes 25p, not 50p: the field
    rate would be halved again by MAX_FPS anyway, and doubling frames only to drop them
    costs CPU. parity: the field order found by probing (auto, i.e. each frame's own flag,
    when the stream does not say). deint=interlaced: only frames flagged interlaced, so
    progressive frames in a mixed stream (25PsF camcorder modes, film in 1080i) keep
    their full vertical detail.
    """
    v = info.video
    if v is None or not v.interlaced:
        return ""
    parity = v.field_order if v.field_order in ("tff", "bff") else "auto"
    return f"bwdif=mode=send_frame:parity={parity}:deint=interlaced,"


# Lecture tuning for x264, on top of the preset (bench/ladder.py: ~20% less CPU than plain
# veryfast, PSNR per rung within +-0.5 dB of it): slides barely move, so a diamond motion
# search (me=dia) and SAD-only subpixel refinement (subme=1) find the same vectors as
# hex/subme 2; a fixed B-frame pattern (b-adapt=0) skips the lookahead's B-frame decision,
# which buys nothing on static slides. At veryfast, mbtree and the 10-frame lookahead stay:
# they give static slides their quality.
X264_TUNING = "me=dia:subme=1:b-adapt=0"


def encoder_threads(ladder: Ladder, cores: int | None = None) -> list[int]:
    """x264 threads per rung: the machine's cores shared by pixel count.

    One ffmpeg runs every rung's encoder at once, so x264's own default (1.5 threads per
    core, each) oversubscribes the machine n times over; each extra frame thread costs
    CPU (and a frame's memory) without adding throughput there. Sharing 1.5 x cores by
    the rungs' sizes keeps every core busy and the biggest rung off the critical path.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    pixels = [r.width * r.height for r in ladder.video]
    total = sum(pixels) or 1
    return [max(1, round(1.5 * cores * p / total)) for p in pixels]


def ladder_args(source: Path, info: MediaInfo, ladder: Ladder, opts: LadderOptions, out_dir: Path) -> list[str]:
    """The ffmpeg argv (without the binary) that writes every rendition as fMP4 HLS under out_dir/<name>/."""
    args = ["-i", str(source)]
    var_map = []
    n = len(ladder.video)
    if n:
        # Cascade: each rung scales from the one above rather than from the source; one
        # decode, and cheaper than n full-size scalers for 1080p and 4K sources. zimg's lanczos
        # (zscale) rather than swscale: about a third of swscale's CPU for the whole cascade,
        # and sharper (slide text in the small rungs stays crisp after two resamplings).
        # Chroma is sited at the centre on both sides, as swscale does, so colours do not
        # shift by a fraction of a pixel against a direct scale. A rung the source's size
        # is not scaled at all. Measured in bench/ladder.py.
        graph, prev = [], f"[0:v:0]{deinterlace_filter(info)}fps={ladder.frame_rate},setsar=1"
        size = (info.video.display_width, info.video.display_height)
        for i, r in enumerate(ladder.video):
            if size == (r.width, r.height):
                scale = ""
            elif size[0] % 2 or size[1] % 2:
                # zimg refuses 4:2:0 pictures of odd size; swscale's lanczos does that step.
                scale = f",scale={r.width}:{r.height}:flags=lanczos,setsar=1"
            else:
                scale = f",zscale=w={r.width}:h={r.height}:filter=lanczos:chromal=center:chromalin=center,setsar=1"
            size = (r.width, r.height)
            last = i == n - 1
            graph.append(f"{prev}{scale}[v{i}]" if last else f"{prev}{scale},split=2[v{i}][c{i}]")
            prev = f"[c{i}]null"
        args += ["-filter_complex", ";".join(graph)]
        gop = str(ladder.gop_frames)
        threads = encoder_threads(ladder)
        for i, r in enumerate(ladder.video):
            args += ["-map", f"[v{i}]",
                     f"-c:v:{i}", "libx264",
                     # The top rung at the configured preset, the smaller ones at lower_preset:
                     # they carry a sharper picture than a direct scale gives, so a lighter
                     # encode still beats the reference there (bench/ladder.py).
                     f"-preset:v:{i}", opts.preset if i == 0 else opts.lower_preset,
                     f"-x264-params:v:{i}", f"{X264_TUNING}:threads={threads[i]}",
                     f"-b:v:{i}", f"{r.video_bitrate_kbps}k",
                     f"-maxrate:v:{i}", f"{int(r.video_bitrate_kbps * 1.5)}k",  # capped VBR: ABR needs honest peaks
                     f"-bufsize:v:{i}", f"{r.video_bitrate_kbps * 2}k"]
            var_map.append(f"v:{i},agroup:aud,name:{r.name}" if ladder.audio else f"v:{i},name:{r.name}")
        args += ["-profile:v", "high", "-pix_fmt", "yuv420p",  # 8-bit 4:2:0: what every browser decodes
                 "-g", gop, "-keyint_min", gop,                 # fixed GOP, identical in every rendition
                 "-sc_threshold", "0",                          # no extra keyframes on scene cuts
                 "-force_key_frames", f"expr:gte(t,n_forced*{opts.gop_s})",
                 "-fps_mode", "cfr"]                            # variable-rate sources come out constant
    for j, a in enumerate(ladder.audio_renditions):
        args += ["-map", f"0:a:{a.audio_stream}", f"-c:a:{j}", "aac", f"-b:a:{j}", f"{a.audio_bitrate_kbps}k",
                 f"-ac:a:{j}", "2",                             # stereo: multichannel AAC breaks some browsers
                 f"-ar:a:{j}", str(opts.audio_sample_rate)]
        entry = f"a:{j},agroup:aud,name:{a.name}" if n or ladder.alternate_audio else f"a:{j},name:{a.name}"
        if a.language:
            entry += f",language:{a.language}"
        var_map.append(entry + (",default:yes" if j == 0 and (n or ladder.alternate_audio) else ""))
    args += ["-f", "hls",
             "-hls_time", str(opts.segment_s),
             "-hls_playlist_type", "vod",
             "-hls_segment_type", "fmp4",
             "-hls_flags", "independent_segments",
             "-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.m4s"),
             "-master_pl_name", "ffmpeg-master.m3u8",       # only read for BANDWIDTH/CODECS; ours replaces it
             "-var_stream_map", " ".join(var_map),
             str(out_dir / "%v" / "index.m3u8")]
    return args


def transcode_ladder(source: Path, info: MediaInfo, opts: LadderOptions, out_dir: Path, *,
                     audio_stream: int = 0, floor_language: str | None = None,
                     interpretations: Sequence[tuple[int, str]] = (), progress: Progress | None = None) -> Ladder:
    """Encode the whole ladder into out_dir (written to a temp folder, moved into place when complete)."""
    for stream, _ in ((audio_stream, None), *interpretations):
        if info.has_audio and stream >= len(info.audio):
            raise InputError(f"{info.name}: audio stream {stream} does not exist "
                             f"(the recording has {len(info.audio)}); pick 0..{len(info.audio) - 1}")
    ladder = plan_ladder(info, opts, audio_stream=audio_stream, floor_language=floor_language,
                         interpretations=interpretations)
    with building(out_dir, ".ladder-") as tmp:
        for r in ladder.renditions:
            (tmp / r.name).mkdir(parents=True, exist_ok=True)
        run_ffmpeg(ladder_args(source, info, ladder, opts, tmp), what=f"{info.name}: HLS ladder",
                   duration_s=info.duration_s, progress=progress, timeout_s=opts.timeout_s)
    return ladder


@contextlib.contextmanager
def building(out_dir: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder beside out_dir that replaces it when the block succeeds (readers never see half)."""
    out_dir = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def make_poster(source: Path, info: MediaInfo, out_path: Path, height: int = 720) -> Path | None:
    """A JPEG still from 10% into the video (capped at 30 s); None for audio-only recordings."""
    if not info.has_video:
        return None
    out_path = Path(out_path)
    out_path.unlink(missing_ok=True)
    at = min(30.0, info.duration_s * 0.1)
    h = min(height, info.video.display_height)
    picture = ["-frames:v", "1", "-vf", f"{deinterlace_filter(info)}scale=-2:{_even(h)}", "-q:v", "3",
               "-update", "1",  # one image, not a numbered sequence (the image2 muxer warns otherwise)
               str(out_path)]
    what = f"{info.name}: poster"
    try:
        # -ss before -i: seek in the input and decode only from there. Exact where the container
        # indexes keyframes (MP4, MOV, MKV, AVI); in MPEG-TS the picture comes from the first
        # keyframe after the seek point, close enough for a poster.
        run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(source), *picture], what=what, timeout_s=120)
    except ToolError as e:
        log.info("%s; decoding from the start instead", e)
    if not _written(out_path):
        # Containers without a keyframe index (MPEG-TS/M2TS from camcorders and OBS, some
        # AVI and MKV) seek to a byte position, not a keyframe: the decoder then drops every
        # frame until the next keyframe, and when none follows before the end (a short clip,
        # a long GOP) no picture reaches the encoder. ffmpeg 9 then opens the mjpeg encoder
        # without a frame's colour range and fails with a misleading "Non full-range YUV is
        # non-standard" (exit 234). Forcing full range (format=yuvj420p, -strict unofficial)
        # only hides that: ffmpeg then exits 0 and writes no file. -ss after -i
        # decodes from the start and drops frames before `at`: exact, at the cost of decoding
        # at most 30 s. (When a frame does arrive, ffmpeg converts limited-range video to the
        # full range JPEG uses by itself; tests/media checks the black level.)
        run_ffmpeg(["-i", str(source), "-ss", f"{at:.3f}", *picture], what=what, timeout_s=300)
    if not _written(out_path):
        raise ToolError(f"{what}: ffmpeg wrote no picture; the video stream may be damaged after {at:.1f} s",
                        [])
    return out_path


def _written(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0
