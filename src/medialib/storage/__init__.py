"""Object storage: the S3 client with actionable errors, how buckets serve learners, the embedded SeaweedFS server."""

from __future__ import annotations

from .errors import (
    endpoint_of as endpoint_of,
    error_code as error_code,
    http_status as http_status,
    is_missing as is_missing,
    wrap_errors as wrap_errors,
)
from .s3 import (
    PublishReport as PublishReport,
    archive_original as archive_original,
    check_conditional_writes as check_conditional_writes,
    download_tree as download_tree,
    get_bytes as get_bytes,
    make_client as make_client,
    object_sha256 as object_sha256,
    public_url as public_url,
    put_bytes as put_bytes,
    put_bytes_if_absent as put_bytes_if_absent,
    put_file as put_file,
    upload_tree as upload_tree,
)
from .serving import (
    cache_control_for as cache_control_for,
    content_type_for as content_type_for,
    cors_rules as cors_rules,
    ensure_buckets as ensure_buckets,
    public_read_policy as public_read_policy,
)
from .embedded import (
    ServerInfo as ServerInfo,
    load_or_create_credentials as load_or_create_credentials,
    resolve_storage as resolve_storage,
    server_status as server_status,
    start_server as start_server,
    stop_server as stop_server,
    weed_log_files as weed_log_files,
    weed_path as weed_path,
)
