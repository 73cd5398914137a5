"""The editor in chromium against the real review app (tests/app/conftest.py's app, users, lecture).

The fake-API browser test (tests/browser/test_review_app.py) covers the whole flow; this
one checks the same pages on the real server: redirect to login, open, edit with live CPL,
the draft autosaved to the database and found after a reload, the lock's read-only view
in a second browser, Save as a version, send, approve by a reviewer.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time

import pytest

pytest.importorskip("medialib_app.review", reason="needs the review app")
create_app = getattr(__import__("medialib_app.review", fromlist=["create_app"]), "create_app", None)
if create_app is None:
    pytest.skip("the review app has no create_app yet", allow_module_level=True)

from browser import CHROMIUM_ARGS, chromium_available, chromium_path  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")]


def _serve(app):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _log_in(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")


def test_editor_on_the_real_app(app, users, lecture):
    from conftest import PASSWORD
    from playwright.sync_api import expect, sync_playwright

    server, thread, base = _serve(app)
    url = f"{base}/lectures/{lecture}/en"
    errors: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as p1, tempfile.TemporaryDirectory() as p2, sync_playwright() as pw:
            def browser(profile):
                return pw.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True,
                                                             args=list(CHROMIUM_ARGS), viewport={"width": 1280, "height": 900})
            c1, c2 = browser(p1), browser(p2)
            try:
                tanya = c1.pages[0]
                tanya.set_default_timeout(15_000)
                tanya.on("pageerror", lambda e: errors.append(str(e)))
                _log_in(tanya, url, "tanya", PASSWORD)
                assert tanya.evaluate("() => window.medialibEditor.cues().map((c) => c.text)") == [
                    "Hello there.", "Sit down, please.", "What did you see?"]
                row = tanya.locator("#ed-rows .ed-row").nth(1)
                row.locator("textarea").fill("Sit down, please, corrected.")
                expect(row.locator(".ed-cpl")).to_have_text("28 cpl")
                tanya.wait_for_function("() => !window.medialibEditor.state().draftPending")
                tanya.reload()
                tanya.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
                assert tanya.evaluate("() => window.medialibEditor.cues()[1].text") == "Sit down, please, corrected."

                rita = c2.pages[0]
                rita.set_default_timeout(15_000)
                _log_in(rita, url, "rita", PASSWORD)
                expect(rita.locator("#ed-lock")).to_contain_text("tanya")
                assert rita.evaluate("() => window.medialibEditor.state().readOnly")

                tanya.click("#ed-save")
                tanya.wait_for_function("() => window.medialibEditor.state().baseVersion === 2")
                tanya.click("#ed-send")
                expect(tanya.locator("#ed-state")).to_have_text("in review")
                rita.reload()
                rita.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
                rita.click("#ed-approve")
                expect(rita.locator("#ed-state")).to_have_text("approved")
            finally:
                c1.close()
                c2.close()
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    assert errors == []
