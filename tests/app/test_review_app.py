"""The review app over HTTP (Starlette's TestClient) against the real embedded S3 server."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from review_helpers import PASSWORD, csrf_of, login, seed_lecture
from fastapi.testclient import TestClient

from medialib_app.review import db as review_db
from medialib_app.review import auth
from medialib_app.review.models import Audit, LoginSession


def _open(client, lecture, lang="en"):
    r = client.get(f"/api/lectures/{lecture}/{lang}")
    assert r.status_code == 200, r.text
    return r.json()


def _edit(doc, text):
    cues = [dict(c) for c in doc["track"]["cues"]]
    cues[1]["text"] = text
    return cues


def test_logged_out_pages_redirect_and_api_answers_401(users):
    c = TestClient(users, follow_redirects=False)
    r = c.get("/lectures/x-1/en")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/lectures/x-1/en"
    r = c.get("/lectures/x-1/en/diff?a=1&b=2")   # the page's query string survives the login
    assert r.headers["location"] == "/login?next=/lectures/x-1/en/diff%3Fa%3D1%26b%3D2"
    assert 'name="next" value="/lectures/x-1/en/diff?a=1&amp;b=2"' in c.get(r.headers["location"]).text
    r = c.get("/api/lectures/x-1/en")
    assert r.status_code == 401 and "log in" in r.json()["error"]


def test_login_logout_and_headers(users, lecture):
    c = login(users, "tanya")
    page = c.get("/")
    assert page.status_code == 200 and lecture in page.text and "tanya" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "127.0.0.1" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    cookie = c.cookies.jar
    assert any(k.name == "medialib_review" for k in cookie)
    r = c.post("/logout", data={"csrf_token": c.headers["X-CSRF-Token"]})
    assert r.status_code == 303
    assert c.get("/").status_code == 303


def _stolen(app, client) -> TestClient:
    """Another client holding a copy of client's cookie (and its CSRF token): a stolen session."""
    thief = TestClient(app, follow_redirects=False)
    thief.cookies.set("medialib_review", client.cookies.get("medialib_review"))
    thief.headers["X-CSRF-Token"] = client.headers["X-CSRF-Token"]
    return thief


def test_logout_and_password_change_revoke_copied_cookies(users, lecture):
    tanya = login(users, "tanya")
    thief = _stolen(users, tanya)
    assert thief.get("/").status_code == 200
    assert tanya.post("/logout").status_code == 303
    assert thief.get("/").status_code == 303 and thief.get(f"/api/lectures/{lecture}/en").status_code == 401
    rita = login(users, "rita")
    rita2 = login(users, "rita")   # a second browser of the same user
    thief = _stolen(users, rita)
    with review_db.transaction(users.state.review.db) as db:
        assert auth.set_password(db, "rita", "a new long password") == 2
    for c in (rita, rita2, thief):
        assert c.get(f"/api/lectures/{lecture}/en").status_code == 401
    with review_db.transaction(users.state.review.db) as db:
        rows = list(db.scalars(select(LoginSession).where(LoginSession.user == "rita")))
        assert len(rows) == 2 and all(r.revoked for r in rows) and all(len(r.id) >= 43 for r in rows)
        assert [a.action for a in db.scalars(select(Audit).where(Audit.actor == "tanya"))] == ["login", "logout"]
    sam = login(users, "sam")
    with review_db.transaction(users.state.review.db) as db:
        auth.remove_user(db, "sam")
    assert sam.get("/").status_code == 303


def test_session_expiry_and_last_seen_written_at_most_once_a_minute(users, lecture, monkeypatch):
    tanya = login(users, "tanya")
    db_factory = users.state.review.db

    def row():
        with review_db.transaction(db_factory) as db:
            return db.scalar(select(LoginSession).where(LoginSession.user == "tanya"))

    first = row().last_seen
    assert tanya.get("/").status_code == 200 and row().last_seen == first   # a request within the minute: no write
    later = first + timedelta(seconds=auth.LAST_SEEN_EVERY_S + 5)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    assert tanya.get("/").status_code == 200 and row().last_seen == later
    max_age = users.state.review.codec.max_age_s
    monkeypatch.setattr(auth, "utcnow", lambda: first + timedelta(seconds=max_age + 1))
    assert tanya.get("/").status_code == 303   # the row expired (the cookie's own signature has not yet)


def test_session_cookie_flags(users):
    c = TestClient(users, follow_redirects=False)
    r = c.get("/login")
    set_cookie = r.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie


def test_wrong_password_same_message_and_similar_time_for_unknown_user(users):
    c = TestClient(users, follow_redirects=False)
    token = csrf_of(c)
    times, bodies = {}, {}
    for name in ("tanya", "nobody-here"):
        t0 = time.perf_counter()
        r = c.post("/login", data={"name": name, "password": "wrong password", "csrf_token": token})
        times[name] = time.perf_counter() - t0
        assert r.status_code == 401
        bodies[name] = r.text.replace(name, "NAME")
    assert "wrong name or password" in bodies["tanya"]
    assert bodies["tanya"] == bodies["nobody-here"]
    assert 0.3 < times["tanya"] / times["nobody-here"] < 3   # both verify an argon2 hash


def test_login_is_throttled_per_name(users):
    c = TestClient(users, follow_redirects=False)
    token = csrf_of(c)
    for _ in range(5):
        assert c.post("/login", data={"name": "rita", "password": "nope", "csrf_token": token}).status_code == 401
    r = c.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and "too many failed logins" in r.text


def test_missing_csrf_is_403(users, lecture):
    c = login(users, "tanya")
    token = c.headers.pop("X-CSRF-Token")
    r = c.put(f"/api/lectures/{lecture}/en/draft", json={"base_version": None, "cues": []})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = c.post("/logout")
    assert r.status_code == 403
    c.headers["X-CSRF-Token"] = "forged"
    assert c.post(f"/api/lectures/{lecture}/en/lock", json={}).status_code == 403
    c.headers["X-CSRF-Token"] = token
    assert c.post(f"/api/lectures/{lecture}/en/lock", json={}).status_code == 200


def test_open_lock_conflict_and_read_only_view(users, lecture):
    tanya, roman = login(users, "tanya"), login(users, "roman")
    doc = _open(tanya, lecture)
    assert doc["version"] == 1 and doc["machine_version"] == 1 and doc["state"] == "machine"
    assert doc["source"] is None and doc["lecture"]["duration_ms"] == 60000
    assert _open(tanya, lecture, "ru")["source"]["language"] == "en"
    lock = tanya.post(f"/api/lectures/{lecture}/en/lock", json={}).json()
    assert lock["holder"] == "tanya" and lock["mine"]
    r = roman.post(f"/api/lectures/{lecture}/en/lock", json={})
    assert r.status_code == 423 and r.json()["holder"] == "tanya"
    view = _open(roman, lecture)   # read-only: everything to show, the lock not his
    assert view["lock"]["holder"] == "tanya" and not view["lock"]["mine"]
    r = roman.post(f"/api/lectures/{lecture}/en/versions", json={"base_version": 1, "cues": _edit(doc, "x")})
    assert r.status_code == 423
    assert "tanya" in roman.get("/").text   # the queue shows the holder
    assert tanya.delete(f"/api/lectures/{lecture}/en/lock").json() == {"released": True}
    assert roman.post(f"/api/lectures/{lecture}/en/lock", json={}).status_code == 200


def test_drafts_survive_and_stale_save_is_409(users, lecture):
    tanya, rita = login(users, "tanya"), login(users, "rita")
    doc = _open(tanya, lecture)
    cues = _edit(doc, "Sit down.")
    assert tanya.put(f"/api/lectures/{lecture}/en/draft", json={"base_version": 1, "cues": cues}).status_code == 200
    assert _open(tanya, lecture)["draft"]["cues"][1]["text"] == "Sit down."
    assert _open(rita, lecture)["draft"] is None   # drafts are per user
    r = tanya.post(f"/api/lectures/{lecture}/en/versions", json={"base_version": 1, "cues": cues, "message": "m"})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 2
    [edited] = saved["changed"]   # only the cue this version changed comes back, with its provenance
    assert edited["id"] == cues[1]["id"] and edited["text"] == "Sit down."
    assert edited["origin"] == "human" and edited["editor"] == "tanya" and edited["version"] == 2
    assert edited["risk"] == 0.0
    stored = tanya.get(f"/api/lectures/{lecture}/en/versions/2").json()["track"]["cues"]
    assert stored[1]["editor"] == "tanya" and "origin" not in stored[2]   # untouched cues keep theirs
    r = rita.post(f"/api/lectures/{lecture}/en/versions", json={"base_version": 1, "cues": _edit(doc, "Sit.")})
    assert r.status_code == 409
    body = r.json()
    assert body["latest"]["version"] == 2 and body["latest"]["author"] == "tanya" and "tanya" in body["error"]
    assert body["latest"]["track"]["cues"][1]["text"] == "Sit down."
    assert [v["number"] for v in rita.get(f"/api/lectures/{lecture}/en/versions").json()] == [1, 2]


def test_workflow_permissions_and_audit(users, lecture):
    tanya, rita, roman = login(users, "tanya"), login(users, "rita"), login(users, "roman")
    doc = _open(tanya, lecture)
    base = f"/api/lectures/{lecture}/en"
    assert tanya.post(f"{base}/versions", json={"base_version": 1, "cues": _edit(doc, "Sit.")}).status_code == 200
    assert tanya.post(f"{base}/actions/send", json={"base_version": 2}).json()["state"] == "in_review"
    r = tanya.post(f"{base}/actions/approve", json={"base_version": 2})
    assert r.status_code == 403 and "translator" in r.json()["error"]
    # a reviewer edits during review: the track stays in review (the library's table), but the
    # newest version is now hers, so she cannot approve it herself
    doc = _open(rita, lecture)
    assert rita.post(f"{base}/versions", json={"base_version": 2, "cues": _edit(doc, "Sit, please.")}).status_code == 200
    assert _open(rita, lecture)["state"] == "in_review"
    assert rita.post(f"{base}/actions/send", json={"base_version": 3}).status_code == 409   # in review already
    r = rita.post(f"{base}/actions/approve", json={"base_version": 3})
    assert r.status_code == 403 and "another reviewer" in r.json()["error"]
    r = roman.post(f"{base}/actions/approve", json={"base_version": 2})
    assert r.status_code == 409   # acting on an old version
    r = roman.post(f"{base}/actions/return", json={"base_version": 3, "comment": "check the name", "cue_id": "c00002"})
    assert r.json()["state"] == "draft"
    assert r.json()["comment"]["cue_id"] == "c00002" and r.json()["comment"]["author"] == "roman"
    assert roman.post(f"{base}/actions/publish", json={"base_version": 3}).status_code == 409   # not approved
    assert [(c["cue_id"], c["text"], c["resolved"]) for c in tanya.get(f"{base}/comments").json()] == \
        [("c00002", "check the name", False)]
    with review_db.transaction(users.state.review.db) as s:
        rows = [(a.actor, a.action, a.version) for a in s.scalars(select(Audit).where(Audit.lecture == lecture)
                                                                  .order_by(Audit.id))]
    assert ("tanya", "save", 2) in rows and ("tanya", "send", 2) in rows and ("rita", "save", 3) in rows
    assert ("roman", "return", 3) in rows


def test_cue_text_with_script_is_escaped(users, lecture):
    tanya = login(users, "tanya")
    doc = _open(tanya, lecture)
    evil = "<script>alert(1)</script> & more"
    r = tanya.post(f"/api/lectures/{lecture}/en/versions", json={"base_version": 1, "cues": _edit(doc, evil)})
    assert r.status_code == 200
    page = tanya.get(f"/lectures/{lecture}/en/diff?a=1&b=2")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page.text
    vtt = tanya.get(f"/api/lectures/{lecture}/en/export?format=vtt").text
    assert "&lt;script&gt;" in vtt and "NOTE medialib lecture=" in vtt and "version=2" in vtt


def test_comments_on_cues_are_resolved_with_csrf_and_audited(users, lecture):
    tanya, rita = login(users, "tanya"), login(users, "rita")
    base = f"/api/lectures/{lecture}/en"
    made = rita.post(f"{base}/comments", json={"cue_id": "c00003", "text": "'saw', not 'see'"}).json()
    general = tanya.post(f"{base}/comments", json={"text": "names checked"}).json()
    assert made["cue_id"] == "c00003" and not made["resolved"] and general["cue_id"] == ""
    bad = tanya.post(f"{base}/comments", json={"cue_id": "c1\"><script>", "text": "x"})
    assert bad.status_code == 422 and "cue_id" in bad.json()["error"]
    no_token = TestClient(users, follow_redirects=False)
    no_token.cookies.set("medialib_review", tanya.cookies.get("medialib_review"))
    assert no_token.post(f"{base}/comments/{made['id']}/resolve").status_code == 403
    r = tanya.post(f"{base}/comments/{made['id']}/resolve")
    assert r.status_code == 200 and r.json()["resolved"] is True
    assert tanya.post(f"{base}/comments/{made['id']}/resolve").json()["resolved"] is True   # again: no-op
    other = seed_lecture(users.state.review.storage, {"en": ["One."]})
    assert tanya.post(f"/api/lectures/{other}/en/comments/{general['id']}/resolve").status_code == 404
    assert tanya.post(f"{base}/comments/99999/resolve").status_code == 404
    listed = {c["id"]: c["resolved"] for c in _open(tanya, lecture)["comments"]}
    assert listed == {made["id"]: True, general["id"]: False}
    with review_db.transaction(users.state.review.db) as s:
        rows = [(a.actor, a.action, a.detail) for a in s.scalars(select(Audit).where(Audit.lecture == lecture)
                                                                 .order_by(Audit.id)) if a.action != "lock"]
    assert rows == [("rita", "comment", "cue c00003"), ("tanya", "comment", "cue -"),
                    ("tanya", "resolve", f"comment {made['id']} on cue c00003")]


def test_comments_qc_import_and_language_switch(users, lecture):
    tanya = login(users, "tanya")
    base = f"/api/lectures/{lecture}/en"
    r = tanya.post(f"{base}/comments", json={"cue_id": "c00002", "text": "<b>name?</b>"})
    assert r.status_code == 201 and r.json()["author"] == "tanya"
    issues = tanya.post(f"{base}/qc", json={"cues": [{"id": "a", "start_ms": 0, "end_ms": 2000, "text": "x"},
                                                     {"id": "b", "start_ms": 1000, "end_ms": 900, "text": "y"},
                                                     {"id": "c", "start_ms": 1500, "end_ms": 2500, "text": "Teh end"}]})
    rules = {(i["cue_id"], i["rule"], i["severity"]) for i in issues.json()["issues"]}
    assert ("b", "timing", "block") in rules and ("c", "overlap", "block") in rules
    assert ("c", "spelling", "warn") in rules   # the library's checks, spelling included
    srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nПривет, мир\r\n\r\n".encode("cp1251")
    r = tanya.post(f"{base}/import", files={"file": ("a.srt", srt)})
    assert r.status_code == 200 and r.json()["cues"][0]["text"] == "Привет, мир"
    r = tanya.post(f"{base}/import", files={"file": ("b.srt", b"")})
    assert r.status_code == 422 and "empty" in r.json()["error"]
    late = b"1\n01:00:00,000 --> 01:00:02,000\nlate\n"
    assert "ends after the lecture" in tanya.post(f"{base}/import", files={"file": ("c.srt", late)}).json()["error"]
    r = tanya.get("/lang?set=ru&next=/", headers={"accept-language": "en"})
    assert r.status_code == 303 and "medialib_lang=ru" in r.headers["set-cookie"]
    page = tanya.get("/")
    assert '<html lang="ru">' in page.text and "Лекции и субтитры" in page.text
    fresh = TestClient(users)
    assert '<html lang="ru">' in fresh.get("/login", headers={"accept-language": "ru-RU,ru;q=0.9,en;q=0.5"}).text
