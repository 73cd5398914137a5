"""The review app's first schema: users, login attempts, locks, drafts, track states, comments, audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempts_name_at", "login_attempts", ["name", "at"])
    op.create_index("ix_login_attempts_client_at", "login_attempts", ["client", "at"])
    op.create_table(
        "locks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lecture", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("heartbeat", TS, nullable=False),
        sa.Column("expires", TS, nullable=False),
        sa.UniqueConstraint("lecture", "lang", name="uq_locks_lecture_lang"),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("lecture", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("base_version", sa.Integer, nullable=True),
        sa.Column("cues", sa.JSON, nullable=False),
        sa.Column("updated", TS, nullable=False),
        sa.UniqueConstraint("user", "lecture", "lang", name="uq_drafts_user_lecture_lang"),
    )
    op.create_table(
        "track_states",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lecture", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("last_author", sa.String(64), nullable=False),
        sa.Column("risky_count", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated", TS, nullable=False),
        sa.UniqueConstraint("lecture", "lang", name="uq_track_states_lecture_lang"),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lecture", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("cue_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created", TS, nullable=False),
        sa.Column("resolved", sa.Boolean, nullable=False),
    )
    op.create_index("ix_comments_lecture_lang", "comments", ["lecture", "lang"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("lecture", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_lecture_lang", "audit", ["lecture", "lang"])


def downgrade() -> None:
    for table in ("audit", "comments", "track_states", "drafts", "locks", "login_attempts", "users"):
        op.drop_table(table)
