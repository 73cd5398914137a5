"""The review app in chromium: a translator corrects a cue and the learner sees it.

One flow, step by step as the issue's "Tests" section lists it: logged out -> redirected;
log in; edit a cue and see CPS/CPL update; split (by KeyboardEvent.code, as on a Russian
layout) and merge; undo; reload and find the draft; a second browser context sees the lock
and a read-only view; a stale save gets the conflict view; send for review, approve as
another user, publish; the learner's page shows the corrected text and the video
segments' checksums are unchanged.

The server here is tests/browser/review_fake.py: the real editor.html, editor.js and
editor.css over a stand-in of the JSON API (review-plan.md). `backend` is the seam where
the real app (medialib_app.review) plugs in once it can be started in-process.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, chromium_available, chromium_path, open_player
from review_fake import ReviewFake, serve
from test_player_page import CUES, bundle  # noqa: F401 - the 12 s bundle fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright"),
]

CORRECTED = "Caption two, corrected by hand"
TOO_LONG = "Caption two, corrected by hand with a tail far too long for one line"


def machine_cues() -> dict[str, list[dict]]:
    en = [{"id": f"c{i:05d}", "start_ms": (i - 1) * 2000, "end_ms": (i - 1) * 2000 + 1900, "text": text, "risk": 0.9 if i == 4 else 0.1}
          for i, text in enumerate(CUES, 1)]
    ru = [{"id": f"c{i:05d}", "start_ms": (i - 1) * 2000, "end_ms": (i - 1) * 2000 + 1900, "text": f"Реплика {i} из 6"}
          for i in range(1, 7)]
    return {"en": en, "ru": ru}


def segment_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "video").rglob("*")) if p.is_file()}


@pytest.fixture
def backend(bundle):  # noqa: F811 - the imported fixture
    fake = ReviewFake(cues=machine_cues(), duration_ms=12_000, bundle=bundle,
                      peaks={"sample_rate": 16000, "peaks_per_second": 50, "duration_ms": 12_000,
                             "peaks": [round(abs(((i * 37) % 100) / 100 - 0.5), 2) for i in range(600)]})
    with serve(fake) as base:
        yield base, fake


def _browser(pw, profile: str):
    return pw.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS),
        viewport={"width": 1280, "height": 900},
    )


def _log_in(page, base: str, user: str) -> None:
    page.goto(base + "/lectures/demo/en")
    assert "/login" in page.url  # every page needs a session
    page.fill("#u", user)
    page.fill("#p", user + "-pw")
    page.click("button[type=submit]")
    page.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")


def _row(page, i: int):
    return page.locator("#ed-rows .ed-row").nth(i)


def _texts(page) -> list[str]:
    return page.evaluate("() => window.medialibEditor.cues().map((c) => c.text)")


def _state(page) -> dict:
    return page.evaluate("() => window.medialibEditor.state()")


def _alt_code(page, code: str, key: str) -> None:
    """Alt+<code> as a Russian layout sends it: the key's character is Cyrillic, the code is not."""
    page.evaluate(
        "([code, key]) => document.activeElement.dispatchEvent(new KeyboardEvent('keydown',"
        " {code, key, altKey: true, bubbles: true, cancelable: true}))",
        [code, key],
    )


def test_translator_corrects_and_learner_sees_it(backend, bundle):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    base, fake = backend
    before = segment_digests(bundle)
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as p1, tempfile.TemporaryDirectory() as p2, sync_playwright() as pw:
        alice_ctx, bob_ctx = _browser(pw, p1), _browser(pw, p2)
        try:
            alice = alice_ctx.pages[0]
            alice.set_default_timeout(15_000)
            alice.on("pageerror", lambda e: errors.append(f"alice: {e}"))

            # Logged out -> the login page; then the editor with six cues and their source.
            _log_in(alice, base, "alice")
            assert len(_texts(alice)) == 6
            expect(_row(alice, 1).locator(".ed-src")).to_have_text("Реплика 2 из 6")

            # Edit cue 2: CPL and CPS follow the text; a too long line is flagged, then fixed.
            box = _row(alice, 1).locator("textarea")
            cps_before = _row(alice, 1).locator(".ed-cps").inner_text()
            box.fill(TOO_LONG)
            expect(_row(alice, 1).locator(".ed-cpl")).to_have_text(f"{len(TOO_LONG)} cpl")
            expect(_row(alice, 1).locator(".ed-cpl")).to_have_class("ed-cpl ed-bad")
            assert _row(alice, 1).locator(".ed-cps").inner_text() != cps_before
            expect(_row(alice, 1).locator(".ed-issues")).to_contain_text("Line of 68 characters (max 42)")
            box.fill(CORRECTED)
            expect(_row(alice, 1).locator(".ed-cpl")).to_have_text(f"{len(CORRECTED)} cpl")
            expect(_row(alice, 1).locator(".ed-cpl")).to_have_class("ed-cpl")
            cps = len(CORRECTED) / 1.9
            expect(_row(alice, 1).locator(".ed-cps")).to_have_text(f"{cps:.1f} cps")
            assert _texts(alice)[1] == CORRECTED
            assert alice.evaluate("() => window.medialibEditor.cues()[1].risk") == 0

            # Split cue 3 at the text cursor with Alt+S as a Russian layout sends it (key "ы").
            third = _row(alice, 2).locator("textarea")
            third.click()
            third.evaluate("(el) => el.setSelectionRange(7, 7)")  # "Caption| 3 of 6"
            _alt_code(alice, "KeyS", "ы")
            texts = _texts(alice)
            assert texts[2:4] == ["Caption", "3 of 6"]
            new_cue = alice.evaluate("() => window.medialibEditor.cues()[3]")
            assert new_cue["id"].startswith("n") and len(new_cue["id"]) == 9
            # Merge it back with Alt+M from cue 3, then undo the merge and the split.
            _row(alice, 2).locator("textarea").click()
            alice.keyboard.press("Alt+KeyM")
            assert _texts(alice)[2] == "Caption\n3 of 6" and len(_texts(alice)) == 6
            alice.keyboard.press("Control+KeyZ")
            assert len(_texts(alice)) == 7
            alice.keyboard.press("Control+KeyZ")
            assert _texts(alice)[2] == CUES[2] and len(_texts(alice)) == 6
            assert _texts(alice)[1] == CORRECTED  # the earlier edit is still there

            # The draft reaches the server (debounced); a reload finds it.
            alice.wait_for_function("() => !window.medialibEditor.state().draftPending")
            assert fake.drafts[("alice", "en")]["cues"][1]["text"] == CORRECTED
            alice.reload()
            alice.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
            assert _texts(alice)[1] == CORRECTED
            expect(alice.locator("#ed-status")).to_have_attribute("role", "status")

            # A second browser: the lock is alice's, so bob gets a read-only view.
            bob = bob_ctx.pages[0]
            bob.set_default_timeout(15_000)
            bob.on("pageerror", lambda e: errors.append(f"bob: {e}"))
            _log_in(bob, base, "bob")
            expect(bob.locator("#ed-lock")).to_contain_text("Being edited by alice")
            expect(bob.locator("#ed-readonly")).to_be_visible()
            assert _row(bob, 1).locator("textarea").evaluate("(el) => el.readOnly")
            assert _state(bob)["readOnly"]

            # Someone saves version 2 behind alice's back (e.g. a CLI push): her save is stale.
            theirs = [dict(c) for c in fake.versions["en"][0]["track"]["cues"]]
            theirs[0] = {**theirs[0], "text": "Caption one, from the command line"}
            assert fake.save_as("carol", "en", theirs) == 2
            alice.click("#ed-save")
            expect(alice.locator("#ed-conflict")).to_be_visible()
            expect(alice.locator("#ed-conflict-text")).to_contain_text("saved by carol")
            expect(alice.locator("#ed-conflict-body")).to_contain_text("Caption one, from the command line")
            expect(alice.locator("#ed-conflict-body")).to_contain_text(CORRECTED)
            assert _texts(alice)[1] == CORRECTED  # her text is kept
            alice.click("#ed-keep-mine")
            expect(alice.locator("#ed-conflict")).to_be_hidden()
            assert _state(alice)["baseVersion"] == 3
            saved = fake.versions["en"][-1]
            assert saved["author"] == "alice" and saved["track"]["cues"][1]["origin"] == "human"
            assert saved["track"]["cues"][2].get("origin") is None  # untouched cues keep theirs

            # Send for review (alice), approve and publish (bob, a reviewer, not the author).
            alice.click("#ed-send")
            expect(alice.locator("#ed-state")).to_have_text("in review")
            bob.reload()
            bob.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
            bob.click("#ed-approve")
            expect(bob.locator("#ed-state")).to_have_text("approved")
            bob.click("#ed-publish")
            expect(bob.locator("#ed-state")).to_have_text("published")
            assert fake.published == [("en", 3)]
        finally:
            alice_ctx.close()
            bob_ctx.close()

    assert errors == []
    # The learner's page plays the bundle and shows the corrected cue; no segment changed.
    report = open_player(base + "/media/index.html", play_s=5.0)
    assert report.played_s >= 3.0
    assert CORRECTED in report.cues_seen and CUES[1] not in report.cues_seen
    assert segment_digests(bundle) == before


def test_expired_session_keeps_the_text_and_resyncs(backend):
    """The session ends mid-edit: the text stays (browser storage), "log in again" is offered,
    and after logging in again in another tab the draft reaches the server by itself."""
    from playwright.sync_api import expect, sync_playwright

    base, fake = backend
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = _browser(pw, profile)
        try:
            page = context.pages[0]
            page.set_default_timeout(20_000)
            _log_in(page, base, "alice")
            fake.expire_sessions("alice")
            _row(page, 0).locator("textarea").fill("Typed while logged out")
            expect(page.locator("#ed-session")).to_be_visible()
            link = page.locator("#ed-login-link")
            assert link.get_attribute("target") == "_blank"
            assert link.get_attribute("href") == "/login?next=%2Flectures%2Fdemo%2Fen"
            kept = page.evaluate("() => JSON.parse(localStorage.getItem('medialib.draft:demo:en:alice'))")
            assert kept["cues"][0]["text"] == "Typed while logged out" and kept["synced"] is False
            assert ("alice", "en") not in fake.drafts

            # Log in again in a new tab (same browser, so the new cookie is shared).
            tab = context.new_page()
            tab.goto(base + link.get_attribute("href"))
            tab.fill("#u", "alice")
            tab.fill("#p", "alice-pw")
            tab.click("button[type=submit]")
            tab.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
            tab.close()

            page.wait_for_function("() => !window.medialibEditor.state().unauthorized", timeout=20_000)
            page.wait_for_function("() => !window.medialibEditor.state().draftPending", timeout=20_000)
            expect(page.locator("#ed-session")).to_be_hidden()
            assert fake.drafts[("alice", "en")]["cues"][0]["text"] == "Typed while logged out"
        finally:
            context.close()
