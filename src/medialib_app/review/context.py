"""What every request handler needs: the app's state, the logged-in user, the interface language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from medialib.config import Settings, StorageOptions

from . import i18n
from .auth import SessionCodec, NotLoggedIn
from .db import transaction
from .models import User


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
    """The logged-in user (checked against the database on every request), else NotLoggedIn (401/redirect)."""
    name = request.session.get("user")
    if name:
        with transaction(review_state(request).db) as db:
            from sqlalchemy import select

            row = db.execute(select(User.name, User.role).where(User.name == name)).first()
        if row:
            return CurrentUser(row.name, row.role)
        request.session.clear()
    raise NotLoggedIn("log in first: your session ended or you are not logged in (drafts are kept)")


def ui_language(request: Request) -> str:
    return i18n.choose_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))
