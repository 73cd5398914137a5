"""The app's strings: strings/*.toml merged into one table, every key in every language.

Each file holds `[key] ru = "..." en = "..."` tables. Loading fails (at start, not when a
page is shown) on a key defined in two files or a key without every language, so a
missing translation is a start-up error, not a blank on a translator's screen.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from medialib.errors import OperatorError

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "medialib_lang"
STRINGS_DIR = Path(__file__).resolve().with_name("strings")


def load_strings(folder: Path = STRINGS_DIR) -> dict[str, dict[str, str]]:
    """{language: {key: text}} from every strings/*.toml."""
    table: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise OperatorError(f"{path}: not valid TOML ({e})") from None
        for key, texts in data.items():
            if key in where:
                raise OperatorError(f"{path}: string {key!r} is defined in {where[key]} too; rename one")
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES) \
                    or not all(isinstance(t, str) and t for t in texts.values()):
                raise OperatorError(f"{path}: string {key!r} needs exactly {' and '.join(LANGUAGES)} texts")
            where[key] = path.name
            for lang in LANGUAGES:
                table[lang][key] = texts[lang]
    return table


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    return load_strings()


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The persisted choice, else the best of Accept-Language, else English."""
    if cookie in LANGUAGES:
        return cookie
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > best_q:
            best, best_q = lang, q
    return best
