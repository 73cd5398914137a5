"""The catalog entry a publish writes carries the event's and the recording's dates when the request has them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from medialib.pipeline import stages
from medialib.pipeline.records import LectureRequest
from medialib.recordjson import from_jsonable, to_jsonable


def _entry_written(monkeypatch, request) -> dict:
    written = {}
    monkeypatch.setattr(stages.upload, "publish_bundle",
                        lambda *a, **k: SimpleNamespace(uploaded=(), skipped=(), uploaded_bytes=0))
    monkeypatch.setattr(stages, "_update_catalog_if_changed", lambda client, opts, e: written.update(e))
    monkeypatch.setattr(stages, "publish_assets", lambda *a: {})
    monkeypatch.setattr(stages.storage, "public_url", lambda opts, key: f"http://x/{key}")
    record = SimpleNamespace(
        lecture=SimpleNamespace(request=request, ingested=SimpleNamespace(
            lecture_id="lec-1", info=SimpleNamespace(duration_s=60.0))),
        ladder=SimpleNamespace(poster_key=None), plans=(), tracks=())
    bundle = SimpleNamespace(root=None, languages=("ru",), notes=())
    stages._finish_publish(None, SimpleNamespace(publish_bucket="pub"), record, bundle, SimpleNamespace(language="ru"), None)
    return written


@pytest.mark.parametrize("dates, expected", [
    ({}, (None, None)),
    ({"event_date": "2026-03-10", "recorded_date": "2026-03-11"}, ("2026-03-10", "2026-03-11")),
])
def test_entry_dates_come_from_the_request(monkeypatch, dates, expected):
    e = _entry_written(monkeypatch, LectureRequest(source="a.mp4", title="T", event="E", **dates))
    assert (e["event_date"], e["recorded_date"]) == expected


def test_a_request_stored_before_the_dates_still_loads():
    data = to_jsonable(LectureRequest(source="a.mp4", title="T"))
    del data["event_date"], data["recorded_date"]
    assert from_jsonable(LectureRequest, data).event_date is None


def test_dates_are_checked_before_any_work():
    assert stages.check_date(" 2026-11-28 ", "event date") == "2026-11-28" and stages.check_date(None, "x") is None
    with pytest.raises(stages.InputError, match="YYYY-MM-DD"):
        stages.check_date("28.11.2026", "event date")
