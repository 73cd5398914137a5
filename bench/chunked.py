"""Benchmark: one recording in chunks and windows; per-task times and the wall they give on 1, 2, 4, 8 workers.

    PYTHONPATH=src:tests python bench/chunked.py [--seconds 120] [--scale 15] [--real2]

A 30-minute recording is 6 ladder chunks of 300 s and 3 Whisper windows of 600 s with the
defaults ([chunks]). Scaled down by --scale (15: a 120 s source, 20 s chunks, 40 s
windows) so it runs in a few minutes on 2 shared cores: the same task counts and shapes.
Every task is measured here one after another (each ffmpeg and Whisper then has the
machine's 2 cores), then placed on W identical workers by the order Prefect submits them
(greedy: a task goes to the first free worker; window 0 first, the other windows after
it, as flows/chunked.py does when no language is given; the join after every chunk and
the audio, the merge after every window). Times x scale estimate the 30-minute run.
--real2 also runs the chunks two at a time on this machine (both on the same 2 cores:
a check that parallel tasks do not disturb each other's output, not a speed-up).

RESULTS (2026-11-30, 2 cores, BUSY: load average 10-14 from other helpers' tests; a second
run agreed within ~15%). 120 s 1280x720 source (testsrc2 + espeak lecture), rungs
720p/480p/360p; chunk_s 20 rounds to 18 s (whole 6 s segments), so 7 chunks, not 6.

    single-pass ladder 32.6 s; chunks 3.3 5.4 4.4 4.4 4.0 5.3 3.3 s (CPU 5.0-5.4 s each,
    3.6 the short last one) + audio 4.0 s (0.2 s of it the encoder-delay probe) = 34.1 s
    sequential: ~5% over the single pass; join 0.07 s (rewriting tfdt is nothing).
    Whisper windows (3 of ~40 s): 6.9 (the first call warms the VAD and decoder), 3.0, 2.7 s;
    merge 3 ms.

    workers  ladder s  speech s  both s  x15: min (30-minute estimate)
    1          34.2      12.5     46.7     11.7
    2          19.1       9.8     24.3      6.1
    4           9.7       9.8     13.0      3.2
    8           5.4       9.8      9.9      2.5

From 4 workers on, the speech chain is the critical path: window 0 runs alone when the
language is not given (a language given by staff removes that step: then 8 workers give
the ladder's 5.4 s). Not included: each worker's model load, S3 transfers (the source
to every chunk's worker; the per-window WAVs are ~19 MB per 10 min), Prefect's task
overhead. --real2 (chunks two at a time on these same 2 cores): 28.2 s against 30.1 s one
at a time, identical playlists: parallel tasks do not disturb the output; no speed-up is
possible on 2 cores, as expected.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import LECTURE_PARAGRAPHS, OUT, ff, fresh_dir, load_average, speech_paragraphs, table  # noqa: E402

from medialib.config import load_settings  # noqa: E402
from medialib.media import chunks  # noqa: E402
from medialib.media.ladder import plan_ladder, transcode_ladder  # noqa: E402
from medialib.media.probe import probe_media  # noqa: E402
from medialib.speech import windows as sw  # noqa: E402
from medialib.speech.whisper import load_model  # noqa: E402


def schedule(tasks: list[tuple[str, float, float]], workers: int) -> float:
    """Makespan of (name, duration, release time) tasks taken in list order by the first free worker."""
    free = [0.0] * workers
    heapq.heapify(free)
    end = 0.0
    for _, dur, release in tasks:
        start = max(heapq.heappop(free), release)
        heapq.heappush(free, start + dur)
        end = max(end, start + dur)
    return end


def source(seconds: float, size: str) -> Path:
    out = OUT / f"chunked-{int(seconds)}s-{size}.mp4"
    if out.exists():
        return out
    wav = speech_paragraphs(LECTURE_PARAGRAPHS * 4, OUT / "chunked-speech.wav", gaps_s=(1.5, 1.0, 2.0))
    ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25", "-i", str(wav), "-t", str(seconds), "-map", "0:v", "-map", "1:a",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", str(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--scale", type=float, default=15)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--real2", action="store_true")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    s = load_settings()
    chunk_s, window_s = s.chunks.ladder_chunk_s / a.scale, s.chunks.speech_window_s / a.scale
    search_s = s.chunks.speech_search_s / a.scale
    src = source(a.seconds, a.size)
    info = probe_media(src)
    opts = s.ladder
    work = fresh_dir(OUT / "chunked-work")
    load = [load_average()]

    t = time.monotonic()
    transcode_ladder(src, info, opts, work / "single")
    single_ladder_s = time.monotonic() - t
    ladder = plan_ladder(info, opts)
    plan = chunks.plan_chunks(info.duration_s, ladder, opts.gop_s, chunk_s)
    chunk_runs = [chunks.encode_chunk(src, info, ladder, opts, c, work / f"chunk{c.index}") for c in plan]
    t = time.monotonic()
    audio = chunks.encode_audio(src, info, ladder, opts, work / "audio")
    audio_s = time.monotonic() - t  # includes the encoder-delay probe
    t = time.monotonic()
    chunks.join_chunks([Path(r.out_dir) for r in chunk_runs], work / "audio", ladder, work / "joined")
    join_s = time.monotonic() - t
    load.append(load_average())

    wav16 = work / "speech16.wav"
    ff("-i", str(src), "-vn", "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(wav16))
    load_model(s.speech.model, s.speech.device, s.speech.compute_type, s.speech.cpu_threads)  # loaded once per worker
    wins = sw.plan_windows(wav16, window_s, search_s=search_s)
    window_runs = []
    parts = []
    lang = None
    for w in wins:
        t = time.monotonic()
        tr = sw.transcribe_window(sw.cut_window(wav16, w, work / f"w{w.index}.wav"), w, s.speech, language=lang)
        window_runs.append(time.monotonic() - t)
        lang = lang or tr.language
        parts.append(tr)
    t = time.monotonic()
    merged = sw.merge_windows(wins, parts, max_repeats=s.speech.max_repeats)
    merge_s = time.monotonic() - t
    load.append(load_average())

    real2 = None
    if a.real2:
        t = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            rs = list(pool.map(lambda c: chunks.encode_chunk(src, info, ladder, opts, c, work / f"r2-{c.index}"), plan))
        chunks.join_chunks([Path(r.out_dir) for r in rs], work / "audio", ladder, work / "joined2")
        same = all((work / "joined" / r.name / "index.m3u8").read_text() == (work / "joined2" / r.name / "index.m3u8").read_text()
                   for r in ladder.video)
        real2 = {"wall_s": round(time.monotonic() - t, 1), "playlists_equal": same}

    ladder_tasks = [(f"chunk{r.chunk.index}", r.wall_s, 0.0) for r in chunk_runs] + [("audio", audio_s, 0.0)]
    rows, out_rows = [], []
    for wk in (1, 2, 4, 8):
        lad = schedule(ladder_tasks, wk) + join_s
        w0 = window_runs[0]
        sp = schedule([("w0", w0, 0.0)] + [(f"w{i}", d, w0) for i, d in enumerate(window_runs[1:], 1)], wk) + merge_s
        both = schedule(sorted([("w0", w0, 0.0)] + ladder_tasks + [(f"w{i}", d, w0) for i, d in enumerate(window_runs[1:], 1)],
                               key=lambda x: x[2]), wk) + max(join_s, merge_s)
        rows.append((wk, round(lad, 1), round(sp, 1), round(both, 1), round(both * a.scale / 60, 1)))
        out_rows.append(dict(zip(("workers", "ladder_s", "speech_s", "both_s", "both_30min_est_min"), rows[-1])))
    out = {
        "source": {"seconds": info.duration_s, "size": a.size, "rungs": [r.name for r in ladder.video]},
        "scale": a.scale, "chunk_s": chunk_s, "window_s": window_s,
        "single_pass_ladder_s": round(single_ladder_s, 1),
        "chunks_s": [round(r.wall_s, 1) for r in chunk_runs], "chunks_cpu_s": [round(r.cpu_s, 1) for r in chunk_runs],
        "audio_s": round(audio_s, 1), "audio_ffmpeg_s": round(audio.wall_s, 1), "join_s": round(join_s, 2),
        "windows": [(w.start_ms, w.end_ms) for w in wins], "windows_s": [round(x, 1) for x in window_runs],
        "merge_s": round(merge_s, 3), "words": len(merged.words),
        "wall_for_workers": out_rows, "load_average": load, "real2": real2,
    }
    print(table(("workers", "ladder s", "speech s", "both s", "x scale: min"), rows))
    print(json.dumps(out, indent=1))
    (OUT / "chunked.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
