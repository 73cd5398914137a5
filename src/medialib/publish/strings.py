"""The learners' pages' string table (strings.toml): every key in English and Russian."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "ru")
STRINGS_FILE = Path(__file__).with_name("strings.toml")


@cache
def strings(prefixes: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """{language: {key: text}} for the keys starting with one of prefixes (all keys when none)."""
    table = tomllib.loads(STRINGS_FILE.read_text(encoding="utf-8"))
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for key, texts in table.items():
        if prefixes and not key.startswith(prefixes):
            continue
        for lang in LANGUAGES:
            out[lang][key] = texts[lang]
    return out
