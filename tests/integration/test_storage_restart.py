"""Restarting the embedded S3 server on its fixed port while the cluster's forwarder offers that port.

weed mini 4.48 checks every port on -ip.bind and on the wildcard address [::] before it
starts: a listener on the S3 port on any other address (the forwarder of `medialib server
up` on the machine's network address) makes it exit with "Port allocation failed". A
second loopback address (127.0.0.2) stands in for the network address here.
"""

from __future__ import annotations

import os

import socket
import sys

import pytest

from medialib import storage
from medialib.config import load_settings
from medialib.errors import ConfigError
from medialib.storage import embedded
from medialib_app import cluster

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="127.0.0.2 is a local address on Linux only")

OTHER = "127.0.0.2"


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def test_a_listener_on_another_address_keeps_weed_off_the_port(tmp_path, monkeypatch):
    eo = load_settings(environ={}).embedded
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind((OTHER, 0))
        other.listen()
        port = other.getsockname()[1]
        assert embedded._bindable(socket.AF_INET, "127.0.0.1", port)   # free on loopback itself ...
        assert not embedded._port_free("127.0.0.1", port)               # ... but not for weed mini:
        ports = {**embedded._fill_ports(eo.host, {}), "s3.port": port}
        monkeypatch.setattr(embedded, "_choose_ports", lambda *a, **kw: ports)
        with pytest.raises(embedded._PortRace) as caught:
            embedded._launch(eo, tmp_path, embedded.weed_path(), ("MLTESTKEY", "x" * 40), detach=False,
                             fresh_ports=False)
        assert f"port {port} for S3" in caught.value.error.stderr_tail
        monkeypatch.undo()
        # A fixed S3 port held elsewhere: said before weed starts, naming the way out.
        with pytest.raises(ConfigError, match=rf"^port {port} is in use on another address of this machine.*"
                                              "`medialib storage up`"):
            embedded._choose_ports(eo.model_copy(update={"s3_port": port}), tmp_path, fresh=True)


@pytest.fixture
def server_machine(tmp_path, monkeypatch):
    """Settings of a server machine whose cluster.host is OTHER, with a fixed S3 port."""
    port = embedded._free_ports("127.0.0.1", 1)[0]
    for name in [n for n in os.environ if n.startswith("MEDIALIB_STORAGE__")]:   # another test's S3 endpoint
        monkeypatch.delenv(name)
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path))
    monkeypatch.setenv("MEDIALIB_CLUSTER__HOST", OTHER)
    monkeypatch.setenv("MEDIALIB_EMBEDDED__S3_PORT", str(port))
    monkeypatch.setattr(cluster, "_loopback", lambda host: False)   # OTHER plays a network address
    s = load_settings()
    try:
        yield s, port
    finally:
        cluster.storage_down(s)


def test_storage_restarts_on_its_port_under_the_forwarder(server_machine):
    s, port = server_machine
    info, endpoint = cluster.storage_up(s)
    assert endpoint == f"http://{OTHER}:{port}" and info.endpoint_url == f"http://127.0.0.1:{port}"
    opts = s.storage.model_copy(update={"endpoint_url": endpoint, "access_key_id": info.access_key_id,
                                        "secret_access_key": info.secret_access_key})
    client = storage.make_client(opts)
    storage.put_bytes(client, opts.archive_bucket, "work/x/kept.txt", b"survives restarts")
    assert cluster.storage_up(s)[0].pid == info.pid                    # running: kept as it is

    # The server dies under its forwarder (a crash, or only weed stopped): `storage up` brings it back.
    assert embedded.stop_server(s.embedded_data_dir())
    assert _listening(OTHER, port)
    again, endpoint2 = cluster.storage_up(s)
    assert again.pid != info.pid and (endpoint2, again.endpoint_url) == (endpoint, info.endpoint_url)
    assert storage.get_bytes(client, opts.archive_bucket, "work/x/kept.txt") == b"survives restarts"

    # The operator's stop and start, at once: the same port on both addresses.
    assert cluster.storage_down(s) == ["S3 port forwarder", "embedded S3 server"]
    assert not _listening(OTHER, port) and not _listening("127.0.0.1", port)
    third, endpoint3 = cluster.storage_up(s)
    assert endpoint3 == endpoint and third.pid not in (info.pid, again.pid)
    assert storage.get_bytes(client, opts.archive_bucket, "work/x/kept.txt") == b"survives restarts"
