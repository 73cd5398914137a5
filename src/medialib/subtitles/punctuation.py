"""Where sentences and clauses end: the punctuation shared by cue segmentation and machine translation.

Latin, Cyrillic and CJK marks alike: the same rules cut cues (`segment`) and build the
whole sentences a translation model reads (`translate.retime`), so a cue boundary and a
translated sentence never disagree about where a sentence ended.
"""

from __future__ import annotations

from medialib.speech.transcript import Word

# Closing quotes and brackets may follow the mark that ends a sentence or clause: 'said.»'
CLOSERS = "\"'»”’)]}"


_STOPS = ("?", "!", "？", "！", "。")  # end a sentence whatever follows


_DOTS = (".", "…")  # end one unless they close an abbreviation or a lowercase word follows


SENTENCE_END = _STOPS + _DOTS


CLAUSE_END = (",", ";", ":", "—", "–", "，", "；", "：", "、")


# A "." after these is not a sentence end even before a capital ("Dr. Smith").
_TITLES = frozenset(
    "mr. mrs. ms. dr. prof. st. mt. jr. sr. vs. no. fig. eq. e.g. i.e. etc. "
    "т. т.е. т.к. т.д. т.п. др. проф. им. ул. см.".split()
)


def ends_sentence(word: Word, next_word: Word | None) -> bool:
    """Does a sentence end after `word`? Shared by cue segmentation and sentence building for MT."""
    core = word.text.rstrip(CLOSERS)
    if core.endswith(_STOPS):
        return True
    if not core.endswith(_DOTS) or core.lower() in _TITLES:
        return False
    # "e.g. this", "and... then": a lowercase word after the dot continues the sentence
    return next_word is None or not next_word.text[:1].islower()


def ends_clause(word: Word) -> bool:
    """Does `word` end with a clause mark (, ; : — and their CJK forms)?"""
    return word.text.rstrip(CLOSERS).endswith(CLAUSE_END)
