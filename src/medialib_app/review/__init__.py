"""The translators' review web app: server-rendered pages, a JSON API for the editor, the review database."""

from __future__ import annotations

from .app import create_app as create_app
