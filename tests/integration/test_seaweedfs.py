"""The storage layer against a real SeaweedFS (weed mini) on loopback.

One server for the session (`s3_server`), plus one short-lived server for the
start/stop/restart test. What these pin down is what moto cannot: signatures, bucket
policy for anonymous readers, CORS preflights, ranges, persistence across restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from medialib import storage
from medialib.config import load_settings
from medialib.errors import ConfigError, OperatorError, TransientError
from medialib.publish import catalog, upload
from medialib.storage import embedded, serving


def http(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    """(status, headers, body) of an anonymous request; errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def make_bundle(root: Path, n_segments: int = 3) -> Path:
    (root / "video" / "720p").mkdir(parents=True)
    (root / "subtitles" / "en").mkdir(parents=True)
    for i in range(n_segments):
        (root / "video" / "720p" / f"seg_{i:03d}.m4s").write_bytes(os.urandom(2000 + i))
    (root / "video" / "720p" / "init.mp4").write_bytes(os.urandom(700))
    (root / "video" / "720p" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
    (root / "subtitles" / "en" / "v1.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
    (root / "subtitles" / "en" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
    (root / "master.m3u8").write_text("#EXTM3U\n")
    (root / "manifest.json").write_text("{}")
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    (root / "poster.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(100))
    return root


def listening_ports(pid: int) -> dict[int, str]:
    """port -> local address of every TCP socket the process listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:   # 0A: LISTEN
                addr, port = f[1].rsplit(":", 1)
                ip = ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)) if len(addr) == 8 else addr
                out[int(port, 16)] = ip
    return out


def socket_files(ports) -> list[str]:
    wanted = {str(p) for p in ports}
    return [p.name for p in Path("/tmp").glob("seaweedfs-*.sock") if p.stem.rsplit("-", 1)[-1] in wanted]


# ---------------------------------------------------------------- the server itself


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads listening sockets from /proc")
def test_server_start_status_stop_restart_keeps_data(tmp_path, s3_server):
    settings = load_settings(environ={})
    data_dir = tmp_path / "weed"
    eo = settings.embedded.model_copy(update={"s3_port": 0})

    # Started the way the CLI does it: by a process that then exits; the server lives on.
    code = ("import sys; from pathlib import Path; from medialib.storage import embedded; from medialib.config import "
            "EmbeddedOptions; embedded.start_server(EmbeddedOptions.model_validate_json(sys.argv[1]), Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, eo.model_dump_json(), str(data_dir)], check=True, timeout=90,
                   stdin=subprocess.DEVNULL)
    info = embedded.server_status(data_dir)
    used_ports: set[int] = set()
    try:
        assert info is not None
        # Beside the session's server: every port explicit, free, and on loopback only.
        ports = json.loads((data_dir / "ports.json").read_text())
        used_ports |= set(ports.values())
        assert set(ports) == set(embedded.PORT_FLAGS)
        want = {p: "127.0.0.1" for p in ports.values()}
        deadline = time.monotonic() + 15   # the admin server starts last, after S3 answers
        while listening_ports(info.pid) != want and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listening_ports(info.pid) == want
        assert info.endpoint_url == f"http://127.0.0.1:{ports['s3.port']}" != s3_server.endpoint_url
        creds = data_dir / "credentials.json"
        assert creds.stat().st_mode & 0o777 == 0o600
        assert json.loads(creds.read_text()) == {"access_key_id": info.access_key_id,
                                                 "secret_access_key": info.secret_access_key}
        assert embedded.start_server(eo, data_dir) == info          # found, not started twice

        opts = s3_server.model_copy(update={"endpoint_url": info.endpoint_url, "access_key_id": info.access_key_id,
                                            "secret_access_key": info.secret_access_key})
        client = storage.make_client(opts)
        storage.ensure_buckets(client, opts)
        storage.put_bytes(client, opts.archive_bucket, "work/x/kept.txt", b"survives restarts")

        assert embedded.stop_server(data_dir) is True               # not our child: signalled by pid group
        assert embedded.server_status(data_dir) is None
        assert not embedded._alive(info.pid)
        assert socket_files(ports.values()) == []
        assert embedded.stop_server(data_dir) is False

        again = embedded.start_server(eo, data_dir, detach=False)
        used_ports |= set(json.loads((data_dir / "ports.json").read_text()).values())
        # Same keys. The ports are reused when still free (another program may hold one by now).
        assert (again.access_key_id, again.secret_access_key) == (info.access_key_id, info.secret_access_key)
        client = storage.make_client(opts.model_copy(update={"endpoint_url": again.endpoint_url}))
        assert storage.get_bytes(client, opts.archive_bucket, "work/x/kept.txt") == b"survives restarts"

        # kill -9: no clean shutdown, a stale state file; the next start still finds the data.
        os.killpg(again.pid, signal.SIGKILL)
        os.waitpid(again.pid, 0)
        assert embedded.server_status(data_dir) is None
        third = embedded.start_server(eo, data_dir, detach=False)
        used_ports |= set(json.loads((data_dir / "ports.json").read_text()).values())
        assert third.pid != again.pid
        client = storage.make_client(opts.model_copy(update={"endpoint_url": third.endpoint_url}))
        assert storage.get_bytes(client, opts.archive_bucket, "work/x/kept.txt") == b"survives restarts"

        # No endpoint configured: resolve_storage finds this server and fills in the rest.
        resolved = embedded.resolve_storage(load_settings(environ={
            "MEDIALIB_EMBEDDED__DATA_DIR": str(data_dir), "MEDIALIB_EMBEDDED__S3_PORT": "0"}))
        assert (resolved.endpoint_url, resolved.access_key_id) == (third.endpoint_url, third.access_key_id)
        assert resolved.public_base_url == f"{third.endpoint_url}/{resolved.publish_bucket}"
        assert embedded.server_status(data_dir).pid == third.pid
    finally:
        embedded.stop_server(data_dir, timeout_s=5)
    assert socket_files(used_ports) == []


# ---------------------------------------------------------------- ports


def good_ports() -> dict[str, int]:
    return {"s3.port": 20001, "s3.port.grpc": 20002, "master.port": 20003, "master.port.grpc": 20004,
            "volume.port": 20005, "volume.port.grpc": 20006, "filer.port": 20007, "filer.port.grpc": 20008,
            "admin.port": 30000, "admin.port.grpc": 40000}


def test_port_problems_name_each_bad_port():
    assert embedded._port_problems(good_ports()) == {}
    assert embedded._port_problems({**good_ports(), "admin.port": 60000}) == {
        "admin.port": "60000 is above 55535: weed mini's worker dials admin.port + 10000, an invalid port",
        "admin.port.grpc": "replaced with its pair"}
    assert embedded._port_problems({**good_ports(), "admin.port.grpc": 40001}) == {
        "admin.port": "replaced with its pair",
        "admin.port.grpc": "40001 is not admin.port + 10000 = 40000, where weed mini's worker dials"}
    # The first flag keeps a duplicated port (s3 and the master first).
    assert embedded._port_problems({**good_ports(), "volume.port": 20001, "filer.port": 70000,
                                    "filer.port.grpc": "20008", "webdav.port": 7333}) == {
        "volume.port": "20001 is also s3.port", "filer.port": "70000 is not a port (1..65535)",
        "filer.port.grpc": "'20008' is not a port (1..65535)", "webdav.port": "unknown flag"}
    missing = good_ports()
    del missing["master.port"]
    assert embedded._port_problems(missing) == {"master.port": "missing"}


@pytest.mark.parametrize("damage", [
    {"admin.port": 60000},
    {"volume.port": "s3.port", "filer.port": 70000},
], ids=["admin-60000", "duplicate-and-out-of-range"])
def test_stored_ports_are_repaired_keeping_the_good_ones(tmp_path, caplog, damage):
    eo = load_settings(environ={}).embedded.model_copy(update={"s3_port": 0})
    stored = embedded._fill_ports(eo.host, {})        # free ports that follow every rule
    assert embedded._port_problems(stored) == {}
    damaged = {**stored, **{f: stored[v] if isinstance(v, str) else v for f, v in damage.items()}}
    (tmp_path / "ports.json").write_text(json.dumps(damaged))

    with caplog.at_level("WARNING", logger="medialib.embedded"):
        got = embedded._choose_ports(eo, tmp_path, fresh=False)

    assert embedded._port_problems(got) == {}
    assert got["admin.port"] <= 55535 and got["admin.port.grpc"] == got["admin.port"] + 10000
    replaced = set(embedded._port_problems(damaged))
    assert replaced >= set(damage)
    assert {f: p for f, p in got.items() if f not in replaced} == {f: p for f, p in stored.items() if f not in replaced}
    assert all(got[f] != damaged[f] for f in replaced)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{tmp_path / 'ports.json'}: repaired ")
    assert all(f"{f} {damaged[f]!r} -> {got[f]} (" in warning for f in replaced)


def test_fresh_ports_follow_the_admin_rule():
    for _ in range(20):
        ports = embedded._fill_ports("127.0.0.1", {})
        assert list(ports) == list(embedded.PORT_FLAGS) and embedded._port_problems(ports) == {}


def test_a_port_taken_at_start_is_found_in_weeds_log(tmp_path, monkeypatch):
    """weed exits on a taken port before it flushes its log files: the reason must still reach the error."""
    import socket

    eo = load_settings(environ={}).embedded.model_copy(update={"s3_port": 0})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {**embedded._fill_ports(eo.host, {}), "master.port": taken.getsockname()[1]}
        monkeypatch.setattr(embedded, "_choose_ports", lambda *a, **kw: ports)
        with pytest.raises(embedded._PortRace) as caught:
            embedded._launch(eo, tmp_path, embedded.weed_path(), ("MLTESTKEY", "x" * 40), detach=False,
                             fresh_ports=False)
    err = caught.value.error
    assert "Port allocation failed" in err.stderr_tail and f"port {ports['master.port']}" in str(err)
    assert socket_files(ports.values()) == []


def test_credentials_are_generated_once_and_private(tmp_path):
    first = embedded.load_or_create_credentials(tmp_path)
    assert embedded.load_or_create_credentials(tmp_path) == first
    assert len(first[0]) == 20 and len(first[1]) == 40
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600


def test_weed_is_the_venv_binary():
    assert embedded.weed_path().name == "weed"
    assert os.access(embedded.weed_path(), os.X_OK)


def test_non_loopback_host_is_refused(tmp_path):
    eo = load_settings(environ={}).embedded.model_copy(update={"host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="only listens on loopback"):
        embedded.start_server(eo, tmp_path)


def test_resolve_storage_returns_external_settings_unchanged():
    settings = load_settings(environ={"MEDIALIB_STORAGE__ENDPOINT_URL": "https://s3.example.org"})
    assert embedded.resolve_storage(settings) is settings.storage


# ---------------------------------------------------------------- anonymous access, CORS, ranges


@pytest.fixture(scope="module")
def policy_opts(s3_server, s3_client):
    """Own buckets, so root keys (index.html, catalog.json) do not touch the shared ones."""
    opts = s3_server.model_copy(update={"archive_bucket": "it-policy-archive", "publish_bucket": "it-policy-publish",
                                        "cors_allowed_origins": ("https://learn.example.org",)})
    storage.ensure_buckets(s3_client, opts)
    return opts


def test_anonymous_read_only_on_lectures_and_the_catalog(policy_opts, s3_client):
    ep, pub, arch = policy_opts.endpoint_url, policy_opts.publish_bucket, policy_opts.archive_bucket
    for key in ("lectures/l1/master.m3u8", "index.html", "catalog.json", "private/notes.txt", "lecturesX/a.txt",
                "lectures.txt", "search/ru/pagefind-entry.json", "assets/0123456789ab/catalog.js", "searchX.txt"):
        storage.put_bytes(s3_client, pub, key, b"x")
    storage.put_bytes(s3_client, arch, "originals/l1/abc.mp4", b"original")

    assert http(f"{ep}/{pub}/lectures/l1/master.m3u8")[0] == 200
    assert http(f"{ep}/{pub}/index.html")[0] == 200
    assert http(f"{ep}/{pub}/catalog.json")[0] == 200
    assert http(f"{ep}/{pub}/search/ru/pagefind-entry.json")[0] == 200
    assert http(f"{ep}/{pub}/assets/0123456789ab/catalog.js")[0] == 200
    assert http(f"{ep}/{pub}/lectures/l1/missing.m4s")[0] == 404
    for denied in (f"{pub}/private/notes.txt", f"{pub}/lecturesX/a.txt", f"{pub}/searchX.txt", f"{pub}/lectures.txt",
                   f"{arch}/originals/l1/abc.mp4", f"{pub}", f"{pub}?list-type=2", f"{arch}?list-type=2", ""):
        status, _, body = http(f"{ep}/{denied}")
        assert status == 403 and b"AccessDenied" in body, denied
    assert http(f"{ep}/{pub}/lectures/l1/evil.m3u8", "PUT", data=b"x")[0] == 403
    assert http(f"{ep}/{pub}/lectures/l1/master.m3u8", "DELETE")[0] == 403
    assert storage.get_bytes(s3_client, pub, "lectures/l1/master.m3u8") == b"x"


def test_policy_is_exactly_the_public_read_statement(policy_opts, s3_client):
    got = json.loads(s3_client.get_bucket_policy(Bucket=policy_opts.publish_bucket)["Policy"])
    assert serving._same_policy(got, storage.public_read_policy(policy_opts.publish_bucket))
    with pytest.raises(Exception):
        s3_client.get_bucket_policy(Bucket=policy_opts.archive_bucket)   # the archive has none

    # SeaweedFS hands the policy back normalised; ensure_buckets still sees it as unchanged.
    writes = []
    for op in ("PutBucketPolicy", "PutBucketCors", "CreateBucket"):
        s3_client.meta.events.register(f"before-parameter-build.s3.{op}", lambda **kw: writes.append(1),
                                       unique_id=f"test-{op}")
    try:
        storage.ensure_buckets(s3_client, policy_opts)
    finally:
        for op in ("PutBucketPolicy", "PutBucketCors", "CreateBucket"):
            s3_client.meta.events.unregister(f"before-parameter-build.s3.{op}", unique_id=f"test-{op}")
    assert writes == []


def test_cors_preflight_allows_the_configured_origin_with_range(policy_opts, s3_client):
    ep, pub = policy_opts.endpoint_url, policy_opts.publish_bucket
    storage.put_bytes(s3_client, pub, "lectures/l1/seg.m4s", b"0123456789")
    url = f"{ep}/{pub}/lectures/l1/seg.m4s"
    pre = {"Origin": "https://learn.example.org", "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "range"}
    status, headers, _ = http(url, "OPTIONS", pre)
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://learn.example.org"
    assert "GET" in headers["access-control-allow-methods"]
    assert "range" in headers["access-control-allow-headers"].lower()

    status, headers, _ = http(url, "OPTIONS", {**pre, "Origin": "https://elsewhere.example.com"})
    assert status == 403 and "access-control-allow-origin" not in headers

    status, headers, body = http(url, headers={"Origin": "https://learn.example.org", "Range": "bytes=2-4"})
    assert (status, body) == (206, b"234")
    assert headers["access-control-allow-origin"] == "https://learn.example.org"
    assert "content-range" in headers["access-control-expose-headers"].lower()


def test_session_server_allows_any_origin(s3_server, s3_client):
    storage.put_bytes(s3_client, s3_server.publish_bucket, "lectures/cors-any/a.vtt", b"WEBVTT\n")
    status, headers, _ = http(storage.public_url(s3_server, "lectures/cors-any/a.vtt"), "OPTIONS",
                              {"Origin": "http://localhost:8000", "Access-Control-Request-Method": "GET",
                               "Access-Control-Request-Headers": "Range"})
    assert status == 200 and headers["access-control-allow-origin"] in ("*", "http://localhost:8000")


def test_range_get_of_a_segment(s3_server, s3_client):
    data = os.urandom(10_000)
    storage.put_bytes(s3_client, s3_server.publish_bucket, "lectures/range/seg_000.m4s", data)
    status, headers, body = http(storage.public_url(s3_server, "lectures/range/seg_000.m4s"),
                                 headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == data[1000:2000]
    assert headers["content-range"] == "bytes 1000-1999/10000"
    assert headers["content-type"] == "video/iso.segment"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"


# ---------------------------------------------------------------- publishing


def test_publish_then_republish_sends_nothing(s3_server, s3_client, tmp_path):
    bundle = make_bundle(tmp_path / "bundle")
    prefix = "lectures/it-publish"
    seen = []
    first = upload.publish_bundle(s3_client, s3_server, bundle, prefix, progress=lambda d, t: seen.append((d, t)))
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    assert len(first.uploaded) == len(files) and first.skipped == () and first.uploaded_bytes == total
    assert first.uploaded[-3:] == (f"{prefix}/master.m3u8", f"{prefix}/manifest.json", f"{prefix}/index.html")
    assert seen[-1] == (total, total)

    for p in files:
        key = f"{prefix}/{p.relative_to(bundle).as_posix()}"
        status, headers, body = http(storage.public_url(s3_server, key))
        assert status == 200 and body == p.read_bytes(), key
        assert headers["content-type"] == storage.content_type_for(key), key
        assert headers["cache-control"] == storage.cache_control_for(key), key

    again = upload.publish_bundle(s3_client, s3_server, bundle, prefix)
    assert (again.uploaded, again.uploaded_bytes, len(again.skipped)) == ((), 0, len(files))

    (bundle / "video" / "720p" / "seg_001.m4s").write_bytes(b"changed")
    third = upload.publish_bundle(s3_client, s3_server, bundle, prefix)
    assert third.uploaded == (f"{prefix}/video/720p/seg_001.m4s",) and third.uploaded_bytes == 7


def test_multipart_upload_keeps_sha256_and_is_skipped_next_time(s3_server, s3_client, tmp_path):
    opts = s3_server.model_copy(update={"multipart_threshold_mb": 5})
    src = tmp_path / "work"
    src.mkdir()
    big = src / "speech-0.wav"
    big.write_bytes(os.urandom(6 * 1024 * 1024 + 123))
    report = storage.upload_tree(s3_client, opts, opts.archive_bucket, "work/it-multipart", src)
    assert report.uploaded == ("work/it-multipart/speech-0.wav",)
    key = report.uploaded[0]
    assert storage.object_sha256(s3_client, opts.archive_bucket, key) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert "-" in s3_client.head_object(Bucket=opts.archive_bucket, Key=key)["ETag"]   # really multipart
    assert storage.upload_tree(s3_client, opts, opts.archive_bucket, "work/it-multipart", src).uploaded == ()

    out = storage.download_tree(s3_client, opts.archive_bucket, "work/it-multipart", tmp_path / "back")
    assert out == [tmp_path / "back" / "speech-0.wav"]
    assert out[0].read_bytes() == big.read_bytes()


def test_archive_original_is_idempotent_and_private(s3_server, s3_client, tmp_path):
    original = tmp_path / "Lecture.MOV"
    original.write_bytes(b"recording" * 1000)
    sha = hashlib.sha256(original.read_bytes()).hexdigest()
    puts = []
    s3_client.meta.events.register("before-call.s3.PutObject", lambda params, **kw: puts.append(1))
    try:
        key = storage.archive_original(s3_client, s3_server, original, "it-archive-1", sha)
        assert key == f"originals/it-archive-1/{sha}.mov"
        assert storage.archive_original(s3_client, s3_server, original, "it-archive-1", sha) == key
    finally:
        s3_client.meta.events.unregister("before-call.s3.PutObject")
    assert len(puts) == 1
    assert storage.object_sha256(s3_client, s3_server.archive_bucket, key) == sha
    assert http(f"{s3_server.endpoint_url}/{s3_server.archive_bucket}/{key}")[0] == 403


def test_catalog_round_trip(s3_server, s3_client):
    opts = s3_server.model_copy(update={"publish_bucket": "it-catalog", "public_base_url": ""})
    storage.ensure_buckets(s3_client, opts)
    assert catalog.read_catalog(s3_client, opts) == []
    catalog.update_catalog(s3_client, opts, {"id": "a", "published_at": "2026-11-01T10:00:00+00:00"})
    catalog.update_catalog(s3_client, opts, {"id": "b", "published_at": "2026-11-02T10:00:00+00:00"})
    got = catalog.update_catalog(s3_client, opts, {"id": "a", "published_at": "2026-11-03T10:00:00Z", "title": "A2"})
    assert [e["id"] for e in got] == ["a", "b"] and got[0]["title"] == "A2"
    status, headers, body = http(storage.public_url(opts, "catalog.json"))
    assert status == 200 and json.loads(body) == got
    assert headers["content-type"] == "application/json" and headers["cache-control"] == "no-cache"


# ---------------------------------------------------------------- errors from a real server


def test_wrong_secret_names_what_to_check(s3_server):
    bad = storage.make_client(s3_server.model_copy(update={"secret_access_key": "wrong"}))
    with pytest.raises(OperatorError, match="check storage.secret_access_key"):
        storage.get_bytes(bad, s3_server.publish_bucket, "lectures/x")


def test_unknown_key_id_names_what_to_check(s3_server):
    bad = storage.make_client(s3_server.model_copy(update={"access_key_id": "NOSUCHKEY"}))
    with pytest.raises(OperatorError, match="check storage.access_key_id"):
        catalog.read_catalog(bad, s3_server)


def test_missing_bucket_is_an_operator_fault(s3_server, s3_client, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(OperatorError, match="bucket 'no-such-bucket' does not exist"):
        storage.put_file(s3_client, "no-such-bucket", "a.txt", tmp_path / "a.txt")


def test_stopped_server_is_transient(s3_server):
    import boto3
    from botocore.config import Config

    port = embedded._free_ports("127.0.0.1", 1)[0]
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    with pytest.raises(TransientError, match="cannot reach the S3 server"):
        storage.get_bytes(client, "b", "k")


# ---------------------------------------------------------------- idle cost (the one slow test: 30 s)


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of the live processes in a process group (from /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue   # gone meanwhile
        if int(fields[2]) == pgid:                      # fields after the name: state, ppid, pgrp, ...
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def test_session_server_started_through_the_port_repair(embedded_server):
    """The session's server began from a stored admin port of 60000 (see conftest)."""
    ports = json.loads((embedded_server.data_dir / "ports.json").read_text())
    assert ports["admin.port"] != 60000 and embedded._port_problems(ports) == {}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU times from /proc")
def test_idle_server_is_quiet_and_cheap(tmp_path):
    """A server of its own (an empty store: weed 4.48 idles higher once volumes exist, see the
    README), started from a stored admin port of 60000: its admin worker connects, and idle it
    logs no redial loop and costs under 2% of one core."""
    settings = load_settings(environ={})
    eo = settings.embedded.model_copy(update={"s3_port": 0, "data_dir": str(tmp_path)})
    stored = dict(zip(embedded.PORT_FLAGS, embedded._free_ports(eo.host, len(embedded.PORT_FLAGS), avoid={60000})))
    (tmp_path / embedded.PORTS_FILE).write_text(json.dumps({**stored, "admin.port": 60000}))
    info = embedded.start_server(eo, tmp_path, detach=False)
    try:
        ports = json.loads((tmp_path / "ports.json").read_text())
        assert ports["admin.port"] != 60000 and embedded._port_problems(ports) == {}
        started_at = json.loads((tmp_path / "server.json").read_text())["started_at"]
        time.sleep(max(0.0, started_at + 10 - time.time()))   # idle: past weed's own start-up work
        cpu_s, t0 = group_cpu_s(info.pid), time.monotonic()
        time.sleep(30)
        share = (group_cpu_s(info.pid) - cpu_s) / (time.monotonic() - t0)
        # weed flushes its log files every 30 s: by now its first 30 s are on disk (errors reach weed.log at once).
        time.sleep(max(0.0, started_at + 32 - time.time()))
        logged = "".join(p.read_text(errors="replace") for p in embedded.weed_log_files(tmp_path, info.pid))
    finally:
        embedded.stop_server(tmp_path, timeout_s=5)
    redials = [line for line in logged.splitlines() if "invalid port" in line or "connection refused" in line]
    assert redials == []
    assert f"Connected to admin server at 127.0.0.1:{ports['admin.port.grpc']}" in logged
    assert share < 0.02, f"idle weed used {share:.1%} of a core"
