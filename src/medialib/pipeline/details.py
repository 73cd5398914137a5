"""A published lecture's details (title, speaker, event, dates), changed after publish.

The details live in the lecture's publish record (archive bucket); the page, manifest,
transcript and catalog entry are made from it. So an edit rewrites the record, then
republishes the subtitles-only way (`stages.publish_subtitles`): the page, manifest and
catalog get the new details, and no video segment is read or sent. The lecture id
stays, so links keep working. If the republish fails after the record was written, the
same edit run again finishes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from medialib import keys, storage
from medialib.config import StorageOptions
from medialib.errors import InputError
from medialib.pipeline import stages
from medialib.pipeline.records import Progress, Published
from medialib.recordjson import to_jsonable

EDITABLE = ("title", "speaker", "event", "event_date", "recorded_date")


def check_changes(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """The changes, normalised (stripped, ISO dates, "" as None); InputError for an empty title, a bad date, none."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValueError(f"not editable: {unknown}; editable: {EDITABLE}")
    if not changes:
        raise InputError("nothing to change; pass --title, --speaker, --event, --event-date or --recorded-date")
    out: dict[str, str | None] = {}
    for name, value in changes.items():
        value = value.strip() if isinstance(value, str) else value
        if name == "title":
            if not value:
                raise InputError("--title: a lecture needs a title; give one, e.g. --title \"Допрос свидетеля\"")
            out[name] = value
        elif name in ("event_date", "recorded_date"):
            out[name] = stages.check_date(value, name.replace("_", " "))   # "" clears it
        else:
            out[name] = value or None                                     # "" clears it
    return out


def edit_lecture_details(lecture_id: str, opts: StorageOptions, home: Path, changes: Mapping[str, str | None], *,
                         unreviewed: str = "label", progress: Progress | None = None) -> Published:
    """Change a published lecture's details and republish its page and catalog entry (no segment sent).

    changes: some of EDITABLE; "" clears speaker, event or a date. NotFoundError when the
    lecture was never published here.
    """
    clean = check_changes(changes)
    record = stages.load_publish_record(lecture_id, opts)
    request = replace(record.lecture.request, **clean)
    if request != record.lecture.request:
        edited = replace(record, lecture=replace(record.lecture, request=request))
        storage.put_bytes(storage.make_client(opts), opts.archive_bucket, keys.publish_record(lecture_id),
                          json.dumps({"schema": stages.PUBLISH_RECORD_SCHEMA, "record": to_jsonable(edited)},
                                     ensure_ascii=False).encode(), content_type="application/json")
    return stages.publish_subtitles(lecture_id, opts, home, unreviewed=unreviewed, progress=progress)
