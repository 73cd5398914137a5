"""Shared player files: content-hashed keys, stored gzip-compressed once, named relatively by bundles."""

from __future__ import annotations

import gzip

import boto3
import pytest
from moto import mock_aws

from medialib.publish.assets import asset_key, asset_urls, publish_assets, stored_body
from medialib.publish.page import PageInfo, player_assets, render_player_page


def test_keys_follow_the_bytes(tmp_path):
    f = tmp_path / "player.js"
    f.write_text("one")
    first = asset_key(f)
    assert first.startswith("assets/") and first.endswith("/player.js") and len(first.split("/")[1]) == 12
    f.write_text("two")
    assert asset_key(f) != first
    assert asset_urls([f], up=2) == {"player.js": "../../" + asset_key(f)}


def test_text_is_stored_gzip_deterministically_and_images_as_is(tmp_path):
    js, jpg = tmp_path / "a.js", tmp_path / "p.jpg"
    js.write_text("x" * 1000)
    jpg.write_bytes(b"\xff\xd8" * 10)
    body, enc = stored_body(js)
    assert enc == "gzip" and gzip.decompress(body) == b"x" * 1000 and stored_body(js)[0] == body
    assert stored_body(jpg) == (b"\xff\xd8" * 10, None)


@pytest.fixture
def bucket():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="pub")
        yield client


def test_published_once_with_content_encoding_and_immutable_cache(bucket):
    puts = []
    real = bucket.put_object
    bucket.put_object = lambda **kw: (puts.append(kw["Key"]), real(**kw))[1]
    keys = publish_assets(bucket, "pub", player_assets())
    assert sorted(keys) == ["hls.min.js", "player.css", "player.js"] and len(puts) == 3
    head = bucket.head_object(Bucket="pub", Key=keys["hls.min.js"])
    assert head["ContentEncoding"] == "gzip" and head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"].startswith("text/javascript") and head["ContentLength"] < 250_000
    assert publish_assets(bucket, "pub", player_assets()) == keys and len(puts) == 3   # nothing sent again


def test_the_page_names_shared_files_or_its_own_copies():
    info = PageInfo(title="T", speaker=None, event=None, language="en", duration_s=1.0, master="master.m3u8",
                    poster=None, transcript=None, subtitles=(), audio_only=False)
    alone = render_player_page(info)
    assert '<script src="hls.min.js">' in alone and 'href="player.css"' in alone
    shared = render_player_page(info, asset_urls(player_assets(), up=2))
    for name in ("hls.min.js", "player.js", "player.css"):
        assert f'"../../{asset_key(next(p for p in player_assets() if p.name == name))}"' in shared
