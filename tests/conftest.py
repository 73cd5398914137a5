"""Shared fixtures: one real SeaweedFS server on free loopback ports for the whole session."""

from __future__ import annotations

import pytest

from medialib import storage
from medialib.config import StorageOptions, load_settings
from medialib.storage import embedded


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> StorageOptions:
    """Storage options for a real embedded SeaweedFS (buckets, policy and CORS in place).

    Built from the repository defaults only (no MEDIALIB_* variables), on free ports, with
    data in a temporary folder; stopped, with its socket files, when the session ends.
    """
    settings = load_settings(environ={})
    data_dir = tmp_path_factory.mktemp("seaweedfs")
    eo = settings.embedded.model_copy(update={"s3_port": 0, "data_dir": str(data_dir)})
    # detach=False: also stopped at interpreter exit if the session dies before the finalizer runs.
    info = embedded.start_server(eo, data_dir, detach=False)
    try:
        opts = settings.storage.model_copy(update={
            "endpoint_url": info.endpoint_url,
            "access_key_id": info.access_key_id,
            "secret_access_key": info.secret_access_key,
            "public_base_url": f"{info.endpoint_url}/{settings.storage.publish_bucket}",
        })
        storage.ensure_buckets(storage.make_client(opts), opts)
        yield opts
    finally:
        # weed 4.48 sometimes hangs in its volume server's graceful stop (a volume grown while
        # shutting down): a test server need not wait 15 s for that before SIGKILL.
        embedded.stop_server(data_dir, timeout_s=5)


@pytest.fixture(scope="session")
def s3_client(s3_server):
    """A boto3 client for s3_server (thread-safe, shared)."""
    return storage.make_client(s3_server)
