"""Conditional creates (If-None-Match: *) on the real embedded SeaweedFS: what versions rely on."""

from __future__ import annotations

import threading
import uuid

from medialib import storage


def test_eight_racing_creates_of_one_key_one_wins(s3_client, s3_server):
    storage.check_conditional_writes(s3_client, s3_server.archive_bucket)
    key = f"tracks/race-{uuid.uuid4().hex[:8]}/en/v1.json"
    barrier = threading.Barrier(8)
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        barrier.wait()
        ok = storage.put_bytes_if_absent(s3_client, s3_server.archive_bucket, key, f"writer {n}".encode(),
                                         "application/json")
        with lock:
            results.append((n, ok))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, ok in results if ok]
    assert len(results) == 8 and len(winners) == 1, results
    # the stored bytes are the winner's, not the last writer's
    assert storage.get_bytes(s3_client, s3_server.archive_bucket, key) == f"writer {winners[0]}".encode()


def test_create_of_a_taken_key_is_refused_and_keeps_the_first(s3_client, s3_server):
    key = f"tracks/taken-{uuid.uuid4().hex[:8]}/en/v1.json"
    assert storage.put_bytes_if_absent(s3_client, s3_server.archive_bucket, key, b"first", "application/json")
    assert not storage.put_bytes_if_absent(s3_client, s3_server.archive_bucket, key, b"second", "application/json")
    assert storage.get_bytes(s3_client, s3_server.archive_bucket, key) == b"first"


def test_the_refusal_is_a_412(s3_client, s3_server):
    import pytest
    from botocore.exceptions import ClientError

    key = f"tracks/status-{uuid.uuid4().hex[:8]}/en/v1.json"
    s3_client.put_object(Bucket=s3_server.archive_bucket, Key=key, Body=b"a", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3_client.put_object(Bucket=s3_server.archive_bucket, Key=key, Body=b"b", IfNoneMatch="*")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
