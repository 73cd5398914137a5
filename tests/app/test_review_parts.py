"""The review app's parts without HTTP: migrations, string tables, language choice, the workflow rules."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from medialib.errors import OperatorError
from medialib_app.review import db, i18n
from medialib_app.review.models import Base


def test_migrations_build_the_models_schema_from_empty(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sub' / 'r.db'}")
    db.migrate(engine)
    db.migrate(engine)   # a second start is a no-op
    assert db.current_revision(engine) == "0002"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_every_string_has_both_languages_and_keys_are_unique(tmp_path):
    table = i18n.load_strings()
    assert set(table) == {"ru", "en"} and table["ru"].keys() == table["en"].keys() and table["en"]["log_in"]
    (tmp_path / "a.toml").write_text('[x]\nru = "а"\nen = "a"\n')
    (tmp_path / "b.toml").write_text('[x]\nru = "б"\nen = "b"\n')
    with pytest.raises(OperatorError, match="defined in a.toml too"):
        i18n.load_strings(tmp_path)
    (tmp_path / "b.toml").write_text('[y]\nru = "б"\n')
    with pytest.raises(OperatorError, match="needs exactly ru and en"):
        i18n.load_strings(tmp_path)


@pytest.mark.parametrize("cookie, header, expected", [
    (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"), (None, "de,en;q=0.5,ru;q=0.4", "en"), ("ru", "en", "ru"),
    (None, None, "en"), ("xx", "fr", "en")])
def test_language_choice(cookie, header, expected):
    assert i18n.choose_language(cookie, header) == expected
