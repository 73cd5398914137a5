"""Probe, validate and transcode recordings with ffmpeg.

Probing uses PyAV (no ffprobe needed, ~0.05 s a file). Transcoding runs one ffmpeg
process for the whole ladder: one decode, a split filter, every rendition encoded with
the same fixed GOP so segments start on a keyframe at the same time in every rendition.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av

from .config import LadderOptions
from .errors import InputError, ToolError

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction done, 0..1

MAX_FPS = 30.0  # lectures gain nothing from 50/60 fps; halves encode time for such sources


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int            # coded size
    height: int
    rotation_deg: int     # display rotation; 90/270 swap the displayed width and height
    frame_rate: float     # average frame rate
    variable_frame_rate: bool

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


# ---------------------------------------------------------------- ffmpeg binary


@lru_cache(maxsize=None)
def find_ffmpeg(configured: str = "") -> str:
    """A configured path, else the system ffmpeg, else imageio-ffmpeg's static build; must have libx264."""
    candidates = [configured] if configured else []
    if which := shutil.which("ffmpeg"):
        candidates.append(which)
    try:
        import imageio_ffmpeg

        candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "libx264" in out:
            return exe
        log.warning("%s has no libx264 encoder; trying the next ffmpeg", exe)
    raise InputError("no ffmpeg with libx264 found; run `pip install imageio-ffmpeg` or install ffmpeg")


@dataclass(frozen=True)
class ToolRun:
    """One finished ffmpeg run: what it did and what it cost (for logs and benchmarks)."""

    what: str
    wall_s: float
    cpu_s: float  # user + system seconds of the ffmpeg process
    max_rss_mb: float


_tool_listeners: list[Callable[[ToolRun], None]] = []


def on_tool_run(listener: Callable[[ToolRun], None]) -> Callable[[], None]:
    """Subscribe to finished ffmpeg runs; returns an unsubscribe function."""
    _tool_listeners.append(listener)
    return lambda: _tool_listeners.remove(listener) if listener in _tool_listeners else None


def run_ffmpeg(args: Sequence[str], *, what: str, duration_s: float = 0.0, progress: Progress | None = None,
               timeout_s: float = 3600) -> ToolRun:
    """Run ffmpeg with argv `args` (without the binary), report progress, raise ToolError with stderr tail."""
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-y"]
    if progress:
        argv += ["-progress", "pipe:1", "-nostats"]  # machine-readable key=value progress on stdout
    argv += list(args)
    log.debug("ffmpeg: %s", " ".join(argv))
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if progress else subprocess.DEVNULL,
                                stderr=err, text=True)
        reader = None
        if progress:
            reader = threading.Thread(target=_read_progress, args=(proc.stdout, duration_s, progress), daemon=True)
            reader.start()
        try:
            rc, usage = _wait(proc, timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ToolError(f"{what}: ffmpeg ran past {timeout_s:.0f} s and was stopped", argv) from None
        finally:
            if reader:
                reader.join(timeout=5)
        if rc != 0:
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
            raise ToolError(f"{what}: ffmpeg failed (exit {rc})", argv, stderr, rc)
    run = ToolRun(what=what, wall_s=time.monotonic() - started,
                  cpu_s=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
                  max_rss_mb=(usage.ru_maxrss / 1024) if usage else 0.0)
    log.info("%s: %.1f s, %.1f CPU-s", what, run.wall_s, run.cpu_s)
    for listener in list(_tool_listeners):
        listener(run)
    return run


def _wait(proc: subprocess.Popen, timeout_s: float):
    """Wait for the child and collect its own resource usage (wait4), not all children's."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout_s)
        time.sleep(0.05)


def _read_progress(stream, duration_s: float, progress: Progress) -> None:
    for line in stream:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and duration_s > 0 and value.isdigit():
            progress(min(1.0, int(value) / 1e6 / duration_s))
        elif key == "progress" and value == "end":
            progress(1.0)


# ---------------------------------------------------------------- probe


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
        container.seek(0)
    except (StopIteration, av.error.FFmpegError):
        raise InputError(f"{name}: the video stream has no decodable picture; it may be truncated, "
                         "upload the complete recording") from None
    avg = s.average_rate or s.guessed_rate or s.base_rate or Fraction(25)
    base = s.base_rate or avg
    fps = float(avg)
    vfr = abs(float(base) - fps) > 0.01 * max(fps, 1)
    return VideoStream(index=s.index, codec=cc.name, width=cc.width, height=cc.height, rotation_deg=rotation,
                       frame_rate=fps, variable_frame_rate=vfr)


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


# ---------------------------------------------------------------- ladder


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


def ladder_args(source: Path, info: MediaInfo, ladder: Ladder, opts: LadderOptions, out_dir: Path) -> list[str]:
    """The ffmpeg argv (without the binary) that writes every rendition as fMP4 HLS under out_dir/<name>/."""
    args = ["-i", str(source)]
    var_map = []
    n = len(ladder.video)
    if n:
        # Cascade: each rung scales from the one above rather than from the source;
        # one decode, and cheaper than n full-size scalers for 1080p and 4K sources.
        # Each resampling softens the picture a little, so a rung made from an already
        # scaled rung uses lanczos (sharper than bicubic): the 480p and 360p slide text then
        # stays as crisp as a direct bicubic scale from the source gives, at little cost on
        # those small pictures. The first scale from the source stays bicubic (cheaper on
        # full-size frames; the same as a direct scale). Measured in bench/ladder.py.
        graph, prev = [], f"[0:v:0]fps={ladder.frame_rate},setsar=1"
        size = (info.video.display_width, info.video.display_height)
        for i, r in enumerate(ladder.video):
            flags = "bicubic" if size == (info.video.display_width, info.video.display_height) else "lanczos"
            scale = f"scale={r.width}:{r.height}:flags={flags}"
            size = (r.width, r.height)
            last = i == n - 1
            graph.append(f"{prev},{scale}[v{i}]" if last else f"{prev},{scale},split=2[v{i}][c{i}]")
            prev = f"[c{i}]null"
        args += ["-filter_complex", ";".join(graph)]
        gop = str(ladder.gop_frames)
        for i, r in enumerate(ladder.video):
            args += ["-map", f"[v{i}]",
                     f"-c:v:{i}", "libx264",
                     f"-b:v:{i}", f"{r.video_bitrate_kbps}k",
                     f"-maxrate:v:{i}", f"{int(r.video_bitrate_kbps * 1.5)}k",  # capped VBR: ABR needs honest peaks
                     f"-bufsize:v:{i}", f"{r.video_bitrate_kbps * 2}k"]
            var_map.append(f"v:{i},agroup:aud,name:{r.name}" if ladder.audio else f"v:{i},name:{r.name}")
        args += ["-preset", opts.preset,
                 # Lecture tuning, on top of the preset (bench/ladder.py: ~20% less CPU than
                 # plain veryfast, PSNR per rung within +-0.5 dB of it): slides barely move, so
                 # a diamond motion search (me=dia) and SAD-only subpixel refinement (subme=1)
                 # find the same vectors as hex/subme 2; a fixed B-frame pattern (b-adapt=0)
                 # skips the lookahead's B-frame decision, which buys nothing on static slides.
                 # mbtree and the 10-frame lookahead stay: they give static slides their quality.
                 "-x264-params", "me=dia:subme=1:b-adapt=0",
                 "-profile:v", "high", "-pix_fmt", "yuv420p",  # 8-bit 4:2:0: what every browser decodes
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
    out_dir = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".ladder-", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        for r in ladder.renditions:
            (tmp / r.name).mkdir(parents=True, exist_ok=True)
        run_ffmpeg(ladder_args(source, info, ladder, opts, tmp), what=f"{info.name}: HLS ladder",
                   duration_s=info.duration_s, progress=progress, timeout_s=opts.timeout_s)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ladder


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


def make_poster(source: Path, info: MediaInfo, out_path: Path, height: int = 720) -> Path | None:
    """A JPEG still from 10% into the video (capped at 30 s); None for audio-only recordings."""
    if not info.has_video:
        return None
    at = min(30.0, info.duration_s * 0.1)
    h = min(height, info.video.display_height)
    run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(source), "-frames:v", "1", "-vf", f"scale=-2:{_even(h)}",
                "-q:v", "3", str(out_path)], what=f"{info.name}: poster", timeout_s=120)
    return Path(out_path)


def first_video_pts_s(rendition_dir: Path) -> float:
    """Presentation time of the first video frame in a fMP4 rendition (for X-TIMESTAMP-MAP)."""
    init = _init_segment(rendition_dir)
    first = sorted(rendition_dir.glob("seg_*.m4s"))
    if init is None or not first:
        return 0.0
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(init.read_bytes())
        f.write(first[0].read_bytes())
        f.flush()
        with av.open(f.name) as c:
            for packet in c.demux(video=0):
                if packet.pts is not None:
                    return float(packet.pts * packet.time_base)
    return 0.0


def _init_segment(rendition_dir: Path) -> Path | None:
    # ffmpeg names it init_<n>.mp4 when one process writes several renditions
    return next(iter(sorted(rendition_dir.glob("init*.mp4"))), None)


def segment_durations(playlist: Path) -> list[float]:
    """EXTINF durations of a media playlist, in seconds."""
    out = []
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            out.append(float(line[len("#EXTINF:"):].split(",")[0]))
    return out


def keyframe_times(rendition_dir: Path) -> list[float]:
    """Times (s) of every keyframe in a fMP4 rendition: used to check alignment across rungs."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(_init_segment(rendition_dir).read_bytes())
        for seg in sorted(rendition_dir.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
        f.flush()
        with av.open(f.name) as c:
            return [round(float(p.pts * p.time_base), 3) for p in c.demux(video=0)
                    if p.is_keyframe and p.pts is not None]
