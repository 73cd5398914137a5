"""Subtitles-only republish of a 60-minute lecture against a full republish, in one process.

    .venv/bin/python bench/subtitles_republish.py [--minutes 60] [--cues 1000] [--rounds 3]

Budget (issue 7): the subtitles-only republish of a corrected track finishes in under
5 s and sends 0 bytes of video or audio segments. Both variants run in-process on a real
embedded SeaweedFS (free loopback port, temporary data), as `medialib lectures republish
ID [--subtitles-only]` runs them, without Prefect.

The lecture is cheap on purpose (what is measured is publishing, not encoding): a
320x180 test pattern with a tone, one 180p rung, 6 s segments, cached in bench/out/;
two subtitle languages (en, ru) of --cues synthetic cues each. Before every timed run a
translator's version of the English track (a few cues changed) is saved and made live,
so both variants publish a real change. Rounds alternate the order (A,B then B,A) and
the median is reported.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, ff, load_average, table, timed  # noqa: E402


def make_source(minutes: float) -> Path:
    out = OUT / f"republish-{minutes:g}min.mp4"
    if out.exists():
        return out
    OUT.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    tmp = out.with_name(f".{out.name}.part.mp4")
    ff("-f", "lavfi", "-i", f"testsrc=s=320x180:r=10:d={seconds}", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
       "-shortest", str(tmp))
    tmp.replace(out)
    return out


def synthetic_track(language: str, n: int, duration_ms: int):
    from medialib.subtitles import Cue, Track

    step = duration_ms // n
    words = ("witness", "question", "account", "interview", "memory", "detail", "record", "summary")
    cues = tuple(Cue(i * step, i * step + int(step * 0.8),
                     f"{language} cue {i + 1}: ask about the {words[i % len(words)]},\nthen listen carefully.",
                     confidence=0.5 + (i % 50) / 100, risk=(i % 10) / 10)
                 for i in range(n))
    return Track(language=language, origin="asr" if language == "en" else "machine-translation", cues=cues,
                 model="synthetic")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--cues", type=int, default=1000, help="cues per language")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    src = make_source(args.minutes)
    work = Path(tempfile.mkdtemp(prefix="bench-subs-"))
    os.environ["MEDIALIB_HOME"] = str(work / "home")
    from medialib import review, storage
    from medialib.config import Rung, load_settings
    from medialib.pipeline import stages
    from medialib.pipeline.records import LectureRequest, PublishRecord
    from medialib.storage import embedded
    from medialib.subtitles import Track
    from dataclasses import replace

    settings = load_settings(environ={"MEDIALIB_HOME": str(work / "home")})
    data_dir = work / "seaweedfs"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = embedded.start_server(settings.embedded.model_copy(update={"s3_port": 0}), data_dir, detach=False)
    try:
        opts = settings.storage.model_copy(update={
            "endpoint_url": server.endpoint_url, "access_key_id": server.access_key_id,
            "secret_access_key": server.secret_access_key,
            "public_base_url": f"{server.endpoint_url}/{settings.storage.publish_bucket}"})
        client = storage.make_client(opts)
        storage.ensure_buckets(client, opts)
        home = work / "home"
        ladder_opts = settings.ladder.model_copy(update={"preset": "ultrafast",
                                                         "rungs": (Rung(height=180, video_bitrate_kbps=150),)})
        print(f"encoding a {args.minutes:g}-minute source (one 180p rung)...", flush=True)
        lec = stages.start_lecture(LectureRequest(source=str(src), title="Benchmark lecture", language="en"), opts)
        ladder = stages.ladder_stage(lec.ingested, opts, ladder_opts, home, roles=lec.roles)
        lid = lec.ingested.lecture_id
        duration_ms = int(lec.ingested.info.duration_s * 1000)
        trs = tuple(stages._save_track(opts, lid, synthetic_track(lang, args.cues, duration_ms), "bench")
                    for lang in ("en", "ru"))
        record = PublishRecord(lecture=lec, ladder=ladder, transcript=None, tracks=trs, plans=())
        first = stages.publish_stage(record, opts, home, unreviewed=settings.review.unreviewed)
        print(f"published {lid}: {first.uploaded_count} objects, {first.uploaded_bytes / 1e6:.1f} MB "
              f"({first.video_bytes / 1e6:.1f} MB video/audio segments)", flush=True)

        edits = {"n": 0}

        def correct_english() -> None:
            """A translator saves a new version (5 cues changed) and a reviewer makes it live."""
            latest = review.latest_version(client, opts.archive_bucket, lid, "en")
            edits["n"] += 1
            cues = list(latest.track.cues)
            for i in range(0, len(cues), max(1, len(cues) // 5))[:5]:
                cues[i] = replace(cues[i], text=f"corrected {edits['n']}: {cues[i].text}")
            v = review.create_version(client, opts.archive_bucket, lid, "en",
                                      Track("en", latest.track.origin, tuple(cues), latest.track.model),
                                      base=latest.number, author="translator")
            review.set_live(client, opts.archive_bucket, lid, "en", v.number, approved=True, by="reviewer")

        variants = {
            "subtitles": lambda: stages.publish_subtitles(lid, opts, home, unreviewed=settings.review.unreviewed),
            "full": lambda: stages.republish_lecture(lid, opts, home, unreviewed=settings.review.unreviewed),
        }
        load_before = load_average()
        samples = {name: [] for name in variants}
        for r in range(args.rounds):
            for name in (list(variants) if r % 2 == 0 else list(variants)[::-1]):
                correct_english()
                sample, published = timed(variants[name])
                samples[name].append((sample, published))
                print(f"  round {r + 1}/{args.rounds} {name:<10} wall {sample.wall_s:6.2f} s  "
                      f"sent {published.uploaded_count} objects {published.uploaded_bytes / 1e6:.2f} MB, "
                      f"video {published.video_bytes} B", flush=True)
        load_after = load_average()
    finally:
        embedded.stop_server(data_dir)

    import statistics

    rows = []
    med = {}
    for name, runs in samples.items():
        med[name] = statistics.median(s.wall_s for s, _ in runs)
        last = runs[-1][1]
        rows.append((name, med[name], statistics.median(s.cpu_s for s, _ in runs), last.uploaded_count,
                     f"{last.uploaded_bytes / 1e6:.3f} MB", max(p.video_bytes for _, p in runs)))
    print()
    print(f"{args.minutes:g}-minute lecture, {args.cues} cues x 2 languages, {args.rounds} rounds; "
          f"load average {load_before:.2f} before, {load_after:.2f} after; {os.cpu_count()} cores")
    print(table(("variant", "wall s (median)", "cpu s", "objects sent", "bytes sent", "video bytes (max)"), rows))
    ratio = med["full"] / med["subtitles"] if med["subtitles"] else float("inf")
    ok = med["subtitles"] < 5.0 and all(p.video_bytes == 0 for _, p in samples["subtitles"])
    print(f"\nsubtitles-only is {ratio:.1f}x faster than a full republish; budget: < 5 s and 0 video bytes: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
