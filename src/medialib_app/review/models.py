"""The review app's tables: accounts, sessions, throttling, locks, drafts, workflow states, comments, audit.

Versions themselves live in object storage (tracks/<id>/<lang>/v<N>.json); these rows
are what a web app needs beside them. Times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ROLES = ("translator", "reviewer", "staff")
STATES = ("machine", "draft", "in_review", "approved", "published")


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: it stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginSession(Base):
    """One login: the signed cookie carries only `id`, so logout or a password change can revoke it."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user", "user"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)   # secrets.token_urlsafe(32)
    user: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())   # updated at most once a minute
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_name_at", "name", "at"), Index("ix_login_attempts_client_at", "client", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)


class Lock(Base):
    __tablename__ = "locks"
    __table_args__ = (UniqueConstraint("lecture", "lang", name="uq_locks_lecture_lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lecture: Mapped[str] = mapped_column(String(128))
    lang: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(64))
    heartbeat: Mapped[datetime] = mapped_column(UtcDateTime())
    expires: Mapped[datetime] = mapped_column(UtcDateTime())


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user", "lecture", "lang", name="uq_drafts_user_lecture_lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(64))
    lecture: Mapped[str] = mapped_column(String(128))
    lang: Mapped[str] = mapped_column(String(16))
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cues: Mapped[list] = mapped_column(JSON)
    updated: Mapped[datetime] = mapped_column(UtcDateTime())


class TrackState(Base):
    __tablename__ = "track_states"
    __table_args__ = (UniqueConstraint("lecture", "lang", name="uq_track_states_lecture_lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lecture: Mapped[str] = mapped_column(String(128))
    lang: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)   # the newest version known here
    last_author: Mapped[str] = mapped_column(String(64), default="")      # who saved `version` (approve checks it)
    risky_count: Mapped[int] = mapped_column(Integer, default=0)          # cues with risk >= 0.5 in `version`
    updated_by: Mapped[str] = mapped_column(String(64))
    updated: Mapped[datetime] = mapped_column(UtcDateTime())


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_lecture_lang", "lecture", "lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lecture: Mapped[str] = mapped_column(String(128))
    lang: Mapped[str] = mapped_column(String(16))
    cue_id: Mapped[str] = mapped_column(String(32))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class Audit(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_lecture_lang", "lecture", "lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    lecture: Mapped[str] = mapped_column(String(128), default="")
    lang: Mapped[str] = mapped_column(String(16), default="")
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
