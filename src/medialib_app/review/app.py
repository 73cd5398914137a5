"""The translators' review web app: `create_app(settings)` gives the FastAPI application.

Pages (server-rendered with Jinja2, autoescaped): /login, / (the queue), the editor
(/lectures/{id}/{lang}) and the diff view; the JSON API the editor uses is in api.py.
The app never serves media: the browser fetches the published HLS and subtitles from
the public S3 base URL, which the Content-Security-Policy names for media and connect.

Every request passes, outermost first: trusted-proxy headers (only from
`[review] trusted_proxies`), security headers, the signed session cookie, then the
CSRF check (a dependency on every route: any method but GET/HEAD/OPTIONS needs the
token). Errors: the API answers {"error": message} with the exception's http_status;
pages show the message, and a logged-out page request goes to /login?next=...
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from medialib.config import Settings, StorageOptions
from medialib.errors import InputError, MedialibError, NotFoundError
from medialib.publish.page import PLAYER_DIR
from medialib.subtitles import cue_to_dict

from . import auth, i18n, uploads
from .api import audit, check_ids, router
from . import tracks as lib
from .diff import diff_rows, format_ms
from .context import CurrentUser, ReviewState, current_user, ui_language
from .db import open_database, transaction, utcnow
from .models import Lock, LoginSession, TrackState

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
HLS_JS = PLAYER_DIR / "hls.min.js"   # the player's vendored copy (digest in its README), served as is


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(storage: StorageOptions, nonce: str = "{nonce}", *, upload_endpoint: str = "") -> str:
    """Strict CSP: no inline script; inline style only with this response's nonce (wavesurfer.js puts a
    <style> in its shadow root); media and XHR also to the public S3 origin (the app never serves media).

    hls.js needs two more, seen in chromium: its transmuxer runs in a worker made from a
    blob: URL (worker-src), and the subtitle <track> it adds starts as "data:,WEBVTT" (media-src).
    """
    s3 = _origin(storage.public_base_url or f"{storage.endpoint_url.rstrip('/')}/{storage.publish_bucket}")
    extra = f" {s3}" if s3 else ""
    # The upload page (only): its browser sends parts straight to S3, and hash-wasm compiles
    # its sha256 from WebAssembly ('wasm-unsafe-eval' allows that and no JavaScript eval).
    up = _origin(upload_endpoint)
    connect = extra + (f" {up}" if up and up != s3 else "")
    wasm = " 'wasm-unsafe-eval'" if upload_endpoint else ""
    return (f"default-src 'self'; script-src 'self'{wasm}; worker-src 'self' blob:; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
            f"media-src 'self' blob: data:{extra}; connect-src 'self'{connect}; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'; object-src 'none'")


class SecurityHeaders:
    """Adds the CSP (with a fresh nonce per request, in request.state.csp_nonce) and its companions."""

    def __init__(self, app, csp: str, path_csp: tuple[tuple[str, str], ...] = ()):
        self.app = app
        self.csp = csp   # content_security_policy(...) with "{nonce}" left in
        self.path_csp = path_csp   # (path prefix, policy) for pages that need more (the upload page)
        self.headers = [(b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"),
                        (b"cross-origin-opener-policy", b"same-origin")]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policy = next((p for prefix, p in self.path_csp if scope.get("path", "").startswith(prefix)), self.csp)
        csp = (b"content-security-policy", policy.replace("{nonce}", nonce).encode())

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [csp] + self.headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def csrf_guard(request: Request) -> None:
    """Every state-changing request carries the session's CSRF token (header or form field).

    An API call without a session is not checked here: the route's current_user answers 401,
    which tells the editor to offer "log in again" (a 403 would read as a forged request).
    """
    if request.method in auth.SAFE_METHODS:
        return
    if _is_api(request) and not request.session.get(auth.SESSION_ID):
        return
    sent = request.headers.get(auth.CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(auth.CSRF_FIELD)   # Starlette caches the form for the route
    auth.check_csrf(request.session, sent if isinstance(sent, str) else None)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def build_state(settings: Settings, *, storage: StorageOptions | None = None, database_url: str | None = None,
                home: Path | None = None) -> ReviewState:
    """Storage (the embedded server started when configured), the migrated database, the cookie secret, strings."""
    if storage is None:
        from medialib.storage.embedded import resolve_storage

        storage = resolve_storage(settings)
    home = home or settings.home()
    codec = auth.SessionCodec(auth.load_or_create_secret(home), settings.review.session_max_age_s)
    return ReviewState(settings=settings, storage=storage, db=open_database(database_url or settings.review.database()),
                       codec=codec, home=home, strings=i18n.strings())


def create_app(settings: Settings, *, storage: StorageOptions | None = None, database_url: str | None = None,
               home: Path | None = None) -> FastAPI:
    """The app for settings; storage: resolved options (default: resolve_storage, starting the embedded server)."""
    state = build_state(settings, storage=storage, database_url=database_url, home=home)
    opts, codec = settings.review, state.codec
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))
    templates = Jinja2Templates(env=env)

    app = FastAPI(title="medialib review", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_guard)])
    app.state.review = state
    app.state.templates = templates
    app.add_middleware(auth.SessionMiddleware, codec=codec, always_secure=opts.https)
    app.add_middleware(SecurityHeaders, csp=content_security_policy(storage), path_csp=(
        ("/uploads", content_security_policy(storage, upload_endpoint=uploads.upload_endpoint(state))),))
    if opts.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(opts.trusted_proxies))

    @app.get("/static/vendor/hls.min.js", include_in_schema=False)
    def hls_js():
        return FileResponse(HLS_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def render(request: Request, template: str, status: int = 200, **ctx) -> HTMLResponse:
        lang = ui_language(request)
        base = {"request": request, "t": state.strings[lang], "ui_lang": lang, "languages": i18n.LANGUAGES,
                "csrf_token": auth.csrf_token(request.session), "user": ctx.pop("user", None),
                "csp_nonce": getattr(request.state, "csp_nonce", ""),
                "here": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
        return templates.TemplateResponse(request, template, {**base, **ctx}, status_code=status)

    app.state.render = render

    # --- errors ---------------------------------------------------------------------------------------

    @app.exception_handler(MedialibError)
    async def medialib_error(request: Request, exc: MedialibError):
        if isinstance(exc, auth.NotLoggedIn) and not _is_api(request):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")   # e.g. the diff's ?a=&b=
            return RedirectResponse(f"/login?next={quote(_safe_next(here), safe='/')}", status_code=303)
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        body = {"error": str(exc), **getattr(exc, "body", {})}
        if _is_api(request):
            return JSONResponse(body, status_code=exc.http_status)
        return render(request, "error.html", status=exc.http_status, message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        if _is_api(request):
            return JSONResponse({"error": msg}, status_code=422)
        return render(request, "error.html", status=422, message=msg)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _is_api(request):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)
        return render(request, "error.html", status=exc.status_code, message=str(exc.detail))

    # --- pages ----------------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        return render(request, "login.html", next=_safe_next(next), error=None)

    @app.post("/login")
    def login(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/")):
        client = request.client.host if request.client else "?"
        error = None
        with transaction(state.db) as db:
            try:
                user = auth.authenticate(db, name, password, client, max_failures=opts.login_max_failures,
                                         window_s=opts.login_window_s)
            except InputError as e:   # the failed attempt is committed with the transaction
                error, status = str(e), e.http_status
            else:
                audit(db, user.name, "login")
                sid = auth.start_session(db, user.name, opts.session_max_age_s)
        if error:
            return render(request, "login.html", status=401 if status == 422 else status,
                          next=_safe_next(next), error=error, name=name)
        # A fresh session (new CSRF token) at login: a token seen before login is useless after it.
        request.session.clear()
        request.session.update({auth.SESSION_ID: sid})
        auth.csrf_token(request.session)
        return RedirectResponse(_safe_next(next), status_code=303)

    @app.post("/logout")
    def logout(request: Request):
        sid = request.session.get(auth.SESSION_ID)
        if isinstance(sid, str) and sid:   # revoked server-side: a copy of the cookie is dead too
            with transaction(state.db) as db:
                if auth.revoke_sessions(db, sid=sid):
                    who = db.scalar(select(LoginSession.user).where(LoginSession.id == sid))
                    audit(db, who or "?", "logout")
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/lang")
    def set_language(request: Request, set: str, next: str = "/"):
        resp = RedirectResponse(_safe_next(next), status_code=303)
        if set in i18n.LANGUAGES:
            resp.set_cookie(i18n.LANG_COOKIE, set, max_age=365 * 86400, httponly=True, samesite="lax",
                            secure=opts.https or request.url.scheme == "https")
        return resp

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, user: CurrentUser = Depends(current_user)):
        rows = queue_rows(state)
        return render(request, "queue.html", user=user, rows=rows)

    @app.get("/lectures/{lecture_id}/{lang}", response_class=HTMLResponse)
    def editor_page(request: Request, lecture_id: str, lang: str, user: CurrentUser = Depends(current_user)):
        check_ids(lecture_id, lang)
        summary = lib.lecture_summary(lecture_id, state.storage)
        if lang not in summary["languages"]:
            raise NotFoundError(f"{lecture_id} has no {lang} subtitles; pick one of {', '.join(summary['languages'])}")
        return render(request, "editor.html", user=user, lecture_id=lecture_id, lang=lang, lecture=summary,
                      api_base="/api", strings=state.strings[ui_language(request)])

    @app.get("/lectures/{lecture_id}/{lang}/diff", response_class=HTMLResponse)
    def diff_page(request: Request, lecture_id: str, lang: str, a: int | None = None, b: int | None = None,
                  changed: bool = False, user: CurrentUser = Depends(current_user)):
        check_ids(lecture_id, lang)
        versions = lib.list_versions(state.storage, lecture_id, lang)
        if not versions:
            raise NotFoundError(f"{lecture_id} {lang}: no versions yet; open the track in the editor first")
        b = b or lib.head_number(versions)
        a = a or lib.machine_version_number(versions) or versions[0]["number"]
        va, vb = lib.load_version(state.storage, lecture_id, lang, a), lib.load_version(state.storage, lecture_id, lang, b)
        rows = diff_rows([cue_to_dict(c) for c in va.track.cues], [cue_to_dict(c) for c in vb.track.cues])
        return render(request, "diff.html", user=user, lecture_id=lecture_id, lang=lang, a=lib.version_meta(va),
                      b=lib.version_meta(vb), rows=rows, only_changes=changed, format_ms=format_ms,
                      strings=state.strings[ui_language(request)])

    app.include_router(router)
    uploads.install(app, state)
    return app


def queue_rows(state: ReviewState) -> list[dict]:
    """One row per lecture and subtitle language: state, risky cues, lock holder."""
    lectures = lib.list_lectures(state.storage)
    now = utcnow()
    with transaction(state.db) as db:
        states = {(s.lecture, s.lang): s for s in db.scalars(select(TrackState))}
        locks = {(k.lecture, k.lang): k.holder for k in db.scalars(select(Lock)) if k.expires > now}
    rows = []
    for e in lectures:
        for lang in e.get("languages") or []:
            st = states.get((e["id"], lang))
            risky = st.risky_count if st else _machine_risky(state, e["id"], lang)
            rows.append({"id": e["id"], "title": e.get("title", e["id"]), "lang": lang,
                         "state": st.state if st else "machine", "version": st.version if st else None,
                         "risky": risky, "holder": locks.get((e["id"], lang))})
    return rows


def _machine_risky(state: ReviewState, lecture_id: str, lang: str) -> int | None:
    try:
        return lib.risky_count(lib.machine_track(lecture_id, lang, state.storage))
    except MedialibError as e:
        log.warning("%s %s: cannot count risky cues: %s", lecture_id, lang, e)
        return None

