"""A lecture's details changed after publish: record, page and catalog follow; no segment is sent.

Stages run directly (no Prefect, no Whisper), on the session's real SeaweedFS and a
4-second clip with one small rung.
"""

from __future__ import annotations

import json

import clips
import pytest

from medialib import keys, storage
from medialib.config import Rung, load_settings
from medialib.errors import InputError, NotFoundError
from medialib.pipeline import stages
from medialib.pipeline.details import edit_lecture_details
from medialib.pipeline.records import LectureRequest, PublishRecord
from medialib.publish.catalog import read_catalog


@pytest.fixture(scope="module")
def published_lecture(s3_server, tmp_path_factory):
    d = tmp_path_factory.mktemp("edit")
    src = clips.with_tone(d / "edit-me.mp4", seconds=4, size="320x180")
    ladder_opts = load_settings(environ={}).ladder.model_copy(update={"rungs": (Rung(height=180,
                                                                                     video_bitrate_kbps=200),)})
    home = d / "home"
    lec = stages.start_lecture(LectureRequest(source=str(src), title="Old title", speaker="Someone",
                                              event="Day 1", event_date="2026-11-28"), s3_server)
    ladder = stages.ladder_stage(lec.ingested, s3_server, ladder_opts, home, roles=lec.roles)
    stages.publish_stage(PublishRecord(lecture=lec, ladder=ladder, transcript=None, tracks=(), plans=()),
                         s3_server, home)
    return lec.ingested.lecture_id, home


def test_edit_changes_record_page_and_catalog_without_sending_segments(s3_server, s3_client, published_lecture):
    lid, home = published_lecture
    done = edit_lecture_details(lid, s3_server, home, {"title": "Новое название", "speaker": "",
                                                       "recorded_date": "2026-11-27"})
    assert done.lecture_id == lid and done.video_bytes == 0
    request = stages.load_publish_record(lid, s3_server).lecture.request
    assert (request.title, request.speaker, request.event, request.event_date, request.recorded_date) == (
        "Новое название", None, "Day 1", "2026-11-28", "2026-11-27")
    entry = next(e for e in read_catalog(s3_client, s3_server) if e["id"] == lid)
    assert (entry["title"], entry["speaker"], entry["recorded_date"]) == ("Новое название", None, "2026-11-27")
    page = storage.get_bytes(s3_client, s3_server.publish_bucket, f"{keys.bundle_prefix(lid)}/index.html").decode()
    assert "Новое название" in page and "Old title" not in page
    manifest = json.loads(storage.get_bytes(s3_client, s3_server.publish_bucket,
                                            f"{keys.bundle_prefix(lid)}/manifest.json"))
    assert "Новое название" in json.dumps(manifest, ensure_ascii=False)
    again = edit_lecture_details(lid, s3_server, home, {"title": "Новое название"})
    assert again.uploaded_count == 0                        # nothing changed, nothing sent


def test_edit_refuses_bad_values_and_unknown_lectures(s3_server, published_lecture):
    lid, home = published_lecture
    with pytest.raises(InputError, match="nothing to change"):
        edit_lecture_details(lid, s3_server, home, {})
    with pytest.raises(InputError, match="a lecture needs a title"):
        edit_lecture_details(lid, s3_server, home, {"title": "  "})
    with pytest.raises(InputError, match="event date '28.11.2026' is not a date"):
        edit_lecture_details(lid, s3_server, home, {"event_date": "28.11.2026"})
    with pytest.raises(NotFoundError, match="no publish record"):
        edit_lecture_details("never-published-1", s3_server, home, {"title": "x"})
