"""Browser uploads without a browser: the S3 requests @uppy/aws-s3 6.x sends, signed by medialib.ingest.uploads,
against the session's real SeaweedFS (CORS preflight, resume through ListParts, the sha256 check)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from medialib import storage
from medialib.errors import InputError
from medialib.ingest import inbox, uploads
from medialib.storage.serving import ensure_upload_cors

MB = 1 << 20
ORIGIN = "http://127.0.0.1:8765"


@pytest.fixture
def opts(s3_server):
    tag = uuid.uuid4().hex[:8]
    o = s3_server.model_copy(update={"archive_bucket": f"upl-{tag}", "publish_bucket": f"upl-pub-{tag}"})
    client = storage.make_client(o)
    storage.ensure_buckets(client, o)
    ensure_upload_cors(client, o.archive_bucket, (ORIGIN,))
    return o


def _send(client, bucket, request, data=None, headers=None):
    signed = uploads.sign_request(client, bucket, request, expires_s=600)
    r = httpx.request(request["method"], signed["url"], content=data, headers={"Origin": ORIGIN, **(headers or {})})
    assert r.status_code == 200, r.text
    return r


def _prepare(client, opts, data, name="Допрос 1.mp4", **side):
    return uploads.prepare_upload(client, opts.archive_bucket, name=name, size_bytes=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(), sidecar=inbox.Sidecar(title="Допрос", **side),
                                  max_size_bytes=1 << 30)


def test_names_and_declarations():
    assert uploads.safe_name("Допрос свидетеля 09:00.MP4") == "dopros-svidetelya-09-00.mp4"
    assert uploads.safe_name("../../etc/passwd") == "passwd"
    assert uploads.upload_key("a.mp4", "ab" * 32) == "inbox/abababababababab-a.mp4"
    with pytest.raises(InputError, match=r"^a.mp4: the file is empty \(0 bytes\)"):
        uploads.check_declaration("a.mp4", 0, "ab" * 32, max_size_bytes=10)
    with pytest.raises(InputError, match=r"^a.mp4: 'xyz' is not a sha256 hex digest$"):
        uploads.check_declaration("a.mp4", 5, "xyz", max_size_bytes=10)
    with pytest.raises(InputError, match="over the 0 GB limit"):
        uploads.check_declaration("a.mp4", 11, "ab" * 32, max_size_bytes=10)
    with pytest.raises(InputError, match="not a request an upload makes"):
        uploads.sign_request(None, "b", {"method": "DELETE", "key": "inbox/x"}, expires_s=60)


def test_multipart_upload_resumes_from_stored_parts_and_is_verified(opts, s3_client):
    bucket = opts.archive_bucket
    data = bytes(range(256)) * (11 * MB // 256) + b"tail"          # 11 MiB + 4 bytes: three 5 MiB parts
    plan = _prepare(s3_client, opts, data, speaker="A. B.", language="ru")
    assert (plan.upload_id, plan.complete) == (None, False)
    side = uploads.read_pending(s3_client, bucket, plan.key)
    assert (side.status, side.speaker, side.size_bytes) == ("uploading", "A. B.", len(data))

    # The browser's preflight for a part PUT: allowed, and ETag readable.
    pre = httpx.options(f"{opts.endpoint_url}/{bucket}/{plan.key}?partNumber=1&uploadId=x",
                        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                                 "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code in (200, 204), pre.text
    assert "PUT" in pre.headers.get("access-control-allow-methods", "")

    created = _send(s3_client, bucket, {"method": "POST", "key": plan.key}, headers={"Content-Type": "video/mp4"})
    upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", created.text).group(1)
    part1 = _send(s3_client, bucket, {"method": "PUT", "key": plan.key, "uploadId": upload_id, "partNumber": 1},
                  data[:5 * MB])
    assert "etag" in part1.headers.get("access-control-expose-headers", "").lower()

    # Reload: the page selects the same file again; prepare names the same key and the upload to resume.
    again = _prepare(s3_client, opts, data, speaker="A. B.", language="ru")
    assert (again.key, again.upload_id) == (plan.key, upload_id)
    listed = _send(s3_client, bucket, {"method": "GET", "key": plan.key, "uploadId": upload_id})
    assert re.findall(r"<PartNumber>(\d+)</PartNumber>", listed.text) == ["1"]
    etags = [part1.headers["etag"]]
    for n, start in ((2, 5 * MB), (3, 10 * MB)):
        r = _send(s3_client, bucket, {"method": "PUT", "key": plan.key, "uploadId": upload_id, "partNumber": n},
                  data[start:start + 5 * MB])
        etags.append(r.headers["etag"])
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags, 1)) + \
        "</CompleteMultipartUpload>"
    done = _send(s3_client, bucket, {"method": "POST", "key": plan.key, "uploadId": upload_id}, body.encode(),
                 headers={"Content-Type": "application/xml"})
    assert "<Key>" in done.text and "<Location>" in done.text        # what Uppy 6 reads from the answer

    ready = uploads.finish_upload(s3_client, bucket, plan.key)
    assert (ready.status, ready.sha256) == ("ready", hashlib.sha256(data).hexdigest())
    [cand] = inbox.list_inbox(s3_client, bucket)[0]
    assert inbox.is_ready(cand, inbox.read_sidecar(s3_client, bucket, cand), now=datetime.now(timezone.utc),
                          grace_s=3600)
    assert uploads.prepare_upload(s3_client, bucket, name="Допрос 1.mp4", size_bytes=len(data),
                                  sha256=ready.sha256, sidecar=inbox.Sidecar(title="x"),
                                  max_size_bytes=1 << 30).complete
    assert uploads.read_pending(s3_client, bucket, plan.key).status == "ready"   # a verified sidecar stays


def test_a_changed_file_is_refused_and_removed(opts, s3_client):
    bucket = opts.archive_bucket
    plan = _prepare(s3_client, opts, b"declared bytes")
    _send(s3_client, bucket, {"method": "PUT", "key": plan.key}, b"other bytes!!!")     # same size, other bytes
    with pytest.raises(InputError, match=r"^dopros-1\.mp4: the stored file differs from the one chosen "
                                         r"\(sha256 .*\); it was removed\. Was the file changed while uploading\?"):
        uploads.finish_upload(s3_client, bucket, plan.key)
    assert inbox.list_inbox(s3_client, bucket)[0] == []
    assert storage.get_bytes(s3_client, bucket, plan.key + ".toml") is None


def test_abandoned_uploads_are_aborted(opts, s3_client):
    bucket = opts.archive_bucket
    plan = _prepare(s3_client, opts, b"x" * 100)
    upload_id = s3_client.create_multipart_upload(Bucket=bucket, Key=plan.key)["UploadId"]
    assert uploads.abort_abandoned(s3_client, bucket, max_age_h=1) == []
    [a] = uploads.abort_abandoned(s3_client, bucket, max_age_h=1, now=datetime.now(timezone.utc) + timedelta(hours=2))
    assert (a.key, a.upload_id) == (plan.key, upload_id)
    assert uploads.find_multipart(s3_client, bucket, plan.key) == []
    assert storage.get_bytes(s3_client, bucket, plan.key + ".toml") is None


def test_an_upload_the_page_never_finished_is_finished_by_cleanup(opts, s3_client):
    bucket = opts.archive_bucket
    plan = _prepare(s3_client, opts, b"complete bytes")
    s3_client.put_object(Bucket=bucket, Key=plan.key, Body=b"complete bytes")
    assert uploads.finish_stale(s3_client, bucket, max_age_h=1) == []
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert uploads.finish_stale(s3_client, bucket, max_age_h=1, now=later) == [(plan.key, "ready")]


def test_a_check_left_verifying_is_finished_by_cleanup(opts, s3_client):
    """The server stopped mid-check and no page asks again: cleanup checks it as the page would have."""
    bucket = opts.archive_bucket
    plan = _prepare(s3_client, opts, b"verifying bytes")
    s3_client.put_object(Bucket=bucket, Key=plan.key, Body=b"verifying bytes")
    assert uploads.begin_finish(s3_client, bucket, plan.key).status == "verifying"
    assert uploads.begin_finish(s3_client, bucket, plan.key).status == "verifying"     # repeated: no change
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert uploads.finish_stale(s3_client, bucket, max_age_h=1, now=later) == [(plan.key, "ready")]
    assert uploads.upload_status(s3_client, bucket, plan.key)["status"] == "ready"
    s3_client.delete_object(Bucket=bucket, Key=plan.key)
    s3_client.delete_object(Bucket=bucket, Key=plan.key + ".toml")
