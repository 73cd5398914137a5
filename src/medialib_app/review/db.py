"""The review database: an engine for `[review] database_url`, sessions, and migrations run on start.

SQLite (the default, `$MEDIALIB_HOME/review.db`) runs in WAL mode with a busy timeout, so
the web app's readers never wait for a writer and 50 editors saving at once queue for a
few ms instead of failing with "database is locked". Any other SQLAlchemy URL
(PostgreSQL) works unchanged. The schema is Alembic's (migrations/ ships in the package)
and is brought up to date by `migrate`, which the app and the CLI call before use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from medialib.errors import OperatorError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    """An engine for url; for SQLite: the folder made, WAL, a busy timeout, foreign keys on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")     # readers do not block the writer, nor it them
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")   # durable at each checkpoint; WAL keeps it consistent
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration (a no-op when it is there already)."""
    from alembic import command

    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
    except OperationalError as e:
        raise OperatorError(f"review database {engine.url.render_as_string(hide_password=True)}: cannot migrate "
                            f"({e.orig}); check [review] database_url and that the database is reachable") from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on an exception."""
    with factory() as s, s.begin():
        yield s


def open_database(url: str) -> sessionmaker[Session]:
    """Engine, migrations, session factory: what the app and the CLI call first."""
    engine = make_engine(url)
    migrate(engine)
    return session_factory(engine)
