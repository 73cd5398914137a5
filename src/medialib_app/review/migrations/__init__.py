"""Alembic migrations of the review database (package data: run by medialib_app.review.db.migrate)."""
