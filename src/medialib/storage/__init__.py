"""Object storage: the S3 client with actionable errors, how buckets serve learners, the embedded SeaweedFS server."""

from __future__ import annotations

from .embedded import (
    ServerInfo,
    load_or_create_credentials,
    resolve_storage,
    server_status,
    start_server,
    stop_server,
    weed_path,
)
from .s3 import (
    PublishReport,
    archive_original,
    download_tree,
    get_bytes,
    make_client,
    object_sha256,
    public_url,
    put_bytes,
    put_file,
    upload_tree,
    wrap_errors,
)
from .serving import (
    cache_control_for,
    content_type_for,
    cors_rules,
    ensure_buckets,
    public_read_policy,
)
