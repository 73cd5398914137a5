"""The upload page's API over HTTP (TestClient), with S3 requests sent as the browser would send them."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import datetime, timezone

import httpx
from review_helpers import login

from medialib import storage
from medialib.ingest import inbox, uploads

DATA = b"\x00\x01recording bytes" * 1000


def _body(**over):
    return {"name": "Допрос 1.mp4", "size_bytes": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest(),
            "title": "Допрос", "speaker": "A. B.", "language": "ru", "audio": ["0:floor", "1:interpretation:en"],
            "event": "OSCE day 1", "event_date": "2026-11-28", **over}


def test_staff_only(users):
    tanya = login(users, "tanya")
    assert tanya.get("/uploads").status_code == 403
    r = tanya.post("/api/uploads/prepare", json=_body())
    assert (r.status_code, r.json()["error"]) == (403, "uploading recordings needs a staff account; "
                                                       "tanya is a translator")
    sam = login(users, "sam")
    page = sam.get("/uploads")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in csp and "'unsafe-eval'" not in csp
    assert "'wasm-unsafe-eval'" not in sam.get("/").headers["content-security-policy"]   # only this page
    assert 'src="/static/vendor/uppy.min.js"' in page.text


def test_csrf_and_bad_input(users):
    sam = login(users, "sam")
    token = sam.headers.pop("X-CSRF-Token")
    assert sam.post("/api/uploads/prepare", json=_body()).status_code == 403
    sam.headers["X-CSRF-Token"] = token
    r = sam.post("/api/uploads/prepare", json=_body(audio=["1:booth"]))
    assert r.status_code == 422 and "1:booth" in r.json()["error"]
    r = sam.post("/api/uploads/prepare", json=_body(language="xx"))
    assert r.status_code == 422 and "'xx'" in r.json()["error"]
    r = sam.post("/api/uploads/sign", json={"method": "POST", "key": "originals/x/y.mp4"})
    assert (r.status_code, r.json()["error"]) == (422, "'originals/x/y.mp4': not an upload key; "
                                                       "prepare the upload first")
    r = sam.post("/api/uploads/sign", json={"method": "POST", "key": "inbox/never-prepared.mp4"})
    assert r.status_code == 404


def _upload(sam, data: bytes = DATA, **over) -> str:
    """Prepare, then send data as the browser would (one part, signed by the app); the key."""
    plan = sam.post("/api/uploads/prepare", json=_body(**over)).json()

    def send(req, body=None):
        signed = sam.post("/api/uploads/sign", json=req)
        assert signed.status_code == 200, signed.text
        r = httpx.request(req["method"], signed.json()["url"], content=body)
        assert r.status_code == 200, r.text
        return r

    created = send({"method": "POST", "key": plan["key"]})
    upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", created.text).group(1)
    part = send({"method": "PUT", "key": plan["key"], "uploadId": upload_id, "partNumber": 1}, data)
    assert sam.post("/api/uploads/prepare", json=_body(**over)).json()["upload_id"] == upload_id   # a reload resumes
    send({"method": "POST", "key": plan["key"], "uploadId": upload_id},
         f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part.headers['etag']}</ETag></Part>"
         "</CompleteMultipartUpload>".encode())
    return plan["key"]


def _wait_decided(sam, key: str, timeout_s: float = 20) -> dict:
    """Poll the page's progress route for key until the check has decided."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = sam.get("/api/uploads/progress", params={"key": key})
        assert r.status_code == 200, r.text
        st = r.json()["uploads"][key]
        if st["status"] != "verifying":
            return st
        assert time.monotonic() < deadline, "still verifying"
        time.sleep(0.05)


def _clean(client, bucket: str, key: str) -> None:
    for k in (key, key + ".toml", uploads.check_record_key(key)):
        client.delete_object(Bucket=bucket, Key=k)        # leave the inbox empty


def test_prepare_sign_upload_finish(users, s3_server):
    sam = login(users, "sam")
    plan = sam.post("/api/uploads/prepare", json=_body()).json()
    assert plan["key"].endswith("-dopros-1.mp4") and plan["upload_id"] is None and not plan["complete"]
    key = _upload(sam)
    assert key == plan["key"]
    done = sam.post("/api/uploads/finish", json={"key": key})
    assert done.status_code in (200, 202), done.text          # 202 "verifying"; 200 if the check was quicker
    assert done.json()["status"] in ("verifying", "ready")
    assert _wait_decided(sam, key)["status"] == "ready"
    client = storage.make_client(s3_server)
    side = inbox.parse_sidecar(storage.get_bytes(client, s3_server.archive_bucket, key + ".toml").decode(),
                               "x.mp4")
    assert (side.status, side.title, side.speaker, side.language, side.audio, side.event, side.event_date,
            side.uploaded_by) == ("ready", "Допрос", "A. B.", "ru", ("0:floor", "1:interpretation:en"), "OSCE day 1",
                                  "2026-11-28", "sam")
    r = sam.post("/api/uploads/sign", json={"method": "POST", "key": key})
    assert r.status_code == 422 and "already uploaded (ready)" in r.json()["error"]
    _clean(client, s3_server.archive_bucket, key)


def test_finish_answers_before_the_check_and_twice_checks_once(users, s3_server, monkeypatch):
    """The request does not wait for the check; a second finish (a retry, a reloaded page) starts none."""
    sam = login(users, "sam")
    key = _upload(sam)
    gate = threading.Event()
    real = uploads.verify_upload

    def slow(client, bucket, k):
        assert gate.wait(20)
        return real(client, bucket, k)

    monkeypatch.setattr(uploads, "verify_upload", slow)
    first = sam.post("/api/uploads/finish", json={"key": key})
    assert (first.status_code, first.json()["status"]) == (202, "verifying")
    again = sam.post("/api/uploads/finish", json={"key": key})
    assert (again.status_code, again.json()["status"]) == (202, "verifying")
    assert sam.get("/api/uploads/progress", params={"key": key}).json()["uploads"][key]["status"] == "verifying"
    client = storage.make_client(s3_server)
    assert inbox.parse_sidecar(storage.get_bytes(client, s3_server.archive_bucket, key + ".toml").decode(),
                               "x").status == "verifying"       # the inbox watcher leaves it alone
    [cand] = inbox.list_inbox(client, s3_server.archive_bucket)[0]
    assert not inbox.is_ready(cand, inbox.read_sidecar(client, s3_server.archive_bucket, cand),
                              now=datetime.now(timezone.utc), grace_s=0)
    gate.set()
    assert _wait_decided(sam, key)["status"] == "ready"
    assert users.state.upload_checks.started == 1
    late = sam.post("/api/uploads/finish", json={"key": key})
    assert (late.status_code, late.json()["status"]) == (200, "ready")
    assert users.state.upload_checks.started == 1
    _clean(client, s3_server.archive_bucket, key)


def test_a_mismatch_is_reported_and_removed(users, s3_server):
    sam = login(users, "sam")
    declared = hashlib.sha256(b"the file staff chose" * 800).hexdigest()
    key = _upload(sam, sha256=declared)                 # DATA arrives, another file was declared
    assert sam.post("/api/uploads/finish", json={"key": key}).json()["status"] in ("verifying", "mismatch")
    st = _wait_decided(sam, key)
    assert (st["status"], st["reason"], st["declared_sha256"], st["arrived_sha256"], st["arrived_size"]) == (
        "mismatch", "sha256", declared, hashlib.sha256(DATA).hexdigest(), len(DATA))
    assert st["message"].startswith("dopros-1.mp4: the stored file differs from the one chosen (sha256 ")
    client = storage.make_client(s3_server)
    bucket = s3_server.archive_bucket
    assert inbox.list_inbox(client, bucket)[0] == []                                     # removed from inbox/
    assert storage.get_bytes(client, bucket, key + ".toml") is None
    again = sam.post("/api/uploads/finish", json={"key": key})                          # asked again: the same answer
    assert (again.status_code, again.json()["status"]) == (200, "mismatch")
    # Choosing the file again starts afresh: the refusal is forgotten.
    assert sam.post("/api/uploads/prepare", json=_body(sha256=declared)).json()["key"] == key
    assert storage.get_bytes(client, bucket, uploads.check_record_key(key)) is None
    assert sam.get("/api/uploads/progress", params={"key": key}).json()["uploads"][key]["status"] == "uploading"
    _clean(client, bucket, key)


def test_a_size_mismatch_names_both_sizes(users, s3_server):
    sam = login(users, "sam")
    key = _upload(sam, size_bytes=len(DATA) + 5)
    sam.post("/api/uploads/finish", json={"key": key})
    st = _wait_decided(sam, key)
    assert (st["status"], st["reason"], st["arrived_size"], st["declared_size"]) == (
        "mismatch", "size", len(DATA), len(DATA) + 5)
    _clean(storage.make_client(s3_server), s3_server.archive_bucket, key)


def test_a_check_cut_short_by_a_restart_runs_again_on_the_next_poll(users, s3_server):
    """The server stopped mid-check: the sidecar says "verifying" and no thread checks it."""
    sam = login(users, "sam")
    key = _upload(sam)
    client = storage.make_client(s3_server)
    bucket = s3_server.archive_bucket
    uploads.begin_finish(client, bucket, key)           # what finish did before the restart
    assert users.state.upload_checks.started == 0
    assert _wait_decided(sam, key)["status"] == "ready"
    assert users.state.upload_checks.started == 1
    _clean(client, bucket, key)


def test_manifest_fills_rows_by_file_name(users):
    sam = login(users, "sam")
    text = ('[event]\nname = "OSCE workshop, Ankara, day 1"\ndate = 2026-11-28\n'
            '[[recording]]\nfile = "room-a/0900-interviewing.mp4"\ntitle = "Допрос свидетеля"\nlanguage = "ru"\n'
            'audio = ["0:floor", "1:interpretation:en"]\n')
    r = sam.post("/api/uploads/manifest", json={"text": text})
    assert r.json() == {"event": "OSCE workshop, Ankara, day 1", "event_date": "2026-11-28", "recordings": {
        "0900-interviewing.mp4": {"title": "Допрос свидетеля", "speaker": "", "language": "ru",
                                  "audio": ["0:floor", "1:interpretation:en"]}}}
    r = sam.post("/api/uploads/manifest", json={"text": "[[recording]]\ntitle = 'x'\n"})
    assert (r.status_code, r.json()["error"]) == (422, 'manifest: recording 1 has no file = "..."; '
                                                       "name the recording's file")


def test_staff_find_the_page_from_the_queue(users):
    assert 'href="/uploads"' in login(users, "sam").get("/").text
    assert 'href="/uploads"' not in login(users, "tanya").get("/").text


def test_progress_lists_the_inbox_and_says_when_runs_are_local(users, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert login(users, "tanya").get("/api/uploads/progress").status_code == 403
    r = login(users, "sam").get("/api/uploads/progress")
    assert r.status_code == 200
    data = r.json()
    assert isinstance(data["inbox"], list) and data["runs"] is None and data["uploads"] == {}


def test_stop_and_retry_a_lecture_from_the_page(users, monkeypatch):
    import medialib_flows.cluster as cluster_flows

    sam = login(users, "sam")
    assert login(users, "tanya").post("/api/uploads/cancel", json={"lecture": "a-1"}).status_code == 403
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    r = sam.post("/api/uploads/cancel", json={"lecture": "a-1"})
    assert r.status_code == 422 and "no Prefect server" in r.json()["error"]
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    calls = []
    monkeypatch.setattr(cluster_flows, "cancel_lecture", lambda lid: calls.append(("cancel", lid)) or 1)
    monkeypatch.setattr(cluster_flows, "retry_lecture", lambda lid: calls.append(("retry", lid)) or "brave-run")
    assert sam.post("/api/uploads/cancel", json={"lecture": "a-1"}).json() == {"cancelled": 1}
    assert sam.post("/api/uploads/retry", json={"lecture": "a-1"}).json() == {"run": "brave-run"}
    assert sam.post("/api/uploads/retry", json={"lecture": "../x"}).status_code == 422
    assert calls == [("cancel", "a-1"), ("retry", "a-1")]
    token = sam.headers.pop("X-CSRF-Token")
    assert sam.post("/api/uploads/cancel", json={"lecture": "a-1"}).status_code == 403
    sam.headers["X-CSRF-Token"] = token
