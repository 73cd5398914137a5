"""The review app against the session's real SeaweedFS: seeded lectures, a fresh database per test."""

from __future__ import annotations

import pytest
from review_helpers import PASSWORD, seed_lecture

from medialib import storage
from medialib.config import load_settings

from medialib_app.review import create_app
from medialib_app.review import db as review_db
from medialib_app.review.auth import add_user

@pytest.fixture(scope="session")
def s3_server(s3_server):
    """The session's SeaweedFS with buckets of the app tests' own: their seeded lectures (publish
    records without renditions) stay out of the catalog the pipeline tests republish."""
    opts = s3_server.model_copy(update={"archive_bucket": "review-tests-archive",
                                        "publish_bucket": "review-tests-publish",
                                        "public_base_url": f"{s3_server.endpoint_url}/review-tests-publish"})
    storage.ensure_buckets(storage.make_client(opts), opts)
    return opts


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIALIB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def settings(home):
    return load_settings(environ={"MEDIALIB_HOME": str(home)})


@pytest.fixture
def app(settings, s3_server, home):
    return create_app(settings, storage=s3_server, database_url=f"sqlite:///{home / 'review.db'}", home=home)


@pytest.fixture
def users(app):
    with review_db.transaction(app.state.review.db) as s:
        for name, role in (("tanya", "translator"), ("rita", "reviewer"), ("roman", "reviewer"), ("sam", "staff")):
            add_user(s, name, role, PASSWORD)
    return app


@pytest.fixture
def lecture(s3_server):
    return seed_lecture(s3_server, {"en": ["Hello there.", "Sit down, please.", "What did you see?"],
                                    "ru": ["Здравствуйте.", "Садитесь, пожалуйста.", "Что вы видели?"]})
