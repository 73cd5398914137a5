"""Experiment: one rung of the ladder in GOP-aligned time chunks, joined, against the single pass.

    PYTHONPATH=src:tests python bench/chunk_join_experiment.py [--seconds 30] [--chunks 3]

A generated clip (testsrc2 + a 440 Hz tone, 25 fps, 640x360) goes through the ladder's
settings (GOP 2 s, segment 6 s) once in one pass and once as chunks (video only, each
chunk its own ffmpeg seeking in the SOURCE; the audio once, whole) joined by
medialib.media.chunks.join_chunks. Read back: frame count, keyframe at every segment's
start, decode times identical to the single pass, A/V end offset, audio gaps, and the
per-frame difference of the two encodes (a shifted frame would show up as a large one).
Findings are written down in medialib/media/chunks.py's docstring.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from medialib.config import load_settings  # noqa: E402
from medialib.media import chunks  # noqa: E402
from medialib.media.ladder import plan_ladder, transcode_ladder  # noqa: E402
from medialib.media.probe import probe_media  # noqa: E402
from medialib.media.readback import segment_durations  # noqa: E402


def rendition_packets(rendition: Path, kind: str) -> list[tuple[float, float, bool]]:
    """(pts s, duration s, keyframe) of every packet of a fMP4 rendition (init + segments)."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(next(rendition.glob("init*.mp4")).read_bytes())
        for seg in sorted(rendition.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
        f.flush()
        with av.open(f.name) as c:
            s = c.streams.video[0] if kind == "video" else c.streams.audio[0]
            return [(float(p.pts * p.time_base), float(p.duration * p.time_base), p.is_keyframe)
                    for p in c.demux(s) if p.pts is not None]


def segments_start_on_keyframes(rendition: Path) -> bool:
    init = next(rendition.glob("init*.mp4")).read_bytes()
    for seg in sorted(rendition.glob("seg_*.m4s")):
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(init + seg.read_bytes())
            f.flush()
            with av.open(f.name) as c:
                first = next(p for p in c.demux(video=0) if p.pts is not None)
                if not first.is_keyframe:
                    return False
    return True


def luma_frames(rendition: Path) -> list[np.ndarray]:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(next(rendition.glob("init*.mp4")).read_bytes())
        for seg in sorted(rendition.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
        f.flush()
        with av.open(f.name) as c:
            return [fr.to_ndarray(format="gray")[::4, ::4].astype(np.int16) for fr in c.decode(video=0)]


def source_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(video=0) if p.size)


def report(ladder_dir: Path, rung: str) -> dict:
    v = rendition_packets(ladder_dir / rung, "video")
    a = rendition_packets(ladder_dir / "audio", "audio")
    v_end = max(p + d for p, d, _ in v)
    a_end = max(p + d for p, d, _ in a)
    gaps = [b[0] - (x[0] + x[1]) for x, b in zip(a, a[1:])]
    return {"frames": len(v), "segments": len(segment_durations(ladder_dir / rung / "index.m3u8")),
            "segment_durations": segment_durations(ladder_dir / rung / "index.m3u8"),
            "segments_on_keyframes": segments_start_on_keyframes(ladder_dir / rung),
            "av_end_offset_ms": round((v_end - a_end) * 1000, 1),
            "max_audio_gap_ms": round(max(map(abs, gaps), default=0) * 1000, 2),
            "first_pts_s": v[0][0], "pts": [round(p, 4) for p, _, _ in v]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=36)
    ap.add_argument("--chunk-s", type=float, default=12)
    ap.add_argument("--rate", default="25", help="source frame rate: 25, 30000/1001, ...")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    import clips

    work = Path(tempfile.mkdtemp(prefix="chunk-exp-"))
    src = clips.with_tone(work / "src.mp4", seconds=a.seconds, size="640x360", rate=a.rate)
    info = probe_media(src)
    opts = load_settings().ladder
    opts = opts.model_copy(update={"rungs": tuple(r for r in opts.rungs if r.height == 360)})
    t = time.monotonic()
    transcode_ladder(src, info, opts, work / "single")
    single_s = time.monotonic() - t
    ladder = plan_ladder(info, opts)
    plan = chunks.plan_chunks(info.duration_s, ladder, opts.gop_s, a.chunk_s)
    t = time.monotonic()
    results = [chunks.encode_chunk(src, info, ladder, opts, c, work / f"chunk{c.index}") for c in plan]
    audio = chunks.encode_audio(src, info, ladder, opts, work / "audio")
    chunks.join_chunks([Path(r.out_dir) for r in results], work / "audio", ladder, work / "joined")
    chunked_s = time.monotonic() - t
    s, j = report(work / "single", "360p"), report(work / "joined", "360p")
    fs, fj = luma_frames(work / "single" / "360p"), luma_frames(work / "joined" / "360p")
    diffs = [float(np.abs(x - y).mean()) for x, y in zip(fs, fj)]
    shifted = [float(np.abs(x - y).mean()) for x, y in zip(fs[1:], fj)]
    out = {
        "source_frames": source_frames(src),
        "chunks": [(c.start_frame, c.frame_count) for c in plan],
        "single": {k: v for k, v in s.items() if k != "pts"},
        "joined": {k: v for k, v in j.items() if k != "pts"},
        "pts_identical": s["pts"] == j["pts"],
        "init_identical": {r: next((work / "single" / r).glob("init*")).read_bytes()
                           == next((work / "joined" / r).glob("init*")).read_bytes() for r in ("360p", "audio")},
        "audio_identical": [p.read_bytes() for p in sorted((work / "single" / "audio").glob("seg_*"))]
                           == [p.read_bytes() for p in sorted((work / "joined" / "audio").glob("seg_*"))],
        "frame_mean_abs_diff_max": round(max(diffs), 2),
        "frame_mean_abs_diff_if_shifted_by_one_min": round(min(shifted), 2),
        "wall_s": {"single": round(single_s, 1), "chunked_sequential": round(chunked_s, 1),
                   "chunks": [round(r.wall_s, 1) for r in results], "audio": round(audio.wall_s, 1)},
    }
    print(json.dumps(out, indent=1))
    if a.out:
        a.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
