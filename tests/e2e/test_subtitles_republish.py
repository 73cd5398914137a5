"""A translator's correction reaches learners without touching the video (issue 7, item 8).

The stages run directly (no Prefect, no Whisper: the machine track is written as the cue
stage would), on the session's real SeaweedFS and a 6-second clip with one small rung.
"""

from __future__ import annotations

import json

import clips
import pytest

from medialib import review, storage
from medialib.config import Rung, load_settings
from medialib.pipeline import stages
from medialib.pipeline.records import LectureRequest, PublishRecord
from medialib.subtitles import Cue, Track

MACHINE = Track(language="en", origin="asr", model="whisper-base", cues=(
    Cue(0, 1500, "Good mornin.", confidence=0.41, risk=0.8, flags=("low-confidence",)),
    Cue(2000, 3500, "Ask open questions.", confidence=0.93, risk=0.1),
))


def _objects(client, bucket: str, prefix: str) -> dict[str, str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture(scope="module")
def lecture(s3_server, tmp_path_factory):
    d = tmp_path_factory.mktemp("subs-only")
    src = clips.with_tone(d / "talk.mp4", seconds=6, size="320x180")
    ladder_opts = load_settings(environ={}).ladder.model_copy(update={"rungs": (Rung(height=180,
                                                                                     video_bitrate_kbps=200),)})
    home = d / "home"
    lec = stages.start_lecture(LectureRequest(source=str(src), title="Open questions"), s3_server)
    ladder = stages.ladder_stage(lec.ingested, s3_server, ladder_opts, home, roles=lec.roles)
    return lec, ladder, home


def _record(opts, lec, ladder, track: Track, digest: str) -> PublishRecord:
    tr = stages._save_track(opts, lec.ingested.lecture_id, track, digest)
    return PublishRecord(lecture=lec, ladder=ladder, transcript=None, tracks=(tr,), plans=())


def test_a_correction_republishes_only_the_subtitles_and_survives_a_rerun(s3_server, s3_client, lecture):
    lec, ladder, home = lecture
    lid = lec.ingested.lecture_id
    prefix = f"lectures/{lid}"
    pub, arch = s3_server.publish_bucket, s3_server.archive_bucket

    def text(rel: str) -> str:
        return storage.get_bytes(s3_client, pub, f"{prefix}/{rel}").decode()

    record = _record(s3_server, lec, ladder, MACHINE, "m1")
    # "hide": unapproved machine subtitles are not published at all
    hidden = stages.publish_stage(record, s3_server, home, unreviewed="hide")
    assert hidden.languages == () and hidden.video_bytes > 0
    assert "TYPE=SUBTITLES" not in text("master.m3u8")
    # "label" (the default): published, named machine-made, files named after the version
    first = stages.publish_stage(record, s3_server, home)
    assert first.languages == ("en",) and first.video_bytes == 0          # segments were already there
    assert 'NAME="English (machine)"' in text("master.m3u8") and "English (machine)" in text("index.html")
    low_data = text("audio.m3u8")                       # the low-data master: audio only, same subtitle group
    assert 'NAME="English (machine)"' in low_data and "RESOLUTION=" not in low_data
    assert '"audio_master":"audio.m3u8"' in text("index.html")
    assert "Good mornin." in text("subtitles/en/v1.vtt")
    segments = {k: e for k, e in _objects(s3_client, pub, f"{prefix}/video/").items() if not k.endswith(".m3u8")}
    assert segments
    panel_v1 = json.loads(text("manifest.json"))["transcript"]
    assert f'"transcript":"{panel_v1}"' in text("index.html")
    assert json.loads(text(panel_v1))["tracks"][0]["cues"][0] == [0, 1500, "Good mornin."]

    # a translator corrects cue 1, a reviewer approves: version 2, live
    v1 = review.load_version(s3_client, arch, lid, "en", 1)
    fixed = Track(language="en", origin="asr", model="whisper-base",
                  cues=(Cue(0, 1500, "Good morning.", id="c00001"), v1.track.cues[1]))
    v2 = review.create_version(s3_client, arch, lid, "en", fixed, base=1, author="anna")
    review.set_live(s3_client, arch, lid, "en", v2.number, approved=True, by="vera")

    done = stages.publish_subtitles(lid, s3_server, home)
    assert done.video_bytes == 0 and done.languages == ("en",)
    assert {k: e for k, e in _objects(s3_client, pub, f"{prefix}/video/").items()
            if not k.endswith(".m3u8")} == segments                       # not one segment rewritten
    vtt = text("subtitles/en/v2.vtt")
    assert "Good morning." in vtt and "X-TIMESTAMP-MAP=MPEGTS:" in vtt
    assert "Good mornin." in text("subtitles/en/v1.vtt")                  # old file kept for cached players
    assert "\nv2.vtt\n" in text("subtitles/en/index.m3u8")
    master = text("master.m3u8")
    assert 'NAME="English",' in master and "(machine)" not in master and 'SUBTITLES="subs"' in master
    assert 'NAME="English",' in text("audio.m3u8") and "(machine)" not in text("audio.m3u8")
    cues = json.loads(text("transcript.json"))["tracks"][0]["cues"]
    assert [(c["id"], c["origin"], c["editor"], c["version"], c["risk"], c["flags"]) for c in cues] == [
        ("c00001", "human", "anna", 2, 0.0, []), ("c00002", "asr", None, 0, 0.1, [])]
    manifest = json.loads(text("manifest.json"))
    assert [(s["version"], s["machine_made"]) for s in manifest["subtitles"]] == [(2, False)]
    # the panel's transcript changed name with the subtitles, in the same page; the old one stays for cached pages
    panel_v2 = manifest["transcript"]
    assert panel_v2 != panel_v1 and f'"transcript":"{panel_v2}"' in text("index.html")
    assert json.loads(text(panel_v2))["tracks"][0]["cues"][0] == [0, 1500, "Good morning."]
    assert "Good mornin." in text(panel_v1)
    again = stages.publish_subtitles(lid, s3_server, home)
    assert again.uploaded_count == 0 and again.video_bytes == 0          # nothing changed, nothing sent

    # a re-run with a better model: kept as machine version 3, the translator's version stays live
    better = Track(language="en", origin="asr", model="whisper-small",
                   cues=(Cue(0, 1500, "Good morning all."), Cue(2000, 3500, "Ask open questions.")))
    rerun = stages.publish_stage(_record(s3_server, lec, ladder, better, "m2"), s3_server, home)
    assert rerun.video_bytes == 0
    assert [review.load_version(s3_client, arch, lid, "en", n).kind
            for n in review.list_versions(s3_client, arch, lid, "en")] == ["machine", "human", "machine"]
    assert json.loads(text("manifest.json"))["subtitles"][0]["version"] == 2
    assert "Good morning." in text("subtitles/en/v2.vtt") and "all" not in text("subtitles/en/v2.vtt")
