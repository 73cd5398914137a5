"""Bytes stored per lecture-hour: archive bucket (by prefix), publish bucket, local work cache.

    .venv/bin/python bench/storage_bytes.py --minutes 2          # default ladder, 720p source

Processes one generated lecture (bench/pipeline.py's slides and espeak-ng speech) end
to end with the stage functions on a real SeaweedFS (free loopback port, temporary data),
without Prefect (the bytes do not depend on it), then lists both buckets and walks
$MEDIALIB_HOME/work. Figures are scaled to one hour of recording; the ladder's bytes
scale with duration, the page and catalog files do not (small at any length).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _group(key: str) -> str:
    """originals, work/ladder, work/speech, work/<other>, tracks, lectures(record), ..."""
    parts = key.split("/")
    if parts[0] == "work" and len(parts) > 2:
        name = parts[2]
        for kind in ("ladder", "speech", "transcript", "track"):
            if name.startswith(kind):
                return f"work/{kind}"
        return "work/other"
    if parts[0] == "work":
        return "work/index"
    return parts[0]


def bucket_bytes(client, bucket: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", ()):
            g = _group(o["Key"])
            out[g] = out.get(g, 0) + o["Size"]
    return out


def tree_bytes(root: Path) -> dict[str, int]:
    """Bytes under root, by the first two path parts (lecture folder / entry)."""
    out: dict[str, int] = {}
    if not root.is_dir():
        return out
    for p in root.rglob("*"):
        if p.is_file():
            rel = p.relative_to(root).parts
            name = rel[1] if len(rel) > 1 else rel[0]
            label = ("locks" if p.name.startswith(".") else "objects" if rel[0] == "objects"
                     else name.split("-")[0].split(".")[0])
            out[label] = out.get(label, 0) + p.stat().st_size
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--height", type=int, default=720)
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.pipeline import make_lecture

    src = make_lecture(a.minutes, a.height)
    work = Path(tempfile.mkdtemp(prefix="medialib-bytes-"))
    home = work / "home"
    os.environ.update({"MEDIALIB_HOME": str(home)})
    from medialib.config import load_settings
    from medialib.storage import embedded

    s = load_settings()
    data_dir = work / "seaweedfs"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = embedded.start_server(s.embedded.model_copy(update={"s3_port": 0}), data_dir, detach=False)
    try:
        os.environ.update({"MEDIALIB_STORAGE__ENDPOINT_URL": server.endpoint_url,
                           "MEDIALIB_STORAGE__ACCESS_KEY_ID": server.access_key_id,
                           "MEDIALIB_STORAGE__SECRET_ACCESS_KEY": server.secret_access_key})
        from medialib import storage
        from medialib.pipeline import stages
        from medialib.pipeline.records import LectureRequest, PublishRecord

        s = load_settings()
        opts = s.storage
        client = storage.make_client(opts)
        storage.ensure_buckets(client, opts)
        lecture = stages.start_lecture(LectureRequest(source=str(src), title="Storage bench", language="en"), opts)
        ing = lecture.ingested
        ladder = stages.ladder_stage(ing, opts, s.ladder, home, roles=lecture.roles)
        audio = stages.audio_stage(ing, opts, home)
        stages.peaks_stage(audio, ing.lecture_id, opts, home)
        transcript = stages.transcribe_stage(audio, ing.lecture_id, opts, s.speech, home, language="en")
        track = stages.cues_stage(transcript, ing.lecture_id, opts, s.subtitles)
        record = PublishRecord(lecture=lecture, ladder=ladder, transcript=transcript,
                               tracks=(track,) if track else (), plans=())
        stages.publish_stage(record, opts, home)
        local = tree_bytes(home / "work")
        trimmed = None
        if hasattr(stages, "after_lecture"):   # the cache trim that runs after each lecture
            stages.after_lecture(s.work, home)
            trimmed = tree_bytes(home / "work")
        hours = ing.info.duration_s / 3600
        archive, publish = bucket_bytes(client, opts.archive_bucket), bucket_bytes(client, opts.publish_bucket)
    finally:
        embedded.stop_server(data_dir)
        shutil.rmtree(work, ignore_errors=True)
    mb = 1e6

    def show(title: str, d: dict[str, int]) -> None:
        total = sum(d.values())
        print(f"{title}: {total / mb / hours:9.1f} MB per lecture-hour")
        for k in sorted(d):
            print(f"    {k:<18}{d[k] / mb / hours:9.1f}")

    print(f"input: {src.name} ({ing.info.duration_s:.0f} s, {ing.info.size_bytes / mb:.1f} MB); "
          f"default ladder {[r.height for r in s.ladder.rungs]}")
    show("archive bucket", archive)
    show("publish bucket", publish)
    show("local work cache", local)
    if trimmed is not None:
        show(f"local work cache after the trim to [work] max_cache_gb = {s.work.max_cache_gb:g}", trimmed)


if __name__ == "__main__":
    main()
