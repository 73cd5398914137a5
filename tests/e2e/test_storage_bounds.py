"""Disk and storage stay bounded: no second copy of what is published, a capped local cache.

Shares the session's end-to-end run (conftest `published`). The last test unpublishes
the lecture and processes it again, so it leaves the lecture published as it found it.
"""

from __future__ import annotations

import pytest

from medialib import keys, storage
from medialib.pipeline import stages
from medialib.storage import cache

from conftest import TITLE

SEGMENT_SUFFIXES = (".m4s", ".mp4", ".ts", ".aac")


def _keys(client, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", ())]


def test_archive_keeps_no_second_copy_of_the_published_renditions(published, storage_opts):
    client = storage.make_client(storage_opts)
    lid = published.lecture_id
    work = _keys(client, storage_opts.archive_bucket, keys.work_prefix(lid) + "/")
    ladder = [k for k in work if "/ladder-" in k]
    assert ladder and not [k for k in ladder if k.endswith(SEGMENT_SUFFIXES) or k.endswith("index.m3u8")]
    assert any(k.endswith("/published.json") for k in ladder) and any(k.endswith("/poster.jpg") for k in ladder)
    published_video = _keys(client, storage_opts.publish_bucket, f"{keys.bundle_prefix(lid)}/video/")
    assert sum(k.endswith(".m4s") for k in published_video) >= 2
    # what cleanup must never touch
    assert _keys(client, storage_opts.archive_bucket, f"originals/{lid}/")
    assert storage.get_bytes(client, storage_opts.archive_bucket, keys.peaks(lid)) is not None
    assert any(k.endswith("/v1.json") for k in _keys(client, storage_opts.archive_bucket, f"tracks/{lid}/"))
    assert [k for k in work if "/transcript-" in k] and [k for k in work if "/track-" in k]
    assert [k for k in work if k.endswith("/speech-0.flac")] and not [k for k in work if k.endswith(".wav")]


def test_local_cache_holds_one_copy_of_ladder_and_speech(published, e2e_env):
    work = e2e_env / "work"
    assert not list(work.rglob("published-ladder")) and not list(work.rglob("*.wav"))
    assert len(list(work.rglob("speech-0.flac"))) == len({p.parent for p in work.rglob("speech-0.flac")})


def test_republish_with_an_empty_cache_reads_renditions_from_the_bundle(published, storage_opts, e2e_env):
    cache.trim_cache(e2e_env / "work", 0)
    assert not list((e2e_env / "work").rglob("*.m4s"))
    again = stages.republish_lecture(published.lecture_id, storage_opts, e2e_env)
    assert again.video_bytes == 0 and again.uploaded_count == 0   # the same bytes came back from the bundle
    assert list((e2e_env / "work").rglob("*.m4s"))   # one local copy, in the ladder's own folder


def test_after_unpublish_processing_again_encodes_the_ladder(published, storage_opts, lecture_clip, monkeypatch):
    from medialib import media
    from medialib.pipeline.records import LectureRequest
    from medialib.publish.catalog import unpublish_lecture
    from medialib_flows.process_lecture import process_lecture, settings

    client = storage.make_client(storage_opts)
    lecture = stages.start_lecture(LectureRequest(source=str(lecture_clip), title=TITLE), storage_opts)
    s = settings()
    assert not stages.ladder_missing(lecture.ingested, storage_opts, s.ladder, lecture.roles)
    unpublish_lecture(client, storage_opts, published.lecture_id)
    assert stages.ladder_missing(lecture.ingested, storage_opts, s.ladder, lecture.roles)
    cache.trim_cache(s.home() / "work", 0)   # no local copy either
    with pytest.raises(Exception, match="its renditions"):
        stages.republish_lecture(published.lecture_id, storage_opts, s.home())
    encodes = []
    real = media.transcode_ladder
    monkeypatch.setattr(media, "transcode_ladder", lambda *a, **k: encodes.append(1) or real(*a, **k))
    done = process_lecture(source=str(lecture_clip), title=TITLE, speaker="Instructor", event="Test workshop")
    assert encodes == [1] and done.lecture_id == published.lecture_id and done.video_bytes > 0
    assert not stages.ladder_missing(lecture.ingested, storage_opts, s.ladder, lecture.roles)
