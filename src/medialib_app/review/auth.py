"""Accounts, passwords, login throttling, signed session cookies and CSRF tokens.

- Passwords are argon2id hashes (argon2-cffi). A login for a name that does not exist
  verifies against a dummy hash, so the answer and its time are the same either way.
- After `login_max_failures` failures within `login_window_s`, for one name or from one
  client address, further logins are refused (429) until the window passes.
- The session cookie is signed with a secret made once into $MEDIALIB_HOME
  (itsdangerous): http-only, SameSite=Lax, Secure when `[review] https` or when a trusted
  proxy says the request came over https. After login it carries a session id, a row of
  the `sessions` table that logout, `medialib users passwd` and `users remove` revoke, so a
  copied cookie stops working then, not only after `session_max_age_s` (when both expire).
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
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from medialib.errors import InputError, NotFoundError

from .db import utcnow
from .models import ROLES, LoginAttempt, LoginSession, User

SESSION_COOKIE = "medialib_review"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN_FAILED = "wrong name or password"
SESSION_ID = "sid"          # the cookie dict's key for the session row's id
LAST_SEEN_EVERY_S = 60      # a session's last_seen is written at most this often (one UPDATE a minute, not a request)

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


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise InputError("the password is shorter than 8 characters; choose a longer one")


def add_user(db: Session, name: str, role: str, password: str) -> User:
    check_name(name)
    if role not in ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ROLES)}")
    _check_password(password)
    if db.scalar(select(User).where(User.name == name)):
        raise InputError(f"user {name!r} exists already; choose another name")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow())
    db.add(user)
    db.flush()
    return user


def get_user(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def _existing_user(db: Session, name: str) -> User:
    user = get_user(db, name)
    if user is None:
        raise NotFoundError(f"no user {name!r}; `medialib users list` shows the accounts")
    return user


def set_password(db: Session, name: str, password: str) -> int:
    """A new password for name; every session of theirs is revoked (a stolen cookie dies with the old password).

    Returns how many live sessions were revoked.
    """
    _check_password(password)
    user = _existing_user(db, name)
    user.password_hash = _hasher.hash(password)
    return revoke_sessions(db, name)


def remove_user(db: Session, name: str) -> int:
    """Delete the account and revoke its sessions (its drafts, comments and audit rows stay)."""
    db.delete(_existing_user(db, name))
    return revoke_sessions(db, name)


# --- sessions ---------------------------------------------------------------------------------------------

def start_session(db: Session, name: str, max_age_s: int) -> str:
    """A new session row for name; its id goes into the signed cookie. The user's expired rows are dropped."""
    now = utcnow()
    db.execute(delete(LoginSession).where(LoginSession.user == name,
                                          LoginSession.created < now - timedelta(seconds=max_age_s)))
    sid = secrets.token_urlsafe(32)
    db.add(LoginSession(id=sid, user=name, created=now, last_seen=now, revoked=False))
    return sid


def session_user(db: Session, sid: str, max_age_s: int) -> tuple[str, str] | None:
    """(name, role) for a live session id, else None (unknown, revoked, expired, or the user removed).

    One lookup by primary key joined to users by its unique name; last_seen is written only when
    it is over LAST_SEEN_EVERY_S old, so a busy editor costs one UPDATE a minute, not one a request.
    """
    row = db.execute(select(LoginSession.user, LoginSession.created, LoginSession.last_seen, LoginSession.revoked,
                            User.role).join(User, User.name == LoginSession.user)
                     .where(LoginSession.id == sid)).first()
    now = utcnow()
    if row is None or row.revoked or now - row.created > timedelta(seconds=max_age_s):
        return None
    if now - row.last_seen > timedelta(seconds=LAST_SEEN_EVERY_S):
        db.execute(update(LoginSession).where(LoginSession.id == sid).values(last_seen=now))
    return row.user, row.role


def revoke_sessions(db: Session, name: str | None = None, *, sid: str | None = None) -> int:
    """Revoke one session (sid) or all of a user's live ones (name); how many were live."""
    where = LoginSession.id == sid if sid is not None else LoginSession.user == name
    return db.execute(update(LoginSession).where(where, LoginSession.revoked.is_(False))
                      .values(revoked=True)).rowcount


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
