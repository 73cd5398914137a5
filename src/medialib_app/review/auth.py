"""Accounts, passwords, login throttling, signed session cookies and CSRF tokens.

- Passwords are argon2id hashes (argon2-cffi). A login for a name that does not exist
  verifies against a dummy hash, so the answer and its time are the same either way.
- After `login_max_failures` failures within `login_window_s`, for one name or from one
  client address, further logins are refused (429) until the window passes.
- The session is a cookie signed with a secret made once into $MEDIALIB_HOME
  (itsdangerous): http-only, SameSite=Lax, Secure when `[review] https` or when a trusted
  proxy says the request came over https; it expires after `session_max_age_s`.
- Every session, logged in or not, carries a random CSRF token; every state-changing
  request must send it back (X-CSRF-Token header, or a csrf_token form field).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medialib.errors import InputError

from .db import utcnow
from .models import ROLES, LoginAttempt, User

SESSION_COOKIE = "medialib_review"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN_FAILED = "wrong name or password"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("medialib: no such user")   # verified when the name is unknown: same time


class LoginThrottled(InputError):
    http_status = 429


class CsrfError(InputError):
    http_status = 403


class NotLoggedIn(InputError):
    http_status = 401


# --- secret and cookies -----------------------------------------------------------------------------------

def load_or_create_secret(home: Path) -> str:
    """The cookie-signing secret in $MEDIALIB_HOME/review-secret (0600), made on first use."""
    path = home / "review-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:   # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


class SessionCodec:
    """The session dict <-> a signed, timestamped cookie value."""

    def __init__(self, secret: str, max_age_s: int):
        self.serializer = URLSafeTimedSerializer(secret, salt="medialib-review-session")
        self.max_age_s = max_age_s

    def dumps(self, data: dict) -> str:
        return self.serializer.dumps(data)

    def loads(self, value: str) -> dict:
        try:
            data = self.serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:   # includes SignatureExpired
            return {}
        return data if isinstance(data, dict) else {}


class SessionMiddleware:
    """Signed-cookie sessions (scope["session"]); Secure when configured or when the request is https.

    Unlike Starlette's, the Secure flag follows the request: behind a trusted TLS proxy
    (uvicorn's ProxyHeadersMiddleware sets the scheme) the cookie is Secure, on plain
    loopback http it is not, so the same deployment works both ways.
    """

    def __init__(self, app, codec: SessionCodec, *, always_secure: bool):
        self.app, self.codec, self.always_secure = app, codec, always_secure

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.datastructures import MutableHeaders
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        raw = conn.cookies.get(SESSION_COOKIE)
        scope["session"] = self.codec.loads(raw) if raw else {}
        before = json.dumps(scope["session"], sort_keys=True)
        secure = self.always_secure or scope.get("scheme") == "https"

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                session = scope["session"]
                after = json.dumps(session, sort_keys=True)
                headers = MutableHeaders(scope=message)
                flags = f"Path=/; HttpOnly; SameSite=Lax{'; Secure' if secure else ''}"
                if session and (after != before or not raw):
                    headers.append("Set-Cookie", f"{SESSION_COOKIE}={self.codec.dumps(session)}; "
                                                 f"Max-Age={self.codec.max_age_s}; {flags}")
                elif not session and raw:
                    headers.append("Set-Cookie", f"{SESSION_COOKIE}=; Max-Age=0; {flags}")
            await send(message)

        await self.app(scope, receive, send_wrapper)


def csrf_token(session: dict) -> str:
    """This session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf(session: dict, sent: str | None) -> None:
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfError("missing or wrong CSRF token: reload the page and try again "
                        f"(scripts send the token in the {CSRF_HEADER} header)")


# --- accounts ---------------------------------------------------------------------------------------------

def check_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", name or ""):
        raise InputError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@'")
    return name


def add_user(db: Session, name: str, role: str, password: str) -> User:
    check_name(name)
    if role not in ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InputError("the password is shorter than 8 characters; choose a longer one")
    if db.scalar(select(User).where(User.name == name)):
        raise InputError(f"user {name!r} exists already; choose another name")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow())
    db.add(user)
    db.flush()
    return user


def get_user(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def _failures(db: Session, column, value: str, window_s: int) -> int:
    since = utcnow() - timedelta(seconds=window_s)
    return db.scalar(select(func.count()).select_from(LoginAttempt)
                     .where(column == value, LoginAttempt.at >= since, LoginAttempt.ok.is_(False))) or 0


def authenticate(db: Session, name: str, password: str, client: str, *, max_failures: int, window_s: int) -> User:
    """The user, or InputError(LOGIN_FAILED) whether the name is unknown or the password wrong; throttled."""
    name = (name or "")[:64]
    client = (client or "?")[:64]
    if _failures(db, LoginAttempt.name, name, window_s) >= max_failures or \
            _failures(db, LoginAttempt.client, client, window_s) >= max_failures * 4:
        raise LoginThrottled(f"too many failed logins; wait {window_s // 60} minutes and try again")
    user = get_user(db, name)
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None
    db.add(LoginAttempt(name=name, client=client, at=utcnow(), ok=ok))
    if not ok:
        raise InputError(LOGIN_FAILED)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
