"""Publishing a bundle in phases: segments and subtitles first, media playlists next, the master playlist last (the switch).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from medialib.config import StorageOptions
from medialib.errors import InputError
from medialib.storage.s3 import Progress, PublishReport, upload_tree

log = logging.getLogger(__name__)


def _publish_phase(rel: str) -> int:
    """0 media and everything else, 1 media/subtitle playlists, 2 master.m3u8 and audio.m3u8, 3 manifest.json, 4 index.html."""
    name = PurePosixPath(rel).name
    if name == "index.html":
        return 4
    if name == "manifest.json":
        return 3
    if name in ("master.m3u8", "audio.m3u8"):  # both masters: after every playlist they name
        return 2
    if name.endswith(".m3u8"):
        return 1
    return 0


def publish_bundle(client, opts: StorageOptions, local_dir: Path, prefix: str, *,
                   progress: Progress | None = None) -> PublishReport:
    """Publish a bundle so no reader ever sees a playlist pointing at a missing object.

    A PUT is atomic, so the master playlist is the switch: segments, subtitles and assets
    first (in parallel), then the media/subtitle playlists, then master.m3u8, then
    manifest.json and index.html. Unchanged objects are skipped, so re-publishing the
    same bundle sends 0 bytes. A failure stops before the next phase starts.
    """
    if not prefix.strip("/"):
        raise InputError("publish_bundle needs a prefix such as 'lectures/<lecture-id>', not the bucket root")
    # The later phases are one or a few small files: one by one keeps their order exact.
    report = upload_tree(client, opts, opts.publish_bucket, prefix, local_dir, progress=progress,
                         phase_of=_publish_phase, one_by_one_from=2)
    log.info("published %s: %d uploaded (%d bytes), %d unchanged", prefix, len(report.uploaded),
             report.uploaded_bytes, len(report.skipped))
    return report
