"""The review app in chromium: a translator corrects a cue and the learner sees it.

The real app (medialib_app.review under uvicorn) on the session's real SeaweedFS, with a
really published lecture: a 6-second clip, one 180p rung, the pipeline's stages called
directly with a machine track written as the cue stage would (no Whisper, no Prefect).
One flow, step by step as the issue's "Tests" section lists it: logged out -> redirected;
log in; edit a cue and see CPS/CPL update; split (by KeyboardEvent.code, as on a Russian
layout) and merge; undo; reload and find the draft; a second browser context sees the lock
and a read-only view; a stale save gets the conflict view; send for review, approve as
another user, publish; the learner's page (from the publish bucket) shows the corrected
text and the video segments' ETags and sha256 are unchanged.
"""

from __future__ import annotations

import json
import re
import tempfile

import clips
import pytest
from browser import CHROMIUM_ARGS, chromium_available, chromium_path, open_player, serve_app
from sqlalchemy import select

from medialib import keys, review, storage
from medialib.config import Rung, load_settings
from medialib.pipeline import stages
from medialib.pipeline.records import LectureRequest, PublishRecord
from medialib.subtitles import Cue, Track

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright"),
]

CUES = ("Caption one", "Caption two", "Caption 3 of 6")
CORRECTED = "Caption two, corrected by hand"
TOO_LONG = "Caption two, corrected by hand with a tail far too long for one line"
USERS = {"alice": "translator", "bob": "reviewer"}
PASSWORD = "a long test password"


def _machine(lang: str, texts) -> Track:
    return Track(language=lang, origin="asr", model="whisper-base", cues=tuple(
        Cue(i * 2000, i * 2000 + 1900, text, confidence=0.9, risk=0.9 if i == 2 else 0.1)
        for i, text in enumerate(texts)))


@pytest.fixture(scope="module")
def lecture(s3_server, tmp_path_factory):
    """A published lecture: English floor speech (machine subtitles, labelled) and a Russian translation."""
    d = tmp_path_factory.mktemp("review-lecture")
    # a clip of its own (the lecture id follows the bytes): tests/e2e publishes a 320x180 one
    src = clips.with_tone(d / "talk.mp4", seconds=6, size="256x144")
    home = d / "home"
    ladder_opts = load_settings(environ={}).ladder.model_copy(
        update={"rungs": (Rung(height=144, video_bitrate_kbps=150),)})
    lec = stages.start_lecture(LectureRequest(source=str(src), title="Review editor flow", language="en"), s3_server)
    ladder = stages.ladder_stage(lec.ingested, s3_server, ladder_opts, home, roles=lec.roles)
    lid = lec.ingested.lecture_id
    tracks = (stages._save_track(s3_server, lid, _machine("en", CUES), "m-en"),
              stages._save_track(s3_server, lid, _machine("ru", ("Реплика 1", "Реплика 2", "Реплика 3")), "m-ru"))
    stages.publish_stage(PublishRecord(lecture=lec, ladder=ladder, transcript=None, tracks=tracks, plans=()),
                         s3_server, home)
    storage.put_bytes(storage.make_client(s3_server), s3_server.archive_bucket, keys.peaks(lid), json.dumps(
        {"sample_rate": 16000, "peaks_per_second": 50, "duration_ms": 6000,
         "peaks": [round(abs(((i * 37) % 100) / 100 - 0.5), 2) for i in range(300)]}).encode())
    return lid, home


@pytest.fixture(scope="module")
def app(s3_server, lecture, tmp_path_factory):
    """The app under uvicorn on a free loopback port; yields (base URL, the FastAPI app)."""

    from medialib_app.review import create_app
    from medialib_app.review import db as review_db
    from medialib_app.review.auth import add_user

    home = tmp_path_factory.mktemp("review-home")
    settings = load_settings(environ={"MEDIALIB_HOME": str(home)})
    fastapi_app = create_app(settings, storage=s3_server, database_url=f"sqlite:///{home / 'review.db'}", home=home)
    with review_db.transaction(fastapi_app.state.review.db) as db:
        for name, role in USERS.items():
            add_user(db, name, role, PASSWORD)
    with serve_app(fastapi_app) as url:
        yield url, fastapi_app


def segment_checksums(client, bucket: str, lecture_id: str) -> dict[str, tuple[str, str]]:
    """Every video object's (ETag, sha256 metadata), playlists left out."""
    out = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"lectures/{lecture_id}/video/")
    for o in (o for page in pages for o in page.get("Contents", []) if not o["Key"].endswith(".m3u8")):
        head = client.head_object(Bucket=bucket, Key=o["Key"])
        out[o["Key"]] = (o["ETag"], head["Metadata"].get("sha256", ""))
    return out


def _browser(pw, profile: str):
    return pw.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS),
        viewport={"width": 1280, "height": 900},
    )


def _log_in(page, url: str, user: str) -> None:
    page.goto(url)
    assert "/login" in page.url  # every page needs a session
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")


def _reload(page) -> None:
    page.reload()
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


def _watch(page, name: str, errors: list[str]) -> None:
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))
    # a CSP violation (e.g. wavesurfer's shadow <style> without the nonce) is a console error
    page.on("console", lambda m: errors.append(f"{name}: {m.text}") if "Content Security Policy" in m.text else None)


def test_translator_corrects_and_learner_sees_it(app, lecture, s3_server, s3_client):
    from playwright.sync_api import expect, sync_playwright

    from medialib_app.review import db as review_db
    from medialib_app.review.models import Draft

    base, fastapi_app = app
    lid, _ = lecture
    url = f"{base}/lectures/{lid}/en"
    before = segment_checksums(s3_client, s3_server.publish_bucket, lid)
    assert before
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as p1, tempfile.TemporaryDirectory() as p2, sync_playwright() as pw:
        alice_ctx, bob_ctx = _browser(pw, p1), _browser(pw, p2)
        try:
            alice = alice_ctx.pages[0]
            _watch(alice, "alice", errors)

            # Logged out -> the login page; then the editor with the machine cues and the waveform.
            _log_in(alice, url, "alice")
            assert _texts(alice) == list(CUES)

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
            expect(_row(alice, 1).locator(".ed-cps")).to_have_text(f"{len(CORRECTED) / 1.9:.1f} cps")
            assert alice.evaluate("() => window.medialibEditor.cues()[1].risk") == 0

            # Split cue 3 at the text cursor with Alt+S as a Russian layout sends it (key "ы").
            third = _row(alice, 2).locator("textarea")
            third.click()
            third.evaluate("(el) => el.setSelectionRange(7, 7)")  # "Caption| 3 of 6"
            _alt_code(alice, "KeyS", "ы")
            assert _texts(alice)[2:4] == ["Caption", "3 of 6"]
            new_cue = alice.evaluate("() => window.medialibEditor.cues()[3]")
            assert new_cue["id"].startswith("n") and len(new_cue["id"]) == 9
            # Merge it back with Alt+M from cue 3, then undo the merge and the split.
            _row(alice, 2).locator("textarea").click()
            alice.keyboard.press("Alt+KeyM")
            assert _texts(alice)[2] == "Caption\n3 of 6" and len(_texts(alice)) == 3
            alice.keyboard.press("Control+KeyZ")
            assert len(_texts(alice)) == 4
            alice.keyboard.press("Control+KeyZ")
            assert _texts(alice) == [CUES[0], CORRECTED, CUES[2]]  # the earlier edit is still there

            # The draft reaches the database (debounced); a reload finds it.
            alice.wait_for_function("() => !window.medialibEditor.state().draftPending")
            with review_db.transaction(fastapi_app.state.review.db) as db:
                draft = db.scalar(select(Draft).where(Draft.user == "alice", Draft.lecture == lid, Draft.lang == "en"))
                assert draft.cues[1]["text"] == CORRECTED
            _reload(alice)
            assert _texts(alice)[1] == CORRECTED

            # A second browser: the lock is alice's, so bob gets a read-only view.
            bob = bob_ctx.pages[0]
            _watch(bob, "bob", errors)
            _log_in(bob, url, "bob")
            expect(bob.locator("#ed-lock")).to_contain_text("alice")
            expect(bob.locator("#ed-readonly")).to_be_visible()
            assert _row(bob, 1).locator("textarea").evaluate("(el) => el.readOnly")
            assert _state(bob)["readOnly"]

            # Read-only or not, bob comments on cue 2 (Alt+C reaches the field); the row gets a named marker.
            _row(bob, 1).locator("textarea").click()
            _alt_code(bob, "KeyC", "с")
            assert bob.evaluate("() => document.activeElement.id") == "ed-comment"
            expect(bob.locator("#ed-comment-cue")).to_have_text("On cue 2 (0:00:02.000).")
            bob.keyboard.type("Check the name")
            bob.click("#ed-comment-add")
            expect(_row(bob, 1).get_by_role("img", name="Open comments: 1")).to_be_visible()
            expect(bob.locator("#ed-comments")).to_contain_text("Cue 2, 0:00:02.000 – bob: Check the name")

            # Someone saves version 2 behind alice's back (as a CLI push does): her save is stale.
            v1 = review.load_version(s3_client, s3_server.archive_bucket, lid, "en", 1)
            theirs = Track("en", "asr", (Cue(0, 1900, "Caption one, from the command line", id="c00001"),
                                         *v1.track.cues[1:]), model="whisper-base")
            review.create_version(s3_client, s3_server.archive_bucket, lid, "en", theirs, base=1, author="carol")
            alice.click("#ed-save")
            expect(alice.locator("#ed-conflict")).to_be_visible()
            expect(alice.locator("#ed-conflict-text")).to_contain_text("saved by carol")
            expect(alice.locator("#ed-conflict-body")).to_contain_text("Caption one, from the command line")
            expect(alice.locator("#ed-conflict-body")).to_contain_text(CORRECTED)
            assert _texts(alice)[1] == CORRECTED  # her text is kept
            alice.click("#ed-keep-mine")
            expect(alice.locator("#ed-conflict")).to_be_hidden()
            assert _state(alice)["baseVersion"] == 3
            saved = review.load_version(s3_client, s3_server.archive_bucket, lid, "en", 3)
            assert saved.author == "alice" and saved.track.cues[1].origin == "human"
            assert saved.track.cues[1].editor == "alice" and saved.track.cues[1].version == 3
            assert saved.track.cues[2] == v1.track.cues[2]  # untouched cues keep theirs (risk 0.9 included)

            # Send for review (alice); approve (bob, a reviewer, not the author); publish (any role
            # may publish an approved track: alice).
            alice.click("#ed-send")
            expect(alice.locator("#ed-state")).to_have_text("in review")
            _reload(bob)
            bob.click("#ed-approve")
            expect(bob.locator("#ed-state")).to_have_text("approved")
            _reload(alice)
            # alice sees bob's comment: Enter on it in the panel selects its cue; she resolves it.
            expect(_row(alice, 1).get_by_role("img", name="Open comments: 1")).to_be_visible()
            alice.locator("#ed-comments button[data-cue]").focus()
            alice.keyboard.press("Enter")
            assert _state(alice)["focused"] == 1
            alice.get_by_role("button", name="Resolve the comment by bob: Check the name").click()
            expect(_row(alice, 1).locator(".ed-comment-mark")).to_be_hidden()
            expect(alice.locator("#ed-comments")).to_contain_text("(resolved)")
            alice.click("#ed-publish")
            expect(alice.locator("#ed-state")).to_have_text("published", timeout=30_000)
        finally:
            alice_ctx.close()
            bob_ctx.close()

    assert errors == [], "\n".join(sorted(set(e[:300] for e in errors)))
    pointer = review.live(s3_client, s3_server.archive_bucket, lid, "en")
    assert (pointer.version, pointer.approved, pointer.by) == (3, True, "alice")
    # The learner's page, from the publish bucket, shows the corrected cue; no segment changed.
    report = open_player(f"{s3_server.public_base_url}/lectures/{lid}/index.html", play_s=5.0)
    assert report.played_s >= 3.0 and report.selected_subtitle.startswith("en:")
    assert CORRECTED in report.cues_seen and CUES[1] not in report.cues_seen
    assert segment_checksums(s3_client, s3_server.publish_bucket, lid) == before


def test_expired_session_keeps_the_text_and_resyncs(app, lecture):
    """The session ends mid-edit: the text stays (browser storage), "log in again" is offered,
    and after logging in again in another tab the draft reaches the server by itself."""
    from playwright.sync_api import expect, sync_playwright

    from medialib_app.review import db as review_db
    from medialib_app.review.models import Draft

    base, fastapi_app = app
    lid, _ = lecture
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = _browser(pw, profile)
        try:
            page = context.pages[0]
            page.set_default_timeout(20_000)
            _log_in(page, f"{base}/lectures/{lid}/ru", "bob")
            # the English floor beside it: its newest version (corrected if the test above ran first)
            expect(_row(page, 1).locator(".ed-src")).to_have_text(re.compile(r"^Caption two"))
            context.clear_cookies()   # the session cookie is gone, as when its lifetime runs out
            _row(page, 0).locator("textarea").fill("Набрано без сессии")
            expect(page.locator("#ed-session")).to_be_visible()
            link = page.locator("#ed-login-link")
            assert link.get_attribute("target") == "_blank"
            assert link.get_attribute("href") == f"/login?next=%2Flectures%2F{lid}%2Fru"
            kept = page.evaluate(f"() => JSON.parse(localStorage.getItem('medialib.draft:{lid}:ru:bob'))")
            assert kept["cues"][0]["text"] == "Набрано без сессии" and kept["synced"] is False

            # Log in again in a new tab (same browser, so the new cookie is shared).
            tab = context.new_page()
            tab.goto(base + link.get_attribute("href"))
            tab.fill("input[name=name]", "bob")
            tab.fill("input[name=password]", PASSWORD)
            tab.click("button[type=submit]")
            tab.wait_for_function("() => window.medialibEditor && window.medialibEditor.ready")
            tab.close()

            page.wait_for_function("() => !window.medialibEditor.state().unauthorized", timeout=20_000)
            page.wait_for_function("() => !window.medialibEditor.state().draftPending", timeout=20_000)
            expect(page.locator("#ed-session")).to_be_hidden()
        finally:
            context.close()
    with review_db.transaction(fastapi_app.state.review.db) as db:
        draft = db.scalar(select(Draft).where(Draft.user == "bob", Draft.lecture == lid, Draft.lang == "ru"))
        assert draft.cues[0]["text"] == "Набрано без сессии"
