"""The staff upload page in chromium: a 12 MB file in 5 MB parts straight to SeaweedFS.

The network is cut while part 2 is on its way (playwright's offline mode), then restored:
the upload completes, every part is stored by exactly one successful PUT (the one before
the cut is not sent again), and the server's sha256 check (in the background: the page
shows "verifying" until its progress poll reports it) passes. Then a reload half-way:
the same file chosen again resumes from the part already stored (ListParts).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections import Counter

import pytest
from browser import CHROMIUM_ARGS, chromium_available, chromium_path, serve_app

from medialib import storage
from medialib.config import load_settings
from medialib.ingest import inbox

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright"),
]

PASSWORD = "a long test password"
MB = 1 << 20


@pytest.fixture(scope="module")
def app(s3_server, tmp_path_factory):

    from medialib_app.review import create_app
    from medialib_app.review import db as review_db
    from medialib_app.review.auth import add_user

    home = tmp_path_factory.mktemp("upload-home")
    settings = load_settings(environ={"MEDIALIB_HOME": str(home), "MEDIALIB_UPLOADS__PART_SIZE_MB": "5"})
    fastapi_app = create_app(settings, storage=s3_server, database_url=f"sqlite:///{home / 'review.db'}", home=home)
    with review_db.transaction(fastapi_app.state.review.db) as db:
        add_user(db, "sam", "staff", PASSWORD)
    with serve_app(fastapi_app) as url:
        yield url


def _part(url: str) -> int | None:
    m = re.search(r"[?&]partNumber=(\d+)", url)
    return int(m.group(1)) if m else None


def _log_in(page, url: str) -> None:
    page.goto(f"{url}/uploads")
    page.fill("input[name=name]", "sam")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/uploads")


def _row_state(page) -> str:
    return page.locator(".up-row").first.get_attribute("data-state") or ""


def _wait_state(page, want: str, timeout_s: float = 60) -> set[str]:
    """Wait for the first row's state; the states it passed through on the way."""
    deadline = time.monotonic() + timeout_s
    seen = set()
    while (state := _row_state(page)) != want:
        seen.add(state)
        assert state not in ("failed", "mismatch") or want == state, page.locator(".up-state").first.text_content()
        assert time.monotonic() < deadline, f"still {state!r}, waiting for {want!r}"
        page.wait_for_timeout(100)
    return seen


def test_upload_survives_a_network_cut_and_a_reload(app, s3_server, s3_client, tmp_path):
    from playwright.sync_api import sync_playwright

    files = []
    for i in range(2):
        f = tmp_path / f"session-{i}.mp4"
        f.write_bytes(os.urandom(12 * MB + 12345))     # three parts: 5 + 5 + 2 MB
        files.append(f)
    errors: list[str] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True,
                                                    args=list(CHROMIUM_ARGS))
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            stored: Counter[int] = Counter()         # part number -> successful PUTs
            page.on("requestfinished", lambda r: stored.update(
                [_part(r.url)] if r.method == "PUT" and _part(r.url) and r.response() and r.response().ok else []))
            cut = {"done": False}

            def cut_before_part_2(route):
                if route.request.method == "PUT" and _part(route.request.url) == 2 and not cut["done"]:
                    cut["done"] = True
                    ctx.set_offline(True)
                    route.abort("internetdisconnected")
                    return
                route.continue_()

            page.route(f"{s3_server.endpoint_url}/**", cut_before_part_2)
            _log_in(page, app)

            # 1. A network cut after the first part (details from an event manifest).
            manifest = tmp_path / "event.toml"
            manifest.write_text('[event]\nname = "Day 1"\ndate = 2026-11-28\n[[recording]]\n'
                                'file = "room-a/session-0.mp4"\ntitle = "Сессия ноль"\nlanguage = "ru"\n')
            page.set_input_files("#up-manifest", str(manifest))
            deadline = time.monotonic() + 10      # (wait_for_function would eval a string: the CSP forbids it)
            while page.input_value("#up-event") != "Day 1":
                assert time.monotonic() < deadline, page.text_content("#up-manifest-state")
                page.wait_for_timeout(50)
            page.set_input_files("#up-files", str(files[0]))
            page.click("#up-start")
            _wait_state(page, "offline")
            assert stored == Counter({1: 1})
            page.wait_for_timeout(500)
            ctx.set_offline(False)
            # The finish request returns at once; the page shows "verifying" until the poll
            # reports the server's background check (size and sha256) passed.
            assert "verifying" in _wait_state(page, "ready")
            assert stored == Counter({1: 1, 2: 1, 3: 1}), stored       # nothing stored was sent again
            key = page.evaluate("[...window.medialibUploads.rows.values()][0].key")
            side = inbox.parse_sidecar(storage.get_bytes(s3_client, s3_server.archive_bucket, key + ".toml").decode(),
                                       "x")
            assert (side.status, side.sha256, side.size_bytes) == (
                "ready", hashlib.sha256(files[0].read_bytes()).hexdigest(), files[0].stat().st_size)
            assert (side.title, side.language, side.event, side.event_date, side.uploaded_by) == (
                "Сессия ноль", "ru", "Day 1", "2026-11-28", "sam")

            # 2. A reload after the first part: the same file chosen again resumes.
            page.unroute(f"{s3_server.endpoint_url}/**")
            stored.clear()
            first_part = {"done": False}

            def stop_after_part_1(route):
                if route.request.method == "PUT" and _part(route.request.url) == 2 and first_part["done"] is False:
                    first_part["done"] = True
                    route.abort("aborted")       # the page is reloaded before part 2 leaves
                    return
                route.continue_()

            page.route(f"{s3_server.endpoint_url}/**", stop_after_part_1)
            page.reload()
            page.set_input_files("#up-files", str(files[1]))
            page.click("#up-start")
            deadline = time.monotonic() + 30
            while not first_part["done"]:
                assert time.monotonic() < deadline
                page.wait_for_timeout(50)
            assert stored == Counter({1: 1})
            page.reload()
            page.set_input_files("#up-files", str(files[1]))
            page.click("#up-start")
            _wait_state(page, "ready")
            assert stored == Counter({1: 1, 2: 1, 3: 1}), stored
        finally:
            ctx.close()
    expected = ("net::ERR_INTERNET_DISCONNECTED", "net::ERR_FAILED", "Network error during S3 request")  # the cuts
    assert not [e for e in errors if not any(x in e for x in expected)], errors
    for f in files:   # leave the shared bucket's inbox as found
        key = inbox.INBOX + f"{hashlib.sha256(f.read_bytes()).hexdigest()[:16]}-{f.stem}.mp4"
        s3_client.delete_object(Bucket=s3_server.archive_bucket, Key=key)
        s3_client.delete_object(Bucket=s3_server.archive_bucket, Key=key + ".toml")


def test_a_file_that_differs_from_its_declaration_is_refused_on_the_page(app, s3_server, s3_client, tmp_path):
    """The page declares one sha256 and other bytes arrive (as when the file changes while uploading):
    the background check refuses them, removes them, and the page says what differed, here in Russian."""
    import json

    from playwright.sync_api import sync_playwright

    from medialib.ingest import uploads

    f = tmp_path / "changed.mp4"
    f.write_bytes(os.urandom(MB))
    declared = hashlib.sha256(b"the bytes as they were" * 1000).hexdigest()

    def declare_other_bytes(route):
        body = json.loads(route.request.post_data)
        route.continue_(post_data=json.dumps(body | {"sha256": declared}))

    errors: list[str] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True,
                                                    args=list(CHROMIUM_ARGS))
        try:
            ctx.add_cookies([{"name": "medialib_lang", "value": "ru", "url": app}])
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(f"{app}/api/uploads/prepare", declare_other_bytes)
            _log_in(page, app)
            page.set_input_files("#up-files", str(f))
            page.click("#up-start")
            assert "verifying" in _wait_state(page, "mismatch")
            text = page.locator(".up-state").first.text_content()
            key = page.evaluate("[...window.medialibUploads.rows.values()][0].key")
        finally:
            ctx.close()
    assert not errors, errors
    assert text == (f"не совпадает с выбранным файлом: контрольная сумма пришедшего (sha256 "
                    f"{hashlib.sha256(f.read_bytes()).hexdigest()[:12]}…) не та, что у выбранного файла "
                    f"({declared[:12]}…); пришедшее удалено. Не менялся ли файл во время загрузки? Загрузите его снова"
                    ), text
    assert storage.get_bytes(s3_client, s3_server.archive_bucket, key) is None                # removed from inbox/
    assert storage.get_bytes(s3_client, s3_server.archive_bucket, key + ".toml") is None
    s3_client.delete_object(Bucket=s3_server.archive_bucket, Key=uploads.check_record_key(key))
