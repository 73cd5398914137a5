"""A stand-in for the review app's server, for bench/editor_open.py only.

It renders the real templates/editor.html (under a minimal base.html of its own) and serves
the real static files, and answers the JSON API of /work/review-plan.md from memory. The
benchmark measures the browser side (open in < 2 s, no long task while typing) with 1,500
cues x 2 languages; the real app would need the embedded S3 server, a published lecture
and its database seeded with that many cues, which costs minutes of set-up per run and
adds server time that the budgets are not about. Tests use the real app
(tests/browser/test_review_editor.py); nothing in tests/ imports this.

    fake = ReviewFake(cues={"en": [...]}, source_lang="ru", bundle=Path(...))
    with serve(fake) as base: ...   # http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jinja2

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "medialib_app" / "review"
HLS_JS = ROOT / "src" / "medialib" / "publish" / "player" / "hls.min.js"

# The app's base.html has these blocks and this language variable; the fake keeps its own
# copy so it runs without the app's context (user menu, language switch).
BASE_HTML = """<!doctype html>
<html lang="{{ ui_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>{% block head %}{% endblock %}</head>
<body><main id="main">{% block main %}{% endblock %}</main>{% block scripts %}{% endblock %}</body></html>"""

LOGIN_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title></head>
<body><form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label for="u">User</label><input id="u" name="username">
<label for="p">Password</label><input id="p" name="password" type="password">
<button type="submit">Log in</button></form></body></html>"""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

TYPES = {
    ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".html": "text/html; charset=utf-8",
    ".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4",
    ".vtt": "text/vtt", ".srt": "application/x-subrip", ".jpg": "image/jpeg",
}

RULES = {"max_line_chars": 42, "max_lines": 2, "target_cps": 17.0, "max_cps": 20.0,
         "min_duration_ms": 830, "max_duration_ms": 7000, "min_gap_ms": 80}


# Strings the editor uses from the app's own table (app.toml), for a tree without it.
APP_STRINGS = {
    "state_machine": {"en": "machine", "ru": "машинный"}, "state_draft": {"en": "draft", "ru": "черновик"},
    "state_in_review": {"en": "in review", "ru": "на проверке"}, "state_approved": {"en": "approved", "ru": "утверждён"},
    "state_published": {"en": "published", "ru": "опубликован"},
    "diff_title": {"en": "Machine and human versions", "ru": "Машинная и человеческая версии"},
}


def strings(lang: str) -> dict[str, str]:
    """Every strings/*.toml merged, as the app's loader does, for one language."""
    table = dict(APP_STRINGS)
    for path in sorted((APP / "strings").glob("*.toml")):
        table.update(tomllib.loads(path.read_text(encoding="utf-8")))
    return {key: texts.get(lang, texts["en"]) for key, texts in table.items()}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Session:
    user: str
    csrf: str


@dataclass
class ReviewFake:
    """One lecture; `cues` the machine track per language; the first language is edited."""

    cues: dict[str, list[dict]]
    lecture_id: str = "demo"
    title: str = "Demo lecture"
    duration_ms: int = 12_000
    bundle: Path | None = None  # the published bundle (served under /media/), if any
    peaks: dict | None = None
    roles: dict[str, str] = field(default_factory=lambda: {"alice": "translator", "bob": "reviewer", "carol": "translator"})
    lock_ttl_s: float = 60.0
    sessions: dict[str, Session] = field(default_factory=dict)
    versions: dict[str, list[dict]] = field(default_factory=dict)
    drafts: dict[tuple[str, str], dict] = field(default_factory=dict)
    locks: dict[str, dict] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    comments: dict[str, list[dict]] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    published: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        for lang, cues in self.cues.items():
            self.versions[lang] = [self._version(lang, 1, None, "machine", "whisper-base", cues)]
            self.states[lang] = "machine"
            self.comments[lang] = []

    def _version(self, lang, number, base, kind, author, cues, message=""):
        return {"schema": 1, "lecture_id": self.lecture_id, "language": lang, "number": number, "base": base,
                "kind": kind, "author": author, "created_at": now_iso(), "message": message,
                "track": {"language": lang, "origin": kind, "cues": cues}}

    # -- test hooks ------------------------------------------------------------------

    def expire_sessions(self, user: str) -> None:
        """The user's sessions end, as when the cookie's lifetime runs out."""
        with self.lock:
            for sid in [s for s, v in self.sessions.items() if v.user == user]:
                del self.sessions[sid]

    def save_as(self, user: str, lang: str, cues: list[dict]) -> int:
        """Another writer (e.g. the CLI's push) saves a version on top of the latest."""
        with self.lock:
            latest = self.versions[lang][-1]
            n = latest["number"] + 1
            self.versions[lang].append(self._version(lang, n, latest["number"], "human", user, cues))
            self.states[lang] = "draft"
            return n

    # -- API -------------------------------------------------------------------------

    def lecture(self, user: str, lang: str) -> dict:
        latest = self.versions[lang][-1]
        others = [code for code in self.cues if code != lang]
        source = None
        if others:
            src = self.versions[others[0]][0]["track"]
            source = {"language": others[0], "cues": src["cues"]}
        lock = self.locks.get(lang)
        return {
            "lecture": {"id": self.lecture_id, "title": self.title, "duration_ms": self.duration_ms,
                        "master_url": "/media/master.m3u8" if self.bundle else None, "languages": list(self.cues)},
            "version": latest["number"], "state": self.states[lang], "track": latest["track"], "source": source,
            "draft": self.drafts.get((user, lang)),
            "lock": None if not lock else {"holder": lock["holder"], "expires_at": lock["expires"], "mine": lock["holder"] == user},
            "rules": {**RULES, "language": lang, "max_line_chars": 39 if lang == "ru" else 42},
            "peaks_url": f"/api/lectures/{self.lecture_id}/peaks", "comments": self.comments[lang],
            "machine_version": 1,
        }

    def take_lock(self, user: str, lang: str) -> tuple[int, dict]:
        lock = self.locks.get(lang)
        if lock and lock["holder"] != user and lock["expires"] > time.time():
            return 423, {"error": f"being edited by {lock['holder']}", "holder": lock["holder"]}
        self.locks[lang] = {"holder": user, "expires": time.time() + self.lock_ttl_s}
        return 200, {"holder": user, "expires_at": self.locks[lang]["expires"], "mine": True}

    def holds(self, user: str, lang: str) -> bool:
        lock = self.locks.get(lang)
        return bool(lock and lock["holder"] == user and lock["expires"] > time.time())

    def save_version(self, user: str, lang: str, body: dict) -> tuple[int, dict]:
        if not self.holds(user, lang):
            holder = self.locks.get(lang, {}).get("holder")
            return 423, {"error": f"being edited by {holder}", "holder": holder}
        latest = self.versions[lang][-1]
        if body.get("base_version") != latest["number"]:
            return 409, {"error": f"version {latest['number']} was saved by {latest['author']}",
                         "latest": {"version": latest["number"], "author": latest["author"],
                                    "created_at": latest["created_at"], "track": latest["track"]}}
        base = {c["id"]: c for c in latest["track"]["cues"]}
        n = latest["number"] + 1
        cues = []
        for cue in body["cues"]:
            old = base.get(cue["id"])
            same = old and (old["text"], old["start_ms"], old["end_ms"]) == (cue["text"], cue["start_ms"], cue["end_ms"])
            cues.append(old if same else {**cue, "origin": "human", "editor": user, "version": n, "risk": 0.0, "flags": []})
        self.versions[lang].append(self._version(lang, n, latest["number"], "human", user, cues, body.get("message", "")))
        self.drafts.pop((user, lang), None)
        if self.states[lang] in ("machine", "approved", "published"):
            self.states[lang] = "draft"
        return 200, {"version": n, "track": self.versions[lang][-1]["track"]}

    def act(self, user: str, lang: str, name: str, body: dict) -> tuple[int, dict]:
        role = self.roles.get(user)
        state = self.states[lang]
        latest = self.versions[lang][-1]
        moves = {"send": ("machine", "draft"), "approve": ("in_review",), "return": ("in_review",), "publish": ("approved",)}
        if state not in moves[name]:
            return 409, {"error": f"cannot {name} a track that is {state}"}
        if name in ("approve", "return", "publish") and role not in ("reviewer", "staff"):
            return 403, {"error": f"{user} is a {role}; {name} needs a reviewer"}
        if name == "approve" and latest["author"] == user:
            return 403, {"error": "the last author cannot approve their own version"}
        if name == "return" and body.get("comment"):
            self.comments[lang].append({"author": user, "cue_id": body.get("cue_id"), "text": body["comment"], "at": now_iso()})
        self.states[lang] = {"send": "in_review", "approve": "approved", "return": "draft", "publish": "published"}[name]
        if name == "publish":
            self._publish(lang, latest)
        return 200, {"state": self.states[lang]}

    def _publish(self, lang: str, version: dict) -> None:
        """Subtitles only: a new immutable v<N>.vtt and the subtitle playlist; no segment touched."""
        if self.bundle is None:
            return
        n = version["number"]
        folder = self.bundle / "subtitles" / lang
        header = (folder / "v1.vtt").read_text(encoding="utf-8").split("\n\n")[0].split("\n")
        lines = ["\n".join(line for line in header if line.startswith(("WEBVTT", "X-TIMESTAMP-MAP"))), ""]
        for cue in version["track"]["cues"]:
            lines += [f"{_vtt_time(cue['start_ms'])} --> {_vtt_time(cue['end_ms'])}",
                      cue["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), ""]
        (folder / f"v{n}.vtt").write_text("\n".join(lines), encoding="utf-8")
        playlist = folder / "index.m3u8"
        playlist.write_text(playlist.read_text(encoding="utf-8").replace("v1.vtt", f"v{n}.vtt"), encoding="utf-8")
        self.published.append((lang, n))

    def qc(self, cues: list[dict]) -> list[dict]:
        """Stands in for glossary and spelling: "teh" is a misspelling of "the"."""
        return [{"cue_id": c["id"], "rule": "spelling", "severity": "warn", "message": "unknown word “teh”",
                 "suggestion": "the"} for c in cues if "teh" in c["text"].split()]


def _vtt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _handler(fake: ReviewFake):
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader({"base.html": BASE_HTML}),
                                    jinja2.FileSystemLoader(APP / "templates")]),
        autoescape=True,
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

        # -- plumbing ----------------------------------------------------------------

        def session(self) -> Session | None:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            sid = cookie["sid"].value if "sid" in cookie else None
            return fake.sessions.get(sid) if sid else None

        def send(self, status: int, body: bytes, content_type: str, headers: dict | None = None, nonce: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP.format(nonce=nonce or secrets.token_urlsafe(12)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def json(self, status: int, data) -> None:
            fake.log.append((self.command, self.path, status))
            self.send(status, json.dumps(data).encode(), "application/json")

        def body(self) -> bytes:
            return self._body

        def file(self, path: Path) -> None:
            if not path.is_file():
                self.send(404, b"not found", "text/plain")
                return
            self.send(200, path.read_bytes(), TYPES.get(path.suffix, "application/octet-stream"))

        # -- routes ------------------------------------------------------------------

        def do_GET(self):  # noqa: N802 - http.server's name
            self.route("GET")

        def do_POST(self):  # noqa: N802
            self.route("POST")

        def do_PUT(self):  # noqa: N802
            self.route("PUT")

        def do_DELETE(self):  # noqa: N802
            self.route("DELETE")

        def route(self, method: str) -> None:
            # Read the whole body first: on a kept-alive connection, unread bytes would
            # become the start of the next request.
            self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            query = parse_qs(url.query)
            if parts[0] == "static":
                if parts[1:] == ["vendor", "hls.min.js"]:
                    return self.file(HLS_JS)
                return self.file(APP / "static" / "/".join(p for p in parts[1:] if p not in ("..", "")))
            if parts[0] == "media" and fake.bundle is not None:
                return self.file(fake.bundle / "/".join(p for p in parts[1:] if p not in ("..", "")))
            if parts == ["login"]:
                if method == "GET":
                    nxt = query.get("next", ["/"])[0]
                    return self.send(200, LOGIN_HTML.format(next=nxt.replace('"', "")).encode(), "text/html; charset=utf-8")
                form = parse_qs(self.body().decode())
                user = form.get("username", [""])[0]
                if user not in fake.roles or form.get("password", [""])[0] != user + "-pw":
                    return self.send(401, b"wrong user name or password", "text/plain")
                sid = secrets.token_urlsafe(16)
                fake.sessions[sid] = Session(user, secrets.token_urlsafe(16))
                nxt = form.get("next", ["/"])[0]
                return self.send(303, b"", "text/plain", {"Location": nxt if nxt.startswith("/") else "/",
                                                         "Set-Cookie": f"sid={sid}; Path=/; HttpOnly; SameSite=Lax"})
            session = self.session()
            if parts[0] == "api":
                if session is None:
                    return self.json(401, {"error": "not logged in"})
                if method != "GET" and self.headers.get("X-CSRF-Token") != session.csrf:
                    return self.json(403, {"error": "missing or wrong CSRF token"})
                with fake.lock:
                    return self.api(method, parts[1:], query, session)
            if parts[0] == "lectures" and len(parts) == 3:
                if session is None:
                    return self.send(303, b"", "text/plain", {"Location": "/login?next=" + quote(url.path)})
                nonce = secrets.token_urlsafe(12)
                page = env.get_template("editor.html").render(
                    csp_nonce=nonce,
                    lecture_id=parts[1], lang=parts[2], csrf_token=session.csrf, api_base="/api",
                    strings=strings("en"), ui_lang="en", user={"name": session.user, "role": fake.roles[session.user]},
                    login_url="/login",
                )
                return self.send(200, page.encode(), "text/html; charset=utf-8", nonce=nonce)
            self.send(404, b"not found", "text/plain")

        def api(self, method, parts, query, session):
            user = session.user
            if parts[:1] != ["lectures"] or len(parts) < 3 or parts[1] != fake.lecture_id:
                return self.json(404, {"error": "no such lecture"})
            if parts[2] == "peaks":
                return self.json(200, fake.peaks) if fake.peaks else self.json(404, {"error": "no peaks yet"})
            lang, rest = parts[2], parts[3:]
            if lang not in fake.cues:
                return self.json(404, {"error": f"no {lang} track"})
            if method == "GET" and not rest:
                return self.json(200, fake.lecture(user, lang))
            if rest == ["lock"]:
                if method == "DELETE":
                    if fake.holds(user, lang):
                        del fake.locks[lang]
                    return self.json(200, {})
                return self.json(*fake.take_lock(user, lang))
            if rest == ["draft"] and method == "PUT":
                if not fake.holds(user, lang):
                    return self.json(423, {"error": "not your lock", "holder": fake.locks.get(lang, {}).get("holder")})
                body = json.loads(self.body())
                fake.drafts[(user, lang)] = {"base_version": body["base_version"], "cues": body["cues"], "updated_at": now_iso()}
                return self.json(200, {"saved_at": now_iso()})
            if rest == ["versions"] and method == "POST":
                return self.json(*fake.save_version(user, lang, json.loads(self.body())))
            if rest == ["qc"] and method == "POST":
                return self.json(200, {"issues": fake.qc(json.loads(self.body())["cues"])})
            if len(rest) == 2 and rest[0] == "actions" and method == "POST":
                return self.json(*fake.act(user, lang, rest[1], json.loads(self.body() or b"{}")))
            if rest == ["import"] and method == "POST":
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self.body())
                text = next(p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") == "file").get_content()
                text = text.decode("utf-8-sig") if isinstance(text, bytes) else text
                cues = []
                for n, block in enumerate(text.replace("\r\n", "\n").strip().split("\n\n"), 1):
                    lines = [x for x in block.split("\n") if x and not x.isdigit() and not x.startswith("WEBVTT")]
                    if not lines or "-->" not in lines[0]:
                        continue
                    a, b = (_ms(x) for x in lines[0].split("-->"))
                    cues.append({"id": f"i{n:07d}", "start_ms": a, "end_ms": b, "text": "\n".join(lines[1:])})
                return self.json(200, {"cues": cues})
            return self.json(404, {"error": "no such route in the fake"})

    return Handler


def _ms(stamp: str) -> int:
    h, m, rest = stamp.strip().replace(",", ".").split(":")
    s, ms = rest.split(".")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


@contextmanager
def serve(fake: ReviewFake):
    """Serve on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def synthetic_cues(count: int, lang: str, *, seed: int = 1) -> list[dict]:
    """`count` cues of plausible length, 3.6 s apart, with a risk on every seventh."""
    words = {"en": "the officer asks the witness to describe what happened that evening in her own words".split(),
             "ru": "офицер просит свидетеля своими словами описать что произошло в тот вечер у дома".split()}[lang]
    cues = []
    for i in range(count):
        start = i * 3600
        n = 6 + (i * 7 + seed) % 6
        text = " ".join(words[(i + k) % len(words)] for k in range(n))
        cue = {"id": f"c{i + 1:05d}", "start_ms": start, "end_ms": start + 3000, "text": text}
        if i % 7 == 3:
            cue["risk"] = round(0.5 + (i % 5) / 10, 2)
            cue["flags"] = ["low_confidence"]
        cues.append(cue)
    return cues
