"""The HLS ladder of one long recording in GOP-aligned time chunks, each its own ffmpeg, joined exactly.

So several workers can share the ladder of a 3-hour session. Video only is chunked; the
audio renditions are encoded once, whole, by one more ffmpeg (an AAC frame is 1024
samples, which no chunk boundary on the video frame grid meets, so chunked audio would
leave gaps or overlaps at every seam).

How the join works. bench/chunk_join_experiment.py, 36 s clip (testsrc2 + tone, 25 fps,
GOP 2 s, segment 6 s, the 360p rung), 3 chunks, against the single pass (2026-11-30):
900 frames each (= the source); 6 segments of 6.000 s each, every one starting on a
keyframe; every frame's presentation time identical; init segments byte-identical
(video and audio); the audio segments byte-identical; A/V end offset 0.0 ms in both, no
audio gap; largest per-frame mean luma difference between the two encodes 0.87 (a frame
shifted by one would differ by >= 2.46). So exact joining is sound, and no
EXT-X-DISCONTINUITY is needed:

- Chunk boundaries are whole HLS segments on the output frame grid: chunk k starts at
  frame k * chunk_frames, chunk_frames a multiple of the segment's frames. The ladder's
  forced keyframes (every gop_s of the chunk's own time) then fall where the single pass
  puts them, and ffmpeg's hls muxer cuts every chunk's segments where the single pass
  cuts them; the last segment of a chunk is complete, never a short one mid-stream.
- Each chunk is cut from the SOURCE by input seeking to its first frame's time
  (`-ss start -t duration` before `-i`: ffmpeg decodes from the keyframe before and drops
  frames before `start`, so chunk k holds exactly source frames [start, end)); no chunk
  is cut from another's output, so nothing drifts.
- Every chunk's fMP4 time starts again at 0 (decode time 0, the same 2-frame B-frame
  delay in an edit list that the single pass has). `-output_ts_offset` does not fix that
  exactly (reasoned, not measured): with the offset the first decode time is no longer
  negative, so ffmpeg stops shifting it and each chunk would start two frames early. So the join rewrites the
  media segments instead: tfdt (baseMediaDecodeTime) of chunk k is moved by the decode
  time where chunk k-1 ended (the sum of its sample durations, read from its trun boxes,
  no frame-rate arithmetic), sidx's earliest presentation time likewise, and mfhd
  sequence numbers continue. Chunks' init segments are byte-identical (same encoder
  settings): chunk 0's is used.
- The audio pass is moved by the video's B-frame delay (-output_ts_offset, see
  encode_audio): in one output ffmpeg shifts all streams by it, alone the audio would
  play ~59 ms early.
- NTSC rates (--rate 30000/1001): 1079 frames in both, 6 segments of 6.006 s (the last
  5.973) in both, every one on a keyframe, the same set of presentation times (the
  decode order differs in places), A/V end offset 2.7 ms in both; the audio sits
  0.02 ms from the single pass's (its offset rounded to a 48 kHz sample); largest
  per-frame difference 0.98. This needed the quarter-frame early seek in chunk_args
  (the ladder's rate is rounded to 29.97): seeking to the exact time dropped the first
  frame of a chunk whose start time rounds up past it in the source's time base, and the
  fps filter filled its slot with the next picture (same frame count, one wrong picture
  per such seam; largest difference 2.94; tests/media checks every picture).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from medialib.config import LadderOptions
from medialib.errors import InputError
from medialib.media.ffmpeg import Progress, ToolRun, run_ffmpeg
from medialib.media.ladder import building, ladder_args
from medialib.media.readback import segment_durations
from medialib.media.records import Ladder, MediaInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Source frames [start_frame, start_frame + frame_count) on the ladder's output frame grid.

    frame_count 0 for the last chunk: to the end of the source (its length is what the
    source has, not what probing estimated).
    """

    index: int
    start_frame: int
    frame_count: int
    frame_rate: float

    def __post_init__(self) -> None:
        if self.start_frame < 0 or self.frame_count < 0 or self.frame_rate <= 0:
            raise ValueError(f"bad chunk {self}")

    @property
    def start_s(self) -> float:
        return self.start_frame / self.frame_rate

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.frame_rate  # 0.0: to the end

    @property
    def last(self) -> bool:
        return self.frame_count == 0


@dataclass(frozen=True)
class ChunkResult:
    """One encoded chunk: where its renditions are, and what ffmpeg cost."""

    chunk: Chunk
    out_dir: str
    wall_s: float
    cpu_s: float


def segment_frames(ladder: Ladder, gop_s: float) -> int:
    """Frames per HLS segment: the hls muxer cuts at the first keyframe at or after segment_s."""
    gops = max(1, math.ceil(ladder.segment_s / gop_s - 1e-9))
    return ladder.gop_frames * gops


def plan_chunks(duration_s: float, ladder: Ladder, gop_s: float, chunk_s: float) -> tuple[Chunk, ...]:
    """Chunks of about chunk_s, each a whole number of segments; one chunk when the recording is short."""
    if not ladder.video:
        raise InputError("an audio-only recording has no video to chunk; encode its ladder in one pass")
    if chunk_s <= 0:
        raise ValueError(f"chunk_s must be positive, not {chunk_s}")
    seg = segment_frames(ladder, gop_s)
    per_chunk = seg * max(1, round(chunk_s * ladder.frame_rate / seg))
    total = int(round(duration_s * ladder.frame_rate))
    # a tail shorter than half a chunk joins the chunk before it (no tiny last task)
    count = max(1, int(round(total / per_chunk)))
    return tuple(Chunk(i, i * per_chunk, 0 if i == count - 1 else per_chunk, ladder.frame_rate) for i in range(count))


def video_ladder(ladder: Ladder) -> Ladder:
    return replace(ladder, audio=None, alternate_audio=())


def audio_ladder(ladder: Ladder) -> Ladder:
    return replace(ladder, video=())


def chunk_args(source: Path, info: MediaInfo, ladder: Ladder, opts: LadderOptions, chunk: Chunk,
               out_dir: Path) -> list[str]:
    """The ladder's own argv (video rungs only) for the source frames of one chunk."""
    seek = []
    if chunk.start_frame:
        # Input seek: decode from the keyframe before, drop frames before the seek point; no drift.
        # A quarter frame early: the ladder's rate is rounded (29.97 for 30000/1001), so the
        # exact time of frame n can fall just after the source's frame n and drop it. The
        # first kept frame then sits at +0.25 frame, which the fps filter puts on slot 0;
        # -t from there ends a quarter frame before the next chunk's first frame.
        seek += ["-ss", f"{max(0.0, (chunk.start_frame - 0.25) / chunk.frame_rate):.6f}"]
    if not chunk.last:
        seek += ["-t", f"{chunk.duration_s:.6f}"]
    return seek + ladder_args(source, info, video_ladder(ladder), opts, out_dir)


def encode_chunk(source: Path, info: MediaInfo, ladder: Ladder, opts: LadderOptions, chunk: Chunk,
                 out_dir: Path, *, progress: Progress | None = None) -> ChunkResult:
    """Every video rung of one chunk into out_dir/<rendition>/ (temp folder, moved into place)."""
    run = _run_into(out_dir, [r.name for r in ladder.video],
                    lambda tmp: chunk_args(source, info, ladder, opts, chunk, tmp),
                    what=f"{info.name}: ladder chunk {chunk.index}",
                    duration_s=chunk.duration_s or max(0.0, info.duration_s - chunk.start_s),
                    progress=progress, timeout_s=opts.timeout_s)
    return ChunkResult(chunk, str(out_dir), run.wall_s, run.cpu_s)


def encode_audio(source: Path, info: MediaInfo, ladder: Ladder, opts: LadderOptions, out_dir: Path, *,
                 video_delay_s: float | None = None, progress: Progress | None = None) -> ToolRun:
    """The audio renditions, whole, into out_dir/<rendition>/, timed as the single pass times them.

    In the single pass one output holds video and audio, and ffmpeg moves both by the
    video's B-frame delay (its first decode time is negative): the audio gets an empty
    edit of that delay minus the AAC priming, its first sound lines up with the first
    frame. Alone, the audio would only be moved by its priming and play ~59 ms early
    (measured at 25 fps); -output_ts_offset with the video's delay gives it the single
    pass's timing exactly.
    """
    al = audio_ladder(ladder)
    if video_delay_s is None:
        video_delay_s = encoder_delay_s(info, ladder, opts) if ladder.video else 0.0

    def argv(tmp: Path) -> list[str]:
        args = ladder_args(source, info, al, opts, tmp)
        return args[:2] + ["-output_ts_offset", f"{video_delay_s:.6f}"] + args[2:]  # after "-i source"

    return _run_into(out_dir, [r.name for r in al.audio_renditions], argv,
                     what=f"{info.name}: ladder audio", duration_s=info.duration_s, progress=progress,
                     timeout_s=opts.timeout_s)


def encoder_delay_s(info: MediaInfo, ladder: Ladder, opts: LadderOptions) -> float:
    """The video's first presentation time in the ladder's encode (its B-frame delay), from 1 s of a flat picture.

    Measured rather than derived from the preset: the reorder depth follows x264's
    bframes and b-pyramid, which the preset and x264-params decide together (~0.2 s).
    """
    from medialib.media.readback import first_pts_s

    v = info.video
    with tempfile.TemporaryDirectory(prefix=".delay-") as tmp:
        out = Path(tmp)
        for r in ladder.video:
            (out / r.name).mkdir()
        flat = Path(f"color=s={v.display_width}x{v.display_height}:r={ladder.frame_rate}")
        run_ffmpeg(["-f", "lavfi", "-t", "1", *ladder_args(flat, info, video_ladder(ladder), opts, out)],
                   what=f"{info.name}: encoder delay", timeout_s=120)
        return first_pts_s(out / ladder.video[0].name)


def _run_into(out_dir: Path, names: Sequence[str], argv, *, what: str, duration_s: float,
              progress: Progress | None, timeout_s: float) -> ToolRun:
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with building(out_dir, ".chunk-") as tmp:
        for name in names:
            (tmp / name).mkdir()
        run = run_ffmpeg(argv(tmp), what=what, duration_s=duration_s, progress=progress, timeout_s=timeout_s)
    return run


# ---- joining -----------------------------------------------------------------------------

def join_chunks(chunk_dirs: Sequence[Path], audio_dir: Path | None, ladder: Ladder, out_dir: Path) -> Path:
    """One rendition folder layout, as transcode_ladder writes it, from the chunks and the audio.

    Names as the single pass gives them: <rung>/init_<i>.mp4 (i: the rung's index), the
    audio renditions' init_<len(video)+j>.mp4, seg_%05d.m4s numbered from 0, index.m3u8,
    and ffmpeg-master.m3u8 with each video rung's CODECS (read by publish).
    """
    if not chunk_dirs:
        raise ValueError("no chunks to join")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with building(out_dir, ".join-") as tmp:
        for i, r in enumerate(ladder.video):
            _join_rendition([Path(d) / r.name for d in chunk_dirs], tmp / r.name, f"init_{i}.mp4", ladder.segment_s)
        for j, a in enumerate(ladder.audio_renditions if audio_dir else ()):
            _copy_rendition(Path(audio_dir) / a.name, tmp / a.name, f"init_{len(ladder.video) + j}.mp4")
        _write_master(Path(chunk_dirs[0]), Path(audio_dir) if audio_dir else None, ladder, tmp)
    return out_dir


def _join_rendition(parts: Sequence[Path], out: Path, init_name: str, segment_s: float) -> None:
    out.mkdir(parents=True)
    inits = [_init_of(p) for p in parts]
    init = inits[0].read_bytes()
    if any(i.read_bytes() != init for i in inits[1:]):
        # same encoder settings give the same init; if not, the streams cannot share one
        raise InputError(f"{out.name}: the chunks' init segments differ; encode them with the same settings")
    (out / init_name).write_bytes(init)
    defaults = _trex_defaults(init)
    decode_time, sequence, n = 0, 1, 0
    durations: list[float] = []
    for part in parts:
        segs = sorted(part.glob("seg_*.m4s"))
        part_durations = segment_durations(part / "index.m3u8")
        if len(segs) != len(part_durations):
            raise InputError(f"{part}: {len(segs)} segment files but {len(part_durations)} in its playlist")
        part_start, part_end = decode_time, decode_time
        for seg in segs:
            data, sequence, end = _shift_segment(bytearray(seg.read_bytes()), part_start, sequence, defaults)
            part_end = max(part_end, end)
            (out / f"seg_{n:05d}.m4s").write_bytes(data)
            n += 1
        durations += part_durations
        decode_time = part_end
    _write_media_playlist(out / "index.m3u8", init_name, durations, segment_s)


def _copy_rendition(src: Path, out: Path, init_name: str) -> None:
    out.mkdir(parents=True)
    init = _init_of(src)
    shutil.copyfile(init, out / init_name)
    for seg in sorted(src.glob("seg_*.m4s")):
        shutil.copyfile(seg, out / seg.name)
    text = (src / "index.m3u8").read_text(encoding="utf-8")
    (out / "index.m3u8").write_text(text.replace(f'URI="{init.name}"', f'URI="{init_name}"'), encoding="utf-8")


def _init_of(rendition: Path) -> Path:
    init = next(iter(sorted(rendition.glob("init*.mp4"))), None)
    if init is None:
        raise InputError(f"{rendition}: no init segment; the chunk was not encoded completely")
    return init


def _write_media_playlist(path: Path, init_name: str, durations: Sequence[float], segment_s: float) -> None:
    target = max([math.ceil(segment_s - 1e-9)] + [int(round(d)) for d in durations])
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{init_name}"']
    for i, d in enumerate(durations):
        lines += [f"#EXTINF:{d:.6f},", f"seg_{i:05d}.m4s"]
    path.write_text("\n".join(lines + ["#EXT-X-ENDLIST", ""]), encoding="utf-8")


def _write_master(chunk0: Path, audio_dir: Path | None, ladder: Ladder, out: Path) -> None:
    """ffmpeg-master.m3u8 as the single pass writes it, as far as publish reads it (CODECS per rung)."""
    video = _codecs(chunk0 / "ffmpeg-master.m3u8")
    audio = next(iter(_codecs(audio_dir / "ffmpeg-master.m3u8").values()), "mp4a.40.2") if audio_dir else None
    lines = ["#EXTM3U", "#EXT-X-VERSION:7"]
    if audio:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio",DEFAULT=YES,CHANNELS="2",'
                     f'URI="{ladder.audio_renditions[0].name}/index.m3u8"')
    for r in ladder.video:
        codecs = ",".join(c for c in (video.get(r.name, "").split(",")[0], audio) if c)
        bw = r.video_bitrate_kbps * 1000 + (ladder.audio_renditions[0].audio_bitrate_kbps * 1000 if audio else 0)
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={r.width}x{r.height},CODECS="{codecs}"'
                     + (',AUDIO="group_aud"' if audio else ""))
        lines.append(f"{r.name}/index.m3u8")
    (out / "ffmpeg-master.m3u8").write_text("\n".join(lines + [""]), encoding="utf-8")


def _codecs(master: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not master.exists():
        return out
    lines = master.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = re.search(r'CODECS="([^"]+)"', line) if line.startswith("#EXT-X-STREAM-INF:") else None
        if m and i + 1 < len(lines):
            out[lines[i + 1].split("/")[0]] = m.group(1)
    return out


# ---- ISO BMFF boxes (only what the join rewrites) ------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts"}


def _boxes(data, start: int, end: int):
    """(type, offset, header size, box size) of the boxes in data[start:end]."""
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack_from(">I4s", data, off)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, off + 8)[0], 16
        elif size == 0:
            size = end - off
        if size < header or off + size > end:
            raise InputError(f"damaged MP4 box {typ!r} at byte {off}")
        yield typ, off, header, size
        off += size


def _trex_defaults(init: bytes) -> int:
    """trex default_sample_duration of the init segment's (single) track."""
    for typ, off, h, size in _walk(init, 0, len(init)):
        if typ == b"trex":
            return struct.unpack_from(">I", init, off + h + 12)[0]
    return 0


def _walk(data, start: int, end: int):
    for typ, off, h, size in _boxes(data, start, end):
        yield typ, off, h, size
        if typ in _CONTAINERS:
            yield from _walk(data, off + h, off + size)


def _shift_segment(data: bytearray, shift: int, sequence: int, trex_duration: int) -> tuple[bytearray, int, int]:
    """Move a media segment's decode times by `shift` (track timescale) and renumber its fragments.

    Returns the data, the next fragment sequence number, and the decode time where the
    segment ends (tfdt + the sum of its samples' durations, after the shift).
    """
    end_time = shift
    for typ, off, h, size in _boxes(data, 0, len(data)):
        if typ == b"sidx":
            version = data[off + h]
            at = off + h + 12  # version+flags, reference_ID, timescale
            if version == 0:
                struct.pack_into(">I", data, at, struct.unpack_from(">I", data, at)[0] + shift)
            else:
                struct.pack_into(">Q", data, at, struct.unpack_from(">Q", data, at)[0] + shift)
        elif typ == b"moof":
            for ctyp, coff, ch, csize in _boxes(data, off + h, off + size):
                if ctyp == b"mfhd":
                    struct.pack_into(">I", data, coff + ch + 4, sequence)
                    sequence += 1
                elif ctyp == b"traf":
                    end_time = max(end_time, _shift_traf(data, coff + ch, coff + csize, shift, trex_duration))
    return data, sequence, end_time


def _shift_traf(data: bytearray, start: int, end: int, shift: int, trex_duration: int) -> int:
    base, default_duration, total = 0, trex_duration, 0
    for typ, off, h, size in _boxes(data, start, end):
        body = off + h
        if typ == b"tfhd":
            flags = int.from_bytes(data[body + 1:body + 4], "big")
            at = body + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            if flags & 0x08:
                default_duration = struct.unpack_from(">I", data, at)[0]
        elif typ == b"tfdt":
            if data[body] == 1:
                base = struct.unpack_from(">Q", data, body + 4)[0] + shift
                struct.pack_into(">Q", data, body + 4, base)
            else:
                base = struct.unpack_from(">I", data, body + 4)[0] + shift
                struct.pack_into(">I", data, body + 4, base)
        elif typ == b"trun":
            flags = int.from_bytes(data[body + 1:body + 4], "big")
            count = struct.unpack_from(">I", data, body + 4)[0]
            at = body + 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
            per = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
            if flags & 0x100:
                total += sum(struct.unpack_from(">I", data, at + k * per)[0] for k in range(count))
            else:
                total += default_duration * count
    return base + total
