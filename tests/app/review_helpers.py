"""The review app tests' helpers: a seeded lecture, logins (a module of its own name: every
test folder has a conftest.py, and `from conftest import` finds whichever was loaded first)."""

from __future__ import annotations

import json
import re
import uuid

from fastapi.testclient import TestClient

from medialib import keys, storage
from medialib.media.records import AudioStream, Ladder, MediaInfo, Rendition
from medialib.pipeline.plan import AudioRole, LanguagePlan
from medialib.pipeline.records import Ingested, LadderResult, Lecture, LectureRequest, PublishRecord, TrackResult
from medialib.pipeline.stages import PUBLISH_RECORD_SCHEMA
from medialib.publish.catalog import update_catalog
from medialib.recordjson import to_jsonable
from medialib.subtitles import Cue, Track, track_to_dict

PASSWORD = "correct horse battery"


def seed_lecture(opts, lang_texts: dict[str, list[str]], *, duration_s: float = 60.0, title: str = "Допрос") -> str:
    """A lecture as the pipeline leaves it: a publish record, one machine track per language, a catalog entry."""
    lecture_id = f"lec-{uuid.uuid4().hex[:8]}"
    client = storage.make_client(opts)
    results = []
    for lang, texts in lang_texts.items():
        cues = tuple(Cue(i * 3000, i * 3000 + 2500, t, confidence=0.9, risk=0.8 if i == 0 else 0.1)
                     for i, t in enumerate(texts))
        track = Track(lang, "asr", cues, model="whisper-base")
        key = keys.track(lecture_id, lang, "asr", uuid.uuid4().hex[:12])
        storage.put_bytes(client, opts.archive_bucket, key, json.dumps(track_to_dict(track)).encode())
        results.append(TrackResult(key=key, language=lang, origin="asr", cue_count=len(cues), model="whisper-base"))
    info = MediaInfo(name="x.mp4", size_bytes=1, duration_s=duration_s, container="mp4", video=None,
                     audio=(AudioStream(index=0, codec="aac", channels=2, sample_rate=48000, language="en"),))
    sha = uuid.uuid4().hex * 2
    rec = PublishRecord(
        lecture=Lecture(request=LectureRequest(source="x.mp4", title=title), roles=(AudioRole(0, "floor", "en"),),
                        ingested=Ingested(lecture_id, sha, "originals/x", info, "x.mp4", False)),
        ladder=LadderResult(prefix=f"work/{lecture_id}/ladder-x", poster_key=None,
                            ladder=Ladder(video=(), audio=Rendition("audio", "audio", audio_bitrate_kbps=128),
                                          frame_rate=25.0, gop_frames=50, segment_s=6.0)),
        transcript=None, tracks=tuple(results), plans=tuple(LanguagePlan(lang, "asr") for lang in lang_texts))
    storage.put_bytes(client, opts.archive_bucket, keys.publish_record(lecture_id),
                      json.dumps({"schema": PUBLISH_RECORD_SCHEMA, "record": to_jsonable(rec)}).encode())
    update_catalog(client, opts, {"id": lecture_id, "title": title, "languages": list(lang_texts),
                                  "duration_s": duration_s, "player": f"lectures/{lecture_id}/index.html",
                                  "published_at": "2026-12-01T00:00:00+00:00"})
    return lecture_id


def csrf_of(client: TestClient) -> str:
    page = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(app, name: str) -> TestClient:
    """A client logged in as name, with its CSRF token in the X-CSRF-Token header of every request."""
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client)
    r = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return client

