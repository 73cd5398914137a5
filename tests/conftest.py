"""Shared fixtures: one real SeaweedFS server on free loopback ports for the whole session."""

from __future__ import annotations

import json

import pytest

from medialib import storage
from medialib.config import StorageOptions, load_settings
from medialib.storage import embedded


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory) -> embedded.ServerInfo:
    """A real embedded SeaweedFS for the session, built from the repository defaults only.

    No MEDIALIB_* variables, free loopback ports, data in a temporary folder; stopped, with
    its socket files, when the session ends. Its data folder starts with a ports.json from
    before the admin port fix (admin.port 60000, which weed mini 4.48 cannot use), so every
    session starts through the repair; test_idle_server_is_quiet_and_cheap checks the result.
    """
    settings = load_settings(environ={})
    data_dir = tmp_path_factory.mktemp("seaweedfs")
    eo = settings.embedded.model_copy(update={"s3_port": 0, "data_dir": str(data_dir)})
    stored = dict(zip(embedded.PORT_FLAGS, embedded._free_ports(eo.host, len(embedded.PORT_FLAGS), avoid={60000})))
    (data_dir / embedded.PORTS_FILE).write_text(json.dumps({**stored, "admin.port": 60000}))
    # detach=False: also stopped at interpreter exit if the session dies before the finalizer runs.
    info = embedded.start_server(eo, data_dir, detach=False)
    try:
        yield info
    finally:
        # weed 4.48 sometimes hangs in its volume server's graceful stop (a volume grown while
        # shutting down): a test server need not wait 15 s for that before SIGKILL.
        embedded.stop_server(data_dir, timeout_s=5)


@pytest.fixture(scope="session")
def s3_server(embedded_server) -> StorageOptions:
    """Storage options for the session's embedded SeaweedFS (buckets, policy and CORS in place)."""
    st = load_settings(environ={}).storage
    opts = st.model_copy(update={
        "endpoint_url": embedded_server.endpoint_url,
        "access_key_id": embedded_server.access_key_id,
        "secret_access_key": embedded_server.secret_access_key,
        "public_base_url": f"{embedded_server.endpoint_url}/{st.publish_bucket}",
    })
    storage.ensure_buckets(storage.make_client(opts), opts)
    return opts


@pytest.fixture(scope="session")
def s3_client(s3_server):
    """A boto3 client for s3_server (thread-safe, shared)."""
    return storage.make_client(s3_server)
