"""A real event of two tone clips (3 s and 4 s, no speech), through real process_lecture runs nested in process_event.

About 12 s on 2 busy cores: the fake-lecture tests cover the window and failures; this
one proves the nested runs share storage and the harness, publish under the event, and
that a re-run skips both without ingesting. (Two clips of the same bytes collided here
once; validation now refuses them.)
"""

from __future__ import annotations

import clips


def test_two_real_recordings_publish_and_a_rerun_skips_both(flow_harness, storage_opts, tmp_path):
    from medialib import storage
    from medialib.publish.catalog import read_catalog
    from medialib_flows.process_event import process_event, subscribe

    for name, seconds in (("one", 3), ("two", 4)):
        clips.with_tone(tmp_path / f"{name}.mp4", seconds=seconds, size="320x180")
    (tmp_path / "manifest.toml").write_text(
        '[event]\nname = "Tiny event"\ndate = 2026-11-28\n'
        '[[recording]]\nfile = "one.mp4"\ntitle = "Tiny one"\nlanguage = "en"\n'
        '[[recording]]\nfile = "two.mp4"\ntitle = "Tiny two"\nlanguage = "en"\nrecorded_date = 2026-11-29\n',
        encoding="utf-8")
    heard = []
    unsubscribe = subscribe(lambda what, spec, detail: heard.append((what, spec.index, detail)))
    try:
        first = process_event(manifest=str(tmp_path / "manifest.toml"), limit=2)
    finally:
        unsubscribe()
    assert [(o.status, o.title) for o in first.outcomes] == [("published", "Tiny one"), ("published", "Tiny two")]
    stages = {i: [d for w, n, d in heard if w == "stage" and n == i] for i in (1, 2)}
    for i in (1, 2):    # each lecture's stages, announced once each as it enters them
        assert {"ingest", "ladder", "audio", "transcribe", "publish"} <= set(stages[i]), stages
        assert len(stages[i]) == len(set(stages[i])) and stages[i][0] == "ingest" and stages[i][-1] == "publish"
    assert [w for w, n, d in heard if n == 1 and w != "stage"] == ["started", "finished"]
    ids = [o.lecture_id for o in first.outcomes]
    assert all(o.detail.endswith(f"/lectures/{i}/index.html") for o, i in zip(first.outcomes, ids))
    entries = {e["id"]: e for e in read_catalog(storage.make_client(storage_opts), storage_opts)}
    assert [(entries[i]["event"], entries[i]["event_date"], entries[i]["recorded_date"]) for i in ids] == [
        ("Tiny event", "2026-11-28", None), ("Tiny event", "2026-11-28", "2026-11-29")]
    again = process_event(manifest=str(tmp_path))       # the folder, its manifest beside the clips
    assert [(o.status, o.lecture_id) for o in again.outcomes] == [("skipped", ids[0]), ("skipped", ids[1])]
    assert all(o.seconds < 5 for o in again.outcomes)
