"""Storage logic on moto: content types, skip-unchanged, publish order, error mapping.

moto checks no signatures, answers no CORS preflight and keeps nothing: what needs a real
server lives in tests/integration/test_seaweedfs.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from medialib import storage
from medialib.config import load_settings
from medialib.errors import ConfigError, InputError, NotFoundError, OperatorError, TransientError
from medialib.publish import catalog, upload


@pytest.fixture
def opts():
    return load_settings(environ={}).storage.model_copy(update={
        "endpoint_url": "https://s3.amazonaws.com", "access_key_id": "testing", "secret_access_key": "testing",
        "upload_workers": 4})


@pytest.fixture
def client(opts):
    with mock_aws():
        c = storage.make_client(opts)
        storage.ensure_buckets(c, opts)
        yield c


def calls(client, operation: str) -> list[dict]:
    """Records the API params of every `operation` the client sends, in order."""
    seen: list[dict] = []
    client.meta.events.register(f"before-parameter-build.s3.{operation}",
                                lambda params, **kw: seen.append(dict(params)))
    return seen


def fail(client, operation: str, code: str, status: int, when=lambda params: True, times: int = 1_000) -> list:
    """Answer `operation` with an S3 error (no request sent, no retries) while when(api params) holds."""
    hits: list = []

    def remember(params, context, **kw):
        context["test_api_params"] = dict(params)

    def answer(context, **kw):
        params = context.get("test_api_params", {})
        if when(params) and len(hits) < times:
            hits.append(params)
            return (AWSResponse("https://s3.amazonaws.com", status, {}, None),
                    {"Error": {"Code": code, "Message": f"simulated {code}"},
                     "ResponseMetadata": {"HTTPStatusCode": status}})
        return None

    client.meta.events.register(f"before-parameter-build.s3.{operation}", remember)
    client.meta.events.register_first(f"before-call.s3.{operation}", answer)
    return hits


def make_bundle(root: Path) -> Path:
    files = {
        "video/720p/init.mp4": os.urandom(300),
        "video/720p/seg_000.m4s": os.urandom(1000),
        "video/720p/seg_001.m4s": os.urandom(1001),
        "video/720p/index.m3u8": b"#EXTM3U\n",
        "video/360p/seg_000.m4s": os.urandom(500),
        "video/360p/index.m3u8": b"#EXTM3U\n",
        "subtitles/ru/v1.vtt": "WEBVTT\n\n00:00.000 --> 00:01.000\nпривет\n".encode(),
        "subtitles/ru/index.m3u8": b"#EXTM3U\n",
        "transcript.json": b"[]",
        "poster.jpg": os.urandom(200),
        "player.js": b"//",
        "master.m3u8": b"#EXTM3U\n",
        "manifest.json": b"{}",
        "index.html": b"<!doctype html>",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


# ---------------------------------------------------------------- content types and caching


@pytest.mark.parametrize("key, expected", [
    ("lectures/a/master.m3u8", "application/vnd.apple.mpegurl"),
    ("lectures/a/video/720p/seg_000.ts", "video/mp2t"),
    ("lectures/a/video/720p/SEG_000.TS", "video/mp2t"),
    ("lectures/a/video/720p/seg_000.m4s", "video/iso.segment"),
    ("lectures/a/video/720p/init.mp4", "video/mp4"),
    ("lectures/a/subtitles/ru/v1.vtt", "text/vtt; charset=utf-8"),
    ("lectures/a/subtitles/ru/v1.srt", "application/x-subrip; charset=utf-8"),
    ("index.html", "text/html; charset=utf-8"),
    ("catalog.json", "application/json"),
    ("lectures/a/player.js", "text/javascript; charset=utf-8"),
    ("lectures/a/player.css", "text/css; charset=utf-8"),
    ("lectures/a/poster.jpg", "image/jpeg"),
    ("lectures/a/poster.png", "image/png"),
    ("work/a/speech-0.wav", "audio/wav"),
    ("work/a/notes.pdf", "application/pdf"),
    ("work/a/blob", "application/octet-stream"),
    ("work/a/blob.unknownext", "application/octet-stream"),
])
def test_content_type_for(key, expected):
    assert storage.content_type_for(key) == expected


@pytest.mark.parametrize("key, expected", [
    ("lectures/a/master.m3u8", "no-cache"),
    ("lectures/a/video/720p/index.m3u8", "no-cache"),
    ("lectures/a/manifest.json", "no-cache"),
    ("lectures/a/index.html", "no-cache"),
    ("catalog.json", "no-cache"),
    ("index.html", "no-cache"),
    ("lectures/a/video/720p/seg_000.m4s", "public, max-age=31536000, immutable"),
    ("lectures/a/video/720p/seg_000.ts", "public, max-age=31536000, immutable"),
    ("lectures/a/video/720p/init.mp4", "public, max-age=31536000, immutable"),
    ("lectures/a/poster.jpg", "public, max-age=31536000, immutable"),
    ("lectures/a/subtitles/ru/v1.vtt", "public, max-age=300"),
    ("lectures/a/transcript.json", "public, max-age=300"),
    ("lectures/a/player.js", "public, max-age=300"),
])
def test_cache_control_for(key, expected):
    assert storage.cache_control_for(key) == expected


def test_public_url(opts):
    assert storage.public_url(opts, "lectures/a b/index.html") == \
        "https://s3.amazonaws.com/medialib-publish/lectures/a%20b/index.html"
    cdn = opts.model_copy(update={"public_base_url": "https://cdn.example.org/"})
    assert storage.public_url(cdn, "/catalog.json") == "https://cdn.example.org/catalog.json"


# ---------------------------------------------------------------- client and buckets


def test_client_is_path_style_sigv4_with_a_pool_for_the_workers(opts):
    c = storage.make_client(opts.model_copy(update={"upload_workers": 32}))
    cfg = c.meta.config
    assert cfg.s3["addressing_style"] == "path" and cfg.signature_version == "s3v4"
    assert cfg.max_pool_connections >= 32
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 5}


def test_client_needs_an_endpoint(opts):
    with pytest.raises(ConfigError, match="storage.endpoint_url is empty; call medialib.embedded.resolve_storage"):
        storage.make_client(opts.model_copy(update={"endpoint_url": ""}))


def test_ensure_buckets_sets_policy_and_cors_once(client, opts):
    assert {b["Name"] for b in client.list_buckets()["Buckets"]} == {opts.archive_bucket, opts.publish_bucket}
    policy = json.loads(client.get_bucket_policy(Bucket=opts.publish_bucket)["Policy"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:s3:::medialib-publish/lectures/*", "arn:aws:s3:::medialib-publish/index.html",
        "arn:aws:s3:::medialib-publish/catalog.json", "arn:aws:s3:::medialib-publish/search/*",
        "arn:aws:s3:::medialib-publish/assets/*"]
    assert policy["Statement"][0]["Action"] == ["s3:GetObject"]
    rule = client.get_bucket_cors(Bucket=opts.publish_bucket)["CORSRules"][0]
    assert rule["AllowedMethods"] == ["GET", "HEAD"] and rule["AllowedHeaders"] == ["Range"]
    puts = calls(client, "PutBucketPolicy") + calls(client, "PutBucketCors") + calls(client, "CreateBucket")
    storage.ensure_buckets(client, opts)
    assert puts == []


def test_ensure_buckets_without_policy_management(opts):
    with mock_aws():
        plain = opts.model_copy(update={"manage_bucket_policy": False})
        c = storage.make_client(plain)
        storage.ensure_buckets(c, plain)
        with pytest.raises(Exception, match="NoSuchBucketPolicy"):
            c.get_bucket_policy(Bucket=plain.publish_bucket)


def test_provider_without_bucket_policies_gets_a_warning(opts, caplog):
    with mock_aws():
        c = storage.make_client(opts)
        fail(c, "PutBucketPolicy", "NotImplemented", 501)
        with caplog.at_level(logging.WARNING, logger="medialib.storage"):
            storage.ensure_buckets(c, opts)
        assert "could not set the public-read policy (NotImplemented)" in caplog.text
        assert c.get_bucket_cors(Bucket=opts.publish_bucket)["CORSRules"]   # CORS still set


def test_bucket_owned_by_someone_else(opts):
    with mock_aws():
        c = storage.make_client(opts)
        fail(c, "CreateBucket", "BucketAlreadyExists", 409)
        with pytest.raises(ConfigError, match="bucket 'medialib-archive' at https://s3.amazonaws.com belongs to "
                                              "someone else; choose another name"):
            storage.ensure_buckets(c, opts)


# ---------------------------------------------------------------- objects


def test_put_file_stores_type_cache_and_sha256(client, opts, tmp_path):
    p = tmp_path / "seg.m4s"
    p.write_bytes(b"segment bytes")
    assert storage.put_file(client, opts.publish_bucket, "lectures/a/seg.m4s", p, metadata={"lang": "ru"}) == 13
    head = client.head_object(Bucket=opts.publish_bucket, Key="lectures/a/seg.m4s")
    assert head["ContentType"] == "video/iso.segment"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["Metadata"] == {"sha256": hashlib.sha256(b"segment bytes").hexdigest(), "lang": "ru"}


def test_put_get_bytes_and_missing_objects(client, opts):
    storage.put_bytes(client, opts.archive_bucket, "work/a/track.vtt", b"WEBVTT\n")
    assert storage.get_bytes(client, opts.archive_bucket, "work/a/track.vtt") == b"WEBVTT\n"
    assert storage.object_sha256(client, opts.archive_bucket, "work/a/track.vtt") == hashlib.sha256(b"WEBVTT\n").hexdigest()
    assert client.head_object(Bucket=opts.archive_bucket, Key="work/a/track.vtt")["ContentType"] == "text/vtt; charset=utf-8"
    assert storage.get_bytes(client, opts.archive_bucket, "work/a/missing") is None
    assert storage.object_sha256(client, opts.archive_bucket, "work/a/missing") is None
    storage.put_bytes(client, opts.archive_bucket, "work/a/x.bin", b"{}", content_type="application/json")
    assert client.head_object(Bucket=opts.archive_bucket, Key="work/a/x.bin")["ContentType"] == "application/json"


def test_upload_tree_skips_unchanged_files(client, opts, tmp_path):
    src = tmp_path / "ladder"
    (src / "720p").mkdir(parents=True)
    (src / "720p" / "a.m4s").write_bytes(b"a" * 100)
    (src / "720p" / "b.m4s").write_bytes(b"b" * 50)
    seen = []
    first = storage.upload_tree(client, opts, opts.archive_bucket, "work/l1/ladder", src,
                                progress=lambda d, t: seen.append((d, t)))
    assert sorted(first.uploaded) == ["work/l1/ladder/720p/a.m4s", "work/l1/ladder/720p/b.m4s"]
    assert first.uploaded_bytes == 150 and seen[0] == (0, 150) and seen[-1] == (150, 150)
    assert all(d1 <= d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))

    (src / "720p" / "b.m4s").write_bytes(b"B" * 50)       # same size, other bytes: sha256 decides
    puts = calls(client, "PutObject")
    second = storage.upload_tree(client, opts, opts.archive_bucket, "work/l1/ladder", src)
    assert second == storage.PublishReport(uploaded=("work/l1/ladder/720p/b.m4s",),
                                           skipped=("work/l1/ladder/720p/a.m4s",), uploaded_bytes=50)
    assert [p["Key"] for p in puts] == ["work/l1/ladder/720p/b.m4s"]


def test_upload_tree_of_a_missing_folder(client, opts, tmp_path):
    with pytest.raises(InputError, match="no such folder to upload"):
        storage.upload_tree(client, opts, opts.archive_bucket, "work/x", tmp_path / "nope")


@pytest.mark.parametrize("prefix", ["/lectures/a", "lectures/../work", "lectures/./a"])
def test_prefixes_that_escape_are_refused(client, opts, tmp_path, prefix):
    with pytest.raises(InputError, match="not a valid object prefix"):
        storage.upload_tree(client, opts, opts.archive_bucket, prefix, tmp_path)


# ---------------------------------------------------------------- publish order


def test_publish_order_media_then_playlists_then_master_then_pages(client, opts, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    puts = calls(client, "PutObject")
    report = upload.publish_bundle(client, opts, bundle, "lectures/l1")
    order = [p["Key"].removeprefix("lectures/l1/") for p in puts]
    assert len(order) == 14
    assert sorted(report.uploaded) == sorted(f"lectures/l1/{k}" for k in order)

    def phase(k):
        return upload._publish_phase(k)

    assert [phase(k) for k in order] == sorted(phase(k) for k in order)
    done = [phase(k.removeprefix("lectures/l1/")) for k in report.uploaded]   # completion order
    assert done == sorted(done)
    assert order[-3:] == ["master.m3u8", "manifest.json", "index.html"]
    assert {k for k in order if phase(k) == 1} == {"video/720p/index.m3u8", "video/360p/index.m3u8",
                                                   "subtitles/ru/index.m3u8"}


def test_republishing_the_same_bundle_sends_nothing(client, opts, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    upload.publish_bundle(client, opts, bundle, "lectures/l1")
    puts = calls(client, "PutObject")
    seen = []
    again = upload.publish_bundle(client, opts, bundle, "lectures/l1", progress=lambda d, t: seen.append((d, t)))
    assert puts == [] and again.uploaded == () and again.uploaded_bytes == 0 and len(again.skipped) == 14
    assert seen[-1][0] == seen[-1][1] > 0


def test_a_failed_segment_stops_before_any_playlist(client, opts, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    puts = calls(client, "PutObject")
    fail(client, "PutObject", "AccessDenied", 403, when=lambda p: p["Key"].endswith("seg_001.m4s"))
    with pytest.raises(OperatorError, match="access denied"):
        upload.publish_bundle(client, opts, bundle, "lectures/l1")
    assert not any(p["Key"].endswith((".m3u8", "manifest.json", "index.html")) for p in puts)
    assert storage.get_bytes(client, opts.publish_bucket, "lectures/l1/master.m3u8") is None


def test_publish_needs_a_prefix(client, opts, tmp_path):
    with pytest.raises(InputError, match="publish_bundle needs a prefix"):
        upload.publish_bundle(client, opts, make_bundle(tmp_path / "b"), "")


# ---------------------------------------------------------------- download


def test_download_tree_round_trip_and_skip_present(client, opts, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    storage.upload_tree(client, opts, opts.archive_bucket, "work/l1/ladder", bundle)
    storage.put_bytes(client, opts.archive_bucket, "work/l1/ladderX/other.txt", b"not mine")
    out = storage.download_tree(client, opts.archive_bucket, "work/l1/ladder", tmp_path / "dl")
    rels = sorted(p.relative_to(tmp_path / "dl").as_posix() for p in out)
    assert rels == sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    for p in out:
        assert p.read_bytes() == (bundle / p.relative_to(tmp_path / "dl")).read_bytes()
    assert not list((tmp_path / "dl").rglob("*.part"))

    gets = calls(client, "GetObject")
    (tmp_path / "dl" / "poster.jpg").write_bytes(b"damaged")
    again = storage.download_tree(client, opts.archive_bucket, "work/l1/ladder", tmp_path / "dl")
    assert sorted(again) == sorted(out)
    assert [g["Key"] for g in gets] == ["work/l1/ladder/poster.jpg"]
    assert (tmp_path / "dl" / "poster.jpg").read_bytes() == (bundle / "poster.jpg").read_bytes()


def test_download_of_one_object_by_its_key(client, opts, tmp_path):
    storage.put_bytes(client, opts.archive_bucket, "originals/l1/abc.mov", b"movie")
    out = storage.download_tree(client, opts.archive_bucket, "originals/l1/abc.mov", tmp_path)
    assert out == [tmp_path / "abc.mov"] and out[0].read_bytes() == b"movie"


def test_download_refuses_keys_that_escape_the_folder(client, opts, tmp_path):
    client.put_object(Bucket=opts.archive_bucket, Key="work/l1/../../../etc/evil", Body=b"x")
    with pytest.raises(InputError, match="would land outside the download folder"):
        storage.download_tree(client, opts.archive_bucket, "work/l1", tmp_path / "dl")
    assert not (tmp_path / "etc").exists()


# ---------------------------------------------------------------- archive


def test_archive_original_is_idempotent(client, opts, tmp_path):
    p = tmp_path / "Talk.MP4"
    p.write_bytes(b"original")
    sha = hashlib.sha256(b"original").hexdigest()
    puts = calls(client, "PutObject")
    key = storage.archive_original(client, opts, p, "talk-1a2b3c4d", sha)
    assert key == f"originals/talk-1a2b3c4d/{sha}.mp4"
    assert storage.archive_original(client, opts, p, "talk-1a2b3c4d", sha) == key
    assert len(puts) == 1 and puts[0]["Bucket"] == opts.archive_bucket
    head = client.head_object(Bucket=opts.archive_bucket, Key=key)
    assert head["Metadata"]["sha256"] == sha and head["Metadata"]["lecture-id"] == "talk-1a2b3c4d"


def test_archive_original_checks_its_inputs(client, opts, tmp_path):
    p = tmp_path / "a.mp4"
    p.write_bytes(b"x")
    with pytest.raises(InputError, match="not a valid lecture id"):
        storage.archive_original(client, opts, p, "../x", "0" * 64)
    with pytest.raises(InputError, match="not a sha256 hex digest"):
        storage.archive_original(client, opts, p, "talk", "abc")
    with pytest.raises(InputError, match="No such file"):
        storage.archive_original(client, opts, tmp_path / "gone.mp4", "talk", "0" * 64)


# ---------------------------------------------------------------- catalog


def test_catalog_newest_first_and_replaced_by_id(client, opts):
    assert catalog.read_catalog(client, opts) == []
    catalog.update_catalog(client, opts, {"id": "old", "published_at": "2026-01-01T00:00:00+00:00"})
    catalog.update_catalog(client, opts, {"id": "new", "published_at": "2026-03-01T00:00:00Z"})
    catalog.update_catalog(client, opts, {"id": "mid", "published_at": "2026-02-01T00:00:00+00:00"})
    got = catalog.update_catalog(client, opts, {"id": "old", "published_at": "2026-01-02T00:00:00+00:00", "t": "2"})
    assert [e["id"] for e in got] == ["new", "mid", "old"] and got[-1]["t"] == "2"
    assert catalog.read_catalog(client, opts) == got
    head = client.head_object(Bucket=opts.publish_bucket, Key="catalog.json")
    assert head["ContentType"] == "application/json" and head["CacheControl"] == "no-cache"


def test_catalog_rereads_when_someone_else_wrote_it(client, opts):
    catalog.update_catalog(client, opts, {"id": "a", "published_at": "2026-01-01T00:00:00+00:00"})
    hits = fail(client, "PutObject", "PreconditionFailed", 412, when=lambda p: p["Key"] == "catalog.json", times=1)
    got = catalog.update_catalog(client, opts, {"id": "b", "published_at": "2026-01-02T00:00:00+00:00"})
    assert len(hits) == 1 and hits[0]["IfMatch"]
    assert [e["id"] for e in got] == ["b", "a"] == [e["id"] for e in catalog.read_catalog(client, opts)]


def test_catalog_entry_needs_id_and_time(client, opts):
    with pytest.raises(InputError, match="needs an 'id' and a 'published_at'"):
        catalog.update_catalog(client, opts, {"id": "x"})


def test_broken_catalog_is_reported(client, opts):
    client.put_object(Bucket=opts.publish_bucket, Key="catalog.json", Body=b"{not json")
    with pytest.raises(InputError, match="catalog.json: not a JSON list of lecture entries; fix or delete it"):
        catalog.read_catalog(client, opts)


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize("code, status", [("SlowDown", 503), ("Throttling", 400), ("InternalError", 500),
                                          ("RequestTimeout", 400), ("Whatever", 502)])
def test_busy_server_is_transient(client, opts, code, status):
    fail(client, "GetObject", code, status)
    with pytest.raises(TransientError, match=rf"download s3://medialib-archive/k at https://s3.amazonaws.com: "
                                             rf"the server is busy or failing \({code}\); retry later"):
        storage.get_bytes(client, opts.archive_bucket, "k")


@pytest.mark.parametrize("code, message", [
    ("AccessDenied", "access denied; check the keys in storage.access_key_id/secret_access_key and that they "
                     "may use this bucket"),
    ("InvalidAccessKeyId", "the server does not know the access key; check storage.access_key_id for this endpoint"),
    ("SignatureDoesNotMatch", "the request signature was refused; check storage.secret_access_key and storage.region"),
])
def test_credential_problems_say_what_to_check(client, opts, code, message):
    fail(client, "GetObject", code, 403)
    with pytest.raises(OperatorError) as e:
        storage.get_bytes(client, opts.archive_bucket, "k")
    assert str(e.value) == f"download s3://medialib-archive/k at https://s3.amazonaws.com: {message}"


def test_missing_bucket_names_the_bucket(client, opts, tmp_path):
    with pytest.raises(OperatorError) as e:
        storage.get_bytes(client, "no-such-bucket", "k")
    assert str(e.value).startswith("download s3://no-such-bucket/k at https://s3.amazonaws.com: bucket "
                                   "'no-such-bucket' does not exist; check storage.archive_bucket")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OperatorError, match="bucket 'no-such-bucket' does not exist"):   # through upload_file
        storage.put_file(client, "no-such-bucket", "f.txt", tmp_path / "f.txt")


@pytest.mark.parametrize("exc", [EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
                                 ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")])
def test_network_failures_are_transient(client, opts, exc):
    def boom(**kw):
        raise exc

    client.meta.events.register_first("before-call.s3.HeadObject", boom)
    with pytest.raises(TransientError, match="cannot reach the S3 server"):
        storage.object_sha256(client, opts.archive_bucket, "k")


def test_wrap_errors_as_a_decorator():
    @storage.wrap_errors("list", bucket="b", endpoint="http://x")
    def f():
        raise EndpointConnectionError(endpoint_url="http://x")

    with pytest.raises(TransientError, match="list bucket 'b' at http://x: cannot reach"):
        f()
    with pytest.raises(TransientError):
        f()   # a fresh context each call


def test_missing_credentials_are_an_operator_fault(opts, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    c = storage.make_client(opts.model_copy(update={"access_key_id": "", "secret_access_key": ""}))
    with pytest.raises(OperatorError) as e:
        storage.get_bytes(c, opts.archive_bucket, "k")
    assert str(e.value) == ("download s3://medialib-archive/k at https://s3.amazonaws.com: no S3 credentials; set "
                            "storage.access_key_id and storage.secret_access_key (or AWS_* variables)")


def test_a_missing_object_is_not_found_and_an_unknown_refusal_is_the_operators(client, opts):
    fail(client, "HeadBucket", "NoSuchKey", 404)
    with pytest.raises(NotFoundError, match="no such object"):
        with storage.wrap_errors("check", bucket=opts.archive_bucket, key="k"):
            client.head_bucket(Bucket=opts.archive_bucket)
    fail(client, "GetObject", "InvalidBucketName", 400)
    with pytest.raises(OperatorError, match=r"InvalidBucketName: simulated InvalidBucketName; check the storage "
                                            r"settings$"):
        storage.get_bytes(client, opts.archive_bucket, "k")


def test_a_full_disk_is_an_operator_fault_and_a_missing_file_the_users(tmp_path):
    with pytest.raises(OperatorError, match=r"^/x/y: No space left on device; check the folder's permissions"):
        with storage.wrap_errors("download"):
            raise OSError(28, "No space left on device", "/x/y")
    with pytest.raises(InputError, match=r"^/x/gone.mp4: No such file or directory; check the path$"):
        with storage.wrap_errors("archive"):
            raise FileNotFoundError(2, "No such file or directory", "/x/gone.mp4")
