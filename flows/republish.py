"""republish_lectures: rebuild pages, playlists and subtitles of published lectures from what is stored.

No transcoding, no transcription: a player fix or a corrected track reaches lectures
already published, and only what changed is sent. One lecture failing does not stop
the others: each failure comes back as a RepublishFailure (logged as an error), and the
caller (the CLI) says which failed and exits non-zero.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from medialib.config import medialib_home
from medialib.pipeline import stages
from medialib.pipeline.records import Published, RepublishFailure
from medialib.publish.catalog import read_catalog
from medialib.storage.embedded import resolve_storage
from medialib.storage.s3 import make_client

from .process_lecture import _transient_only, settings
from .progress import reporter


@task(name="republish", retry_condition_fn=_transient_only)
def republish_task(lecture_id: str, opts, unreviewed: str = "label") -> Published:
    return stages.republish_lecture(lecture_id, opts, medialib_home(), unreviewed=unreviewed,
                                    progress=reporter("publish", get_run_logger()))


@flow(name="republish-lectures", log_prints=False)
def republish_lectures(lecture_ids: list[str] | None = None) -> list[Published | RepublishFailure]:
    """Republish the given lectures, or every lecture in the catalog when none are given; one result each, in order."""
    s = settings()
    opts = resolve_storage(s)
    ids = lecture_ids or [e["id"] for e in read_catalog(make_client(opts), opts)]
    run = republish_task.with_options(retries=s.flow.retries, retry_delay_seconds=s.flow.retry_delays())
    futures = [run.submit(i, opts, s.review.unreviewed) for i in ids]
    results: list[Published | RepublishFailure] = []
    for lecture_id, f in zip(ids, futures):
        try:
            results.append(f.result())
        except Exception as e:   # noqa: BLE001 - any one lecture's failure is reported, the others go on
            failure = stages.republish_failure(lecture_id, e)
            get_run_logger().error("%s: not republished: %s", lecture_id, failure.message)
            results.append(failure)
    return results
