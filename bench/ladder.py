"""Benchmark: medialib's HLS ladder vs the DESIGN.md reference single-process 4-rung command.

Target: wall(ours) / wall(reference) <= 0.7 on a 1080p H.264 lecture of >= 60 s, every
rung of ours valid (keyframes aligned across rungs, segments <= 6.05 s, playlists parse
strictly), and no rung more than 0.5 dB PSNR (or 0.005 SSIM) below the reference's.

EXPLORATION (CPU seconds of one 60 s 1080p run, user + system, from os.wait4; the machine
was shared, so wall times were not compared; the interleaved runs below give the ratio):
- where ours went: decode 3.1, AAC 1.9, the swscale cascade 6.8 (1080->720 alone 4.3:
  swscale's lanczos and bicubic cost ~2.9 ms a 720p frame), the four x264 encoders the rest.
- zimg (zscale) for the cascade: 2.6 s instead of 7.4 (single-threaded decode), and with
  chroma sited at the centre on both sides it matches a lanczos scale from the source to
  80 dB; left-sited chroma (zimg's default) lost 2 dB on U/V against that truth.
  zimg refuses odd-sized 4:2:0 pictures: such a source's first step stays on swscale.
- x264 threads: the default 1.5 per core per encoder (12 threads + lookaheads for four
  rungs on 2 cores) costs ~1.5 s over threads shared by pixel count, and 170 MB more.
- superfast for the rungs below the top one: -2.4 dB on 720p against veryfast, still
  +6.6 dB over the reference (whose bicubic swscale is the softer picture); ~1.5 s less.
- tried and left: rc-lookahead 5 or bframes 2 (-0.9 dB on 1080p), mbtree off (-2.3 dB),
  partitions i8x8,i4x4, weightp 0, aq-mode 0, 8x8dct off, deblock off (each < 1 s),
  cabac off on 1080p (-0.5 dB), subme 0 (fullpel: fine on this synthetic picture-in-picture
  whose motion is whole pixels, not on a camera's).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import m3u8

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    OUT,
    ff_stderr,
    fresh_dir,
    interleave,
    lecture_video,
    load_average,
    table,
)

from medialib.config import LadderOptions, load_settings
from medialib.media.ffmpeg import find_ffmpeg, run_ffmpeg
from medialib.media.ladder import plan_ladder, transcode_ladder
from medialib.media.probe import probe_media
from medialib.media.readback import keyframe_times, segment_durations
from medialib.media.records import Ladder, MediaInfo

SEGMENT_SLACK_S = 0.05        # a segment may run this far past the target duration
MAX_PSNR_LOSS_DB = 0.5        # per rung, ours vs the reference
MAX_SSIM_LOSS = 0.005
TARGET_RATIO = 0.7


def reference_args(source: Path, ladder: Ladder, opts: LadderOptions, out_dir: Path) -> list[str]:
    """The DESIGN.md reference ("ffmpeg" section): ONE ffmpeg process, one decode, split=4,
    every rung scaled straight from the source with the scale filter's defaults (bicubic),
    libx264 at the configured preset (veryfast) with the same bitrates and the same fixed
    2 s GOP flags as medialib, stereo AAC, fMP4 HLS in 6 s segments via var_stream_map.
    """
    n = len(ladder.video)
    split = f"[0:v:0]split={n}" + "".join(f"[s{i}]" for i in range(n))
    scales = [f"[s{i}]scale={r.width}:{r.height}[v{i}]" for i, r in enumerate(ladder.video)]
    args = ["-i", str(source), "-filter_complex", ";".join([split, *scales])]
    gop = str(ladder.gop_frames)
    var_map = []
    for i, r in enumerate(ladder.video):
        args += ["-map", f"[v{i}]", f"-c:v:{i}", "libx264",
                 f"-b:v:{i}", f"{r.video_bitrate_kbps}k",
                 f"-maxrate:v:{i}", f"{int(r.video_bitrate_kbps * 1.5)}k",
                 f"-bufsize:v:{i}", f"{r.video_bitrate_kbps * 2}k"]
        var_map.append(f"v:{i},agroup:aud,name:{r.name}")
    args += ["-preset", opts.preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
             "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
             "-force_key_frames", f"expr:gte(t,n_forced*{opts.gop_s})",
             "-map", "0:a:0", "-c:a", "aac", "-b:a", f"{opts.audio_bitrate_kbps}k", "-ac", "2",
             "-ar", str(opts.audio_sample_rate)]
    var_map.append("a:0,agroup:aud,name:audio,default:yes")
    args += ["-f", "hls", "-hls_time", str(opts.segment_s), "-hls_playlist_type", "vod",
             "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments",
             "-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.m4s"),
             "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(var_map),
             str(out_dir / "%v" / "index.m3u8")]
    return args


def run_reference(source: Path, info: MediaInfo, opts: LadderOptions, out_dir: Path) -> Ladder:
    ladder = plan_ladder(info, opts)
    fresh_dir(out_dir)
    for r in ladder.renditions:
        (out_dir / r.name).mkdir()
    run_ffmpeg(reference_args(source, ladder, opts, out_dir), what="reference ladder", timeout_s=opts.timeout_s)
    return ladder


def run_ours(source: Path, info: MediaInfo, opts: LadderOptions, out_dir: Path) -> Ladder:
    return transcode_ladder(source, info, opts, out_dir)


# ---------------------------------------------------------------- checks


def rendition_file(rendition_dir: Path, into: Path) -> Path:
    """init + segments concatenated into one playable MP4 (as keyframe_times reads it)."""
    init = next(iter(sorted(rendition_dir.glob("init*.mp4"))))
    with open(into, "wb") as f:
        f.write(init.read_bytes())
        for seg in sorted(rendition_dir.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
    return into


def quality(source: Path, out_dir: Path, ladder: Ladder) -> dict[str, tuple[float, float]]:
    """PSNR (dB, average over Y/U/V) and SSIM (All) of each rung against the source scaled
    to that rung with a high-quality scaler (lanczos): the same truth for ours and the reference.
    One ffmpeg process, one decode of the source."""
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        inputs, graph, maps = ["-i", str(source)], [], []
        n = len(ladder.video)
        graph.append("[0:v:0]setpts=PTS-STARTPTS,split=" + str(n) + "".join(f"[src{i}]" for i in range(n)))
        for i, r in enumerate(ladder.video):
            mp4 = rendition_file(out_dir / r.name, Path(tmp) / f"{r.name}.mp4")
            inputs += ["-i", str(mp4)]
            graph.append(f"[src{i}]scale={r.width}:{r.height}:flags=lanczos+accurate_rnd+full_chroma_int,"
                         f"setsar=1,split[t{i}a][t{i}b]")
            graph.append(f"[{i + 1}:v:0]setpts=PTS-STARTPTS,setsar=1,split[d{i}a][d{i}b]")
            graph.append(f"[d{i}a][t{i}a]psnr=eof_action=endall[p{i}]")
            graph.append(f"[d{i}b][t{i}b]ssim=eof_action=endall[q{i}]")
            maps += ["-map", f"[p{i}]", "-map", f"[q{i}]"]
        err = ff_stderr(*inputs, "-filter_complex", ";".join(graph), *maps, "-f", "null", "-")
    # ffmpeg reports when it frees the filters, not in graph order: sort by the filter's
    # parse index (Parsed_psnr_<k>), which follows the order the graph above was written in.
    psnrs = [float(v) for _, v in sorted((int(k), v) for k, v in re.findall(
        r"Parsed_psnr_(\d+) @ \S+\] PSNR y:\S+ u:\S+ v:\S+ average:(\S+)", err))]
    ssims = [float(v) for _, v in sorted((int(k), v) for k, v in re.findall(
        r"Parsed_ssim_(\d+) @ \S+\] SSIM .* All:(\S+)", err))]
    if len(psnrs) != n or len(ssims) != n:
        raise RuntimeError(f"could not read PSNR/SSIM for {n} rungs from ffmpeg:\n{err[-3000:]}")
    return {r.name: (psnrs[i], ssims[i]) for i, r in enumerate(ladder.video)}


def validity(out_dir: Path, ladder: Ladder, segment_s: float) -> list[str]:
    """Problems with one ladder output; empty when every rung is valid."""
    problems = []
    keyframes = {r.name: keyframe_times(out_dir / r.name) for r in ladder.video}
    first = ladder.video[0].name
    for name, times in keyframes.items():
        if times != keyframes[first]:
            problems.append(f"{name}: keyframes differ from {first} "
                            f"({len(times)} vs {len(keyframes[first])} keyframes)")
    for r in ladder.renditions:
        playlist = out_dir / r.name / "index.m3u8"
        text = playlist.read_text(encoding="utf-8")
        try:
            m3u8.parse(text, strict=True)
        except Exception as e:  # m3u8 raises several types for a bad line
            problems.append(f"{r.name}/index.m3u8: does not parse strictly ({e})")
        longest = max(segment_durations(playlist), default=0.0)
        if longest > segment_s + SEGMENT_SLACK_S:
            problems.append(f"{r.name}: a segment lasts {longest:.3f} s (> {segment_s + SEGMENT_SLACK_S:.2f} s)")
    for master in out_dir.glob("*master.m3u8"):
        try:
            m3u8.parse(master.read_text(encoding="utf-8"), strict=True)
        except Exception as e:
            problems.append(f"{master.name}: does not parse strictly ({e})")
    return problems


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the 1080p source (default 60)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved runs of each side (default 2)")
    args = ap.parse_args(argv)

    opts = load_settings().ladder
    t0 = time.perf_counter()
    source = lecture_video(OUT / f"lecture-1080p-{args.seconds:g}s.mp4", args.seconds)
    info = probe_media(source)
    print(f"source: {source.name}, {info.video.width}x{info.video.height} {info.video.frame_rate:g} fps, "
          f"{info.duration_s:.1f} s ({time.perf_counter() - t0:.1f} s to make or find)")
    print(f"ffmpeg: {find_ffmpeg()}; load average {load_average():.2f}")
    out_ref, out_ours = OUT / "ladder-reference", OUT / "ladder-ours"
    runs = interleave({"reference": lambda: run_reference(source, info, opts, out_ref),
                       "ours": lambda: run_ours(source, info, opts, out_ours)}, args.rounds)
    ref, ours = runs["reference"], runs["ours"]
    ladder = ours.results[-1]

    q_ref = quality(source, out_ref, ladder)
    q_ours = quality(source, out_ours, ladder)
    problems = validity(out_ours, ladder, opts.segment_s)
    problems_ref = validity(out_ref, ladder, opts.segment_s)

    rows = []
    for r in ladder.video:
        (pr, sr), (po, so) = q_ref[r.name], q_ours[r.name]
        rows.append([r.name, f"{pr:.2f}", f"{po:.2f}", f"{po - pr:+.2f}", f"{sr:.4f}", f"{so:.4f}", f"{so - sr:+.4f}"])
    print()
    print(table(["rung", "PSNR ref", "PSNR ours", "delta dB", "SSIM ref", "SSIM ours", "delta"], rows))
    ratio = ours.wall_s / ref.wall_s
    print()
    print(table(["side", "median wall s", "median CPU s", "x realtime", "runs (wall s)"],
                [[s.name, f"{s.wall_s:.1f}", f"{s.cpu_s:.1f}", f"{info.duration_s / s.wall_s:.2f}",
                  " ".join(f"{x.wall_s:.1f}" for x in s.samples)] for s in (ref, ours)]))
    print(f"load average after: {load_average():.2f}; reference valid: {'yes' if not problems_ref else problems_ref}")
    for p in problems:
        print(f"INVALID (ours): {p}")
    quality_ok = all(q_ours[n][0] >= q_ref[n][0] - MAX_PSNR_LOSS_DB and q_ours[n][1] >= q_ref[n][1] - MAX_SSIM_LOSS
                     for n in q_ref)
    deltas = " ".join(f"{n} {q_ours[n][0] - q_ref[n][0]:+.2f} dB" for n in q_ref)
    print(f"ladder: ours {ours.wall_s:.1f} s, reference {ref.wall_s:.1f} s, wall ratio {ratio:.2f} "
          f"(target <= {TARGET_RATIO}); rungs {'valid' if not problems else 'INVALID'}; "
          f"PSNR delta per rung {deltas} ({'within' if quality_ok else 'OUTSIDE'} the "
          f"{MAX_PSNR_LOSS_DB} dB guard); total {time.perf_counter() - t0:.0f} s")
    return 0 if ratio <= TARGET_RATIO and not problems and quality_ok else 1


if __name__ == "__main__":
    sys.exit(main())
