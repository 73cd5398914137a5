"""Term glossaries: loaded from TSV files, used for Whisper prompts, MT protection and checks.

A glossary file is UTF-8 TSV: ``#`` comment lines and blank lines are skipped, the first
other line names the languages (``en<TAB>ru``), every later line gives one term in each of
them. Matching is case-insensitive on word boundaries and tolerates inflection: a Russian
word matches on its stem (all but the last two letters), so "свидетеля" counts as
"свидетель"; an English word also matches its plural or possessive ("witnesses").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medialib.errors import InputError

logger = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
# Words this long or shorter must match whole: a stem of "ОБСЕ" or "суд" would match too much.
_MIN_STEMMED_CHARS = 5
_INFLECTION_CHARS = 2  # letters a Russian word may change at its end ("свидетель" -> "свидетеля")
_MAX_ENDING_CHARS = 4  # letters a matched Russian stem may carry ("свидете" + "лями")


@dataclass(frozen=True)
class Term:
    """One glossary entry for one direction: `source` in the text, `target` in its translation."""

    source: str
    target: str

    def __post_init__(self) -> None:
        if not self.source.strip() or not self.target.strip():
            raise ValueError(f"glossary term {self.source!r} -> {self.target!r} has an empty side")


@dataclass(frozen=True)
class Glossary:
    """Terms in several languages; each entry maps a language code to its term."""

    entries: tuple[dict[str, str], ...] = ()

    def terms(self, src: str, dst: str) -> tuple[Term, ...]:
        """The entries having both languages as `Term`s, longest source first, one per source term.

        Longest first, so "witness protection" is found before "witness" inside it.
        """
        seen: set[str] = set()
        out = []
        for entry in self.entries:
            source, target = entry.get(src, "").strip(), entry.get(dst, "").strip()
            key = _fold(source)
            if source and target and key not in seen:
                seen.add(key)
                out.append(Term(source, target))
        out.sort(key=lambda t: -len(t.source))  # stable: file order among equal lengths
        return tuple(out)

    def prompt_terms(self, language: str) -> tuple[str, ...]:
        """The terms of one language in file order, each once: vocabulary for Whisper's prompt."""
        seen: set[str] = set()
        out = []
        for entry in self.entries:
            term = entry.get(language, "").strip()
            if term and _fold(term) not in seen:
                seen.add(_fold(term))
                out.append(term)
        return tuple(out)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({code for entry in self.entries for code in entry}))


def load_glossary(folder: Path) -> Glossary:
    """Every ``*.tsv`` in `folder`, in name order, as one Glossary.

    Raises InputError naming ``file:line`` for a line that does not have one term per
    language of its header, or for a header that is not language codes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: glossary folder not found; create it or set translation.glossary_dir")
    entries: list[dict[str, str]] = []
    files = sorted(folder.glob("*.tsv"))
    for path in files:
        entries.extend(_read_tsv(path))
    logger.debug("glossary: %d entries from %d files in %s", len(entries), len(files), folder)
    return Glossary(tuple(entries))


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the glossary as UTF-8") from None
    header: list[str] | None = None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            bad = [f for f in fields if not _LANGUAGE.fullmatch(f)]
            if bad or len(fields) < 2 or len(set(fields)) != len(fields):
                raise InputError(
                    f"{path}:{number}: the first line must name two or more different languages separated "
                    f"by tabs, like 'en<TAB>ru'; found {line!r}"
                )
            header = fields
            continue
        if len(fields) != len(header) or not all(fields):
            raise InputError(
                f"{path}:{number}: expected {len(header)} terms ({', '.join(header)}) separated by single tabs, "
                f"found {line!r}; put one term per language on the line, separated by one tab"
            )
        entries.append(dict(zip(header, fields)))
    return entries


# --- matching ------------------------------------------------------------------------


def glossary_violations(source_text: str, target_text: str, terms: Sequence[Term]) -> list[str]:
    """Each term whose source is in `source_text` but whose target is missing from `target_text`.

    Terms are tried longest first and a matched stretch of the source is not matched
    again, so "witness protection" does not also demand "свидетель". One line per
    term, like ``'witness' -> expected 'свидетель'``.
    """
    problems = []
    taken: list[tuple[int, int]] = []
    for term in sorted(terms, key=lambda t: -len(t.source)):
        spans = [s for s in find_term(source_text, term.source) if not _overlaps(s, taken)]
        if not spans:
            continue
        taken.extend(spans)
        if not find_term(target_text, term.target):
            problems.append(f"'{term.source}' -> expected '{term.target}'")
    return problems


def find_term(text: str, term: str) -> list[tuple[int, int]]:
    """(start, end) character spans of `term` in `text`, inflected forms included."""
    folded = _fold(text)
    return [m.span() for m in _term_pattern(_fold(term)).finditer(folded)]


def _overlaps(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


def _fold(text: str) -> str:
    """Lower case, ё as е, character by character: spans found in it apply to `text` itself."""
    return "".join(_fold_char(c) for c in text)


@lru_cache(maxsize=1024)
def _fold_char(c: str) -> str:
    low = c.lower()
    return "е" if low == "ё" else low if len(low) == 1 else c


@lru_cache(maxsize=4096)
def _term_pattern(folded_term: str) -> re.Pattern[str]:
    words = folded_term.split()
    parts = [_word_pattern(w) for w in words]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)")


def _word_pattern(word: str) -> str:
    if _CYRILLIC.search(word) and len(word) >= _MIN_STEMMED_CHARS and word[-1].isalpha():
        stem = word[: len(word) - _INFLECTION_CHARS]
        return re.escape(stem) + rf"\w{{0,{_MAX_ENDING_CHARS}}}"
    if word[-1:].isascii() and word[-1:].isalpha():
        return re.escape(word) + r"(?:'s|’s|s|es)?"
    return re.escape(word)
