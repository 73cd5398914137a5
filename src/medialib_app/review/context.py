"""What every request handler needs: the app's state, the logged-in user, the interface language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from medialib.config import Settings, StorageOptions

from . import i18n
from .auth import SESSION_ID, NotLoggedIn, SessionCodec, session_user
from .db import transaction


@dataclass(frozen=True)
class ReviewState:
    settings: Settings
    storage: StorageOptions
    db: sessionmaker[Session]
    codec: SessionCodec
    home: Path
    strings: dict[str, dict[str, str]]


@dataclass(frozen=True)
class CurrentUser:
    name: str
    role: str


def review_state(request: Request) -> ReviewState:
    return request.app.state.review


def current_user(request: Request) -> CurrentUser:
    """The logged-in user: the cookie's session id names a live session row (not revoked, not expired)
    of an existing user, checked on every request; else NotLoggedIn (401, or a redirect for pages)."""
    sid = request.session.get(SESSION_ID)
    if isinstance(sid, str) and sid:
        state = review_state(request)
        with transaction(state.db) as db:
            found = session_user(db, sid, state.codec.max_age_s)
        if found:
            return CurrentUser(*found)
        request.session.clear()   # the cookie is deleted with the answer
    raise NotLoggedIn("log in first: your session ended or you are not logged in (drafts are kept)")


def ui_language(request: Request) -> str:
    return i18n.choose_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))
