"""The rebuild job on moto S3: only live, listed lectures; entry files before index.html; unlist and unpublish."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from medialib.config import load_settings
from medialib.publish import catalog


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        opts = load_settings(environ={}).storage.model_copy(update={"archive_bucket": "arch", "publish_bucket": "pub"})
        client.create_bucket(Bucket="arch")
        client.create_bucket(Bucket="pub")
        yield client, opts


def publish(client, opts, lid: str, live: bool = True, text: str = "задержание подозреваемого"):
    prefix = f"lectures/{lid}"
    client.put_object(Bucket="pub", Key=f"{prefix}/transcript.json", Body=json.dumps({"tracks": [
        {"language": "ru", "cues": [{"id": "c00001", "start_ms": 0, "end_ms": 4000, "text": text}]}]}).encode())
    client.put_object(Bucket="pub", Key=f"{prefix}/index.html", Body=b"page")
    if live:
        client.put_object(Bucket="pub", Key=f"{prefix}/master.m3u8", Body=b"#EXTM3U\n")
    catalog.update_catalog(client, opts, {"id": lid, "title": f"T {lid}", "event": "E", "languages": ["ru"],
                                          "published_at": "2026-01-01T00:00:00+00:00",
                                          "player": f"{prefix}/index.html", "master": f"{prefix}/master.m3u8"})


def page(client) -> str:
    return client.get_object(Bucket="pub", Key="index.html")["Body"].read().decode()


def test_only_live_listed_lectures_and_index_files_before_the_page(s3):
    client, opts = s3
    publish(client, opts, "lec-a")
    publish(client, opts, "lec-b", live=False)
    order = []
    real = client.put_object

    def spy(**kw):
        order.append(kw["Key"])
        return real(**kw)

    client.put_object = spy
    done = catalog.rebuild_catalog_site(client, opts)
    assert done == {"listed": 1, "records": {"ru": 1}}
    assert "lectures/lec-a/index.html" in page(client) and "lec-b" not in page(client)
    assert order[-1] == "index.html"
    search = [k for k in order if k.startswith("search/")]
    assert search[-1].endswith("pagefind-entry.json") and order.index(search[-1]) < order.index("index.html")
    assert any(k.startswith("assets/") and k.endswith("/catalog.js") for k in order)
    head = client.head_object(Bucket="pub", Key="index.html")
    assert head["CacheControl"] == "no-cache" and head["ContentType"].startswith("text/html")


def test_unlist_keeps_the_bundle_and_unpublish_removes_it(s3):
    client, opts = s3
    publish(client, opts, "lec-a")
    publish(client, opts, "lec-b")
    assert catalog.unlist_lecture(client, opts, "lec-a")["listed"] == 1
    assert "lec-a" not in page(client) and "lec-b" in page(client)
    assert client.get_object(Bucket="pub", Key="lectures/lec-a/master.m3u8")
    assert [e.get("unlisted") for e in catalog.read_catalog(client, opts) if e["id"] == "lec-a"] == [True]
    assert catalog.unpublish_lecture(client, opts, "lec-b") == 3
    assert client.list_objects_v2(Bucket="pub", Prefix="lectures/lec-b/").get("KeyCount") == 0
    assert [e["id"] for e in catalog.read_catalog(client, opts)] == ["lec-a"]
    assert "lec-b" not in page(client)


def test_a_rebuild_sends_only_new_chunks_and_removes_stale_ones(s3):
    client, opts = s3
    publish(client, opts, "lec-a")
    catalog.rebuild_catalog_site(client, opts)
    first = {o["Key"] for o in client.list_objects_v2(Bucket="pub", Prefix="search/")["Contents"]}
    sent = []
    real = client.put_object
    client.put_object = lambda **kw: (sent.append(kw["Key"]), real(**kw))[1]
    catalog.rebuild_catalog_site(client, opts)
    assert not [k for k in sent if k.endswith((".pf_fragment", ".pf_index", ".pf_meta"))]   # same content, same names
    assert not [k for k in sent if k.startswith("assets/")]
    publish(client, opts, "lec-b", text="протокол допроса")
    sent.clear()
    catalog.rebuild_catalog_site(client, opts)
    assert [k for k in sent if k.endswith(".pf_fragment")]   # lec-b's passage
    catalog.unlist_lecture(client, opts, "lec-a")
    catalog.unlist_lecture(client, opts, "lec-b")
    left = {o["Key"] for o in client.list_objects_v2(Bucket="pub", Prefix="search/").get("Contents", [])}
    assert not [k for k in left if k.endswith(".pf_fragment")] and not (first & left) - {"search/languages.json"}
