"""Spelling checks for subtitle QC, from dictionaries installed with pip (no system package).

    ru   pymorphy3 with pymorphy3-dicts-ru: a morphological dictionary, so every inflected
         form counts ("задержания", "допроса", "свидетелями"), which a plain word list misses
    en   pyspellchecker's English word-frequency list (inflected forms are listed:
         "detained", "interviewing"); British spellings ("colour", "organise", "defence",
         "programme", "travelled") are accepted when their American form is known

Other languages have no speller (`speller_for` gives None) and are not checked.

Not checked, in any language: numbers and words with digits ("COVID-19", "A4"), all-caps
acronyms ("OSCE", "ОБСЕ"), words in another script (a Latin name in Russian text), and
the words of glossary terms (`accept`), inflected as the glossary matches them. A
hyphenated word is checked part by part.

A speller loads its dictionary once (about 0.1 s) and is cached per language; each word's
verdict is cached too, so checking a whole track again after one edit costs little.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Iterable
from functools import lru_cache

from medialib.translate.glossary import find_term

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "ru")
_TOKEN = re.compile(r"[\w’'-]+")
_CYRILLIC_WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)*", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[a-z]+(?:['’-][a-z]+)*", re.IGNORECASE)
_RU_LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
# British endings and their American forms, for a word list that is American
_BRITISH = ((r"our(s|ed|ing|ite|ites)?$", r"or\1"), (r"is(e|es|ed|ing|ation|ations)$", r"iz\1"),
            (r"ys(e|es|ed|ing)$", r"yz\1"), (r"tre(s)?$", r"ter\1"), (r"ence(s)?$", r"ense\1"),
            (r"ogue(s)?$", r"og\1"), (r"mme(s)?$", r"m\1"), (r"ll(ed|ing|er|ers)$", r"l\1"),
            (r"ement$", r"ment"))


class Speller:
    """One language's spelling: `misspelled(text)` lists the words its dictionary does not know."""

    def __init__(self, language: str):
        self.language = language
        self._known: dict[str, bool] = {}
        self._suggestions: dict[str, str] = {}
        if language == "ru":
            import pymorphy3

            self._morph = pymorphy3.MorphAnalyzer(lang="ru")
            self._word = _CYRILLIC_WORD
            self._lookup = self._morph.word_is_known
        elif language == "en":
            from spellchecker import SpellChecker

            # distance 1: suggestions in about a millisecond; two-letter slips are rarer
            self._checker = SpellChecker(language="en", distance=1)
            self._word = _LATIN_WORD
            self._lookup = self._known_en
        else:
            raise ValueError(f"no spelling dictionary for {language!r}; spelling is checked in {', '.join(LANGUAGES)}")

    def misspelled(self, text: str, accept: Collection[str] = ()) -> list[str]:
        """The words of `text` the dictionary does not know, each once, in text order.

        `accept`: terms that are always right (glossary terms; several words each allowed),
        inflected forms included.
        """
        out: list[str] = []
        accept = tuple(accept)
        for word in self.words(text):
            if not self.knows(word) and word not in out and not _accepted(word, accept):
                out.append(word)
        return out

    def words(self, text: str) -> Iterable[str]:
        """The words of `text` this speller checks: its script, no digits, no acronyms; hyphen parts apart."""
        for token in _TOKEN.findall(text):
            token = token.strip("-'’")
            if not token or any(c.isdigit() for c in token) or (len(token) > 1 and token.isupper()):
                continue
            if not self._word.fullmatch(token):
                continue  # another script, or letters mixed with signs
            for part in token.split("-"):
                if part and not (len(part) > 1 and part.isupper()):
                    yield part

    def knows(self, word: str) -> bool:
        key = word.lower().replace("’", "'")
        verdict = self._known.get(key)
        if verdict is None:
            verdict = self._known[key] = bool(self._lookup(key))
        return verdict

    def suggest(self, word: str) -> str:
        """The likeliest known word one edit away, "" when there is none."""
        low = word.lower().replace("’", "'")
        best = self._suggestions.get(low)
        if best is None:
            if self.language == "en":
                best = self._checker.correction(low) or ""
            else:
                best = next((w for w in _edits(low, _RU_LETTERS) if self._lookup(w)), "")
            self._suggestions[low] = best
        if best and word[:1].isupper():
            best = best[:1].upper() + best[1:]
        return best if best.lower() != low else ""

    def _known_en(self, word: str) -> bool:
        if word in self._checker:
            return True
        if word.endswith(("'s", "s'")) and word[:-2 if word.endswith("'s") else -1] in self._checker:
            return True
        return any(re.search(pattern, word) and re.sub(pattern, us, word) in self._checker for pattern, us in _BRITISH)


def speller_for(language: str) -> Speller | None:
    """The speller for `language` ("ru-RU" uses "ru"), loaded once; None when there is no dictionary for it."""
    lang = language.lower().split("-")[0]
    return _speller(lang) if lang in LANGUAGES else None


@lru_cache(maxsize=None)
def _speller(lang: str) -> Speller:
    started = time.perf_counter()
    speller = Speller(lang)
    logger.debug("spelling: %s dictionary loaded in %.2f s", lang, time.perf_counter() - started)
    return speller


@lru_cache(maxsize=65536)
def _accepted(word: str, accept: tuple[str, ...]) -> bool:
    low = word.lower()
    for term in accept:
        for part in term.replace("-", " ").split():
            if part.lower() == low or find_term(word, part):
                return True
    return False


def _edits(word: str, letters: str) -> Iterable[str]:
    """Words one edit from `word`, likeliest slips first: swapped letters, a wrong, a missing, an extra one."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    yield from (a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    yield from (a + c + b[1:] for a, b in splits if b for c in letters if c != b[0])
    yield from (a + c + b for a, b in splits for c in letters)
    yield from (a + b[1:] for a, b in splits if b)
