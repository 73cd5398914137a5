"""put_bytes_if_absent and the conditional-write probe on moto, and on a store that ignores If-None-Match."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from medialib import storage
from medialib.errors import ConflictError, InputError, OperatorError, PermissionDenied
from medialib.storage import s3


@pytest.fixture
def client():
    with mock_aws():
        c = boto3.client("s3", region_name="us-east-1")
        c.create_bucket(Bucket="archive")
        yield c


@pytest.fixture(autouse=True)
def _fresh_probe_cache(monkeypatch):
    monkeypatch.setattr(s3, "_conditional_ok", set())


class IgnoresConditions:
    """A client for a store that accepts If-None-Match and ignores it (some older S3 services)."""

    def __init__(self, inner):
        self.inner, self.puts = inner, 0
        self.meta = inner.meta

    def put_object(self, **kw):
        self.puts += 1
        kw.pop("IfNoneMatch", None)
        return self.inner.put_object(**kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class CountsPuts(IgnoresConditions):
    def put_object(self, **kw):
        self.puts += 1
        return self.inner.put_object(**kw)


def test_moto_honours_if_none_match(client):
    assert storage.put_bytes_if_absent(client, "archive", "tracks/x/en/v1.json", b"a", "application/json")
    assert not storage.put_bytes_if_absent(client, "archive", "tracks/x/en/v1.json", b"b", "application/json")
    assert storage.get_bytes(client, "archive", "tracks/x/en/v1.json") == b"a"


def test_probe_passes_once_per_endpoint_and_bucket_and_leaves_nothing(client):
    counting = CountsPuts(client)
    storage.check_conditional_writes(counting, "archive")
    storage.check_conditional_writes(counting, "archive")
    assert counting.puts == 2                       # the second call is answered from the cache
    assert "Contents" not in client.list_objects_v2(Bucket="archive")   # the scratch object is gone


def test_a_store_that_ignores_if_none_match_is_refused_for_versions(client):
    ignoring = IgnoresConditions(client)
    with pytest.raises(OperatorError, match="ignores If-None-Match on PUT; track versions are refused"):
        storage.check_conditional_writes(ignoring, "archive")
    with pytest.raises(OperatorError):                # not cached as good: asked again, refused again
        storage.check_conditional_writes(ignoring, "archive")
    assert "Contents" not in client.list_objects_v2(Bucket="archive")


def test_conflict_and_permission_errors_are_user_side_4xx():
    assert ConflictError.http_status == 409 and issubclass(ConflictError, InputError)
    assert PermissionDenied.http_status == 403 and issubclass(PermissionDenied, InputError)
