"""Machine translation of whole sentences with Argos Translate packages, re-timed onto cues.

An Argos package (``.argosmodel``, a zip of one folder) holds ``metadata.json``, a
CTranslate2 model in ``model/`` and a ``sentencepiece.model``. medialib runs the model
with ctranslate2 and sentencepiece directly, batched, rather than through argostranslate:
that one translates one call at a time, pulls in stanza and torch, and its sentence
splitter downloads a model on first use. Decoding settings follow argostranslate's
(replace_unknowns, length_penalty 0.2), so a sentence translates the same either way.

The steps, each a function of this module::

    sentences_from_words / sentences_from_cues   whole sentences with their time spans
    translate_track                              protect glossary terms, translate all
                                                 sentences in batches, restore the terms,
    retime_translation                           lay each translation over its sentence's
                                                 span and cut it into readable cues

Times are integer milliseconds throughout.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from medialib.clock import format_timestamp_ms
from medialib.config import SubtitleRules
from medialib.speech.transcript import Word
from medialib.subtitles.cues import Cue, Track
from medialib.subtitles.punctuation import CLOSERS, ends_clause, ends_sentence
from medialib.subtitles.segment import segment_cues
from medialib.translate.ct2 import Translator
from medialib.translate.glossary import Term, find_term, glossary_violations

logger = logging.getLogger(__name__)


SENTENCE_PAUSE_MS = 1500  # a silence longer than this ends a sentence even without punctuation


MAX_SENTENCE_WORDS = 40  # longer runs without punctuation are cut: NMT degrades on very long input


# Stands for a protected glossary term while the model translates. Sentencepiece
# vocabularies trained on Latin text have these letters and digits, so it survives
# tokenization; models copy such codes (like "MP3") rather than translate them.
_PLACEHOLDER = "ZQ{}"


_PLACEHOLDER_OUT = re.compile(r"\bZ\s?Q\s?(\d{1,3})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    """One sentence of the source with the time it was spoken, in ms."""

    start_ms: int
    end_ms: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.start_ms < self.end_ms:
            raise ValueError(f"sentence {self.text!r}: times {self.start_ms}..{self.end_ms} ms must satisfy 0 <= start < end")
        if not self.text.strip():
            raise ValueError(f"sentence at {self.start_ms} ms has no text")


def sentences_from_words(words: Sequence[Word]) -> tuple[Sentence, ...]:
    """Whole sentences from timed words, in time order and not overlapping.

    A sentence ends after . ? ! … (not after "Dr." nor before a lowercase word), at a
    silence longer than SENTENCE_PAUSE_MS, and a run of MAX_SENTENCE_WORDS words without
    either is cut at its last clause mark (, ; : — and their CJK forms) or else its widest gap.
    """
    clean = []
    for w in words:
        text = " ".join(w.text.split())
        if text:
            clean.append(w if text == w.text else replace(w, text=text))
    clean.sort(key=lambda w: w.start_ms)
    groups: list[list[Word]] = []
    current: list[Word] = []
    for i, w in enumerate(clean):
        nxt = clean[i + 1] if i + 1 < len(clean) else None
        current.append(w)
        if nxt is None or ends_sentence(w, nxt) or nxt.start_ms - w.end_ms > SENTENCE_PAUSE_MS:
            groups.append(current)
            current = []
        elif len(current) >= MAX_SENTENCE_WORDS:
            cut = _long_run_cut(current)
            groups.append(current[:cut])
            current = current[cut:]
    return _disjoint([(g[0].start_ms, max(w.end_ms for w in g), " ".join(w.text for w in g)) for g in groups])


def sentences_from_cues(cues: Sequence[Cue]) -> tuple[Sentence, ...]:
    """Whole sentences from cues that have no word timings (edited or imported tracks).

    Each word gets the times of its characters inside its cue (a cue's time spread
    evenly over its characters); then the rules of `sentences_from_words` apply, so a
    sentence may span several cues and a cue may hold several sentences.
    """
    words = []
    for cue in sorted(cues, key=lambda c: c.start_ms):
        flat = " ".join(cue.text.split())
        if not flat:
            continue
        duration = cue.end_ms - cue.start_ms
        for m in re.finditer(r"\S+", flat):
            a, b = m.span()
            start = cue.start_ms + duration * a // len(flat)
            end = cue.start_ms + duration * b // len(flat)
            words.append(Word(start, max(start, end), m.group(), 1.0))
    return sentences_from_words(words)


def _long_run_cut(run: Sequence[Word]) -> int:
    """Where to cut a run of words that has no sentence end: an index in the second half."""
    candidates = range(max(1, len(run) // 2), len(run))
    clauses = [i for i in candidates if ends_clause(run[i - 1])]
    if clauses:
        return clauses[-1]
    return max(candidates, key=lambda i: (run[i].start_ms - run[i - 1].end_ms, i))


def _disjoint(spans: Sequence[tuple[int, int, str]]) -> tuple[Sentence, ...]:
    """Sentences from (start, end, text), each ending by the next one's start and lasting >= 1 ms."""
    out: list[Sentence] = []
    for i, (start, end, text) in enumerate(spans):
        if out and start < out[-1].end_ms:
            start = out[-1].end_ms
        if i + 1 < len(spans):
            end = min(end, spans[i + 1][0])
        out.append(Sentence(start, max(end, start + 1), text))
    return tuple(out)


def retime_translation(
    sentences: Sequence[Sentence], translations: Sequence[str], rules: SubtitleRules
) -> tuple[Cue, ...]:
    """Cues for the translations, each laid over its sentence's span by the target's rules.

    The translated words get times spread over the span in proportion to their length
    (a word and its space), then `segment_cues` cuts them into readable cues. Every cue
    lies inside its sentence's span; cues of neighbouring sentences keep min_gap_ms
    where the spans allow. A sentence with an empty translation gets no cue. Confidence
    is None: the model's word probabilities are not a measure a reviewer can use.
    """
    if len(sentences) != len(translations):
        raise ValueError(f"{len(sentences)} sentences but {len(translations)} translations")
    for n, (a, b) in enumerate(pairwise(sentences), start=2):
        if b.start_ms < a.end_ms:
            raise ValueError(f"sentence {n} starts at {b.start_ms} ms, before sentence {n - 1} ends ({a.end_ms} ms)")
    cues: list[Cue] = []
    for sentence, translation in zip(sentences, translations):
        words = translation.split()
        if not words:
            logger.warning("no translation for the sentence at %d ms: %r", sentence.start_ms, sentence.text[:60])
            continue
        spread = _spread_words(words, sentence.start_ms, sentence.end_ms)
        for cue in segment_cues(spread, rules, earliest_ms=sentence.start_ms):
            start, end = max(cue.start_ms, sentence.start_ms), min(cue.end_ms, sentence.end_ms)
            cues.append(Cue(start, max(end, start + 1), cue.text, None))
    return _keep_gaps(cues, rules.min_gap_ms)


def _spread_words(words: Sequence[str], start_ms: int, end_ms: int) -> list[Word]:
    """Words filling [start_ms, end_ms), each given time in proportion to its characters + 1."""
    weights = [len(w) + 1 for w in words]
    total, duration = sum(weights), end_ms - start_ms
    out, before = [], 0
    for word, weight in zip(words, weights):
        a = start_ms + duration * before // total
        before += weight
        b = start_ms + duration * before // total
        out.append(Word(a, max(a, b), word, 1.0))
    return out


def _keep_gaps(cues: Sequence[Cue], min_gap_ms: int) -> tuple[Cue, ...]:
    """End each cue min_gap_ms before the next one starts, where it can stay >= 1 ms; never overlap."""
    out = list(cues)
    for i in range(len(out) - 1):
        cue, next_start = out[i], out[i + 1].start_ms
        if next_start - cue.end_ms < min_gap_ms:
            end = next_start - min_gap_ms if next_start - min_gap_ms > cue.start_ms else min(cue.end_ms, next_start)
            out[i] = replace(cue, end_ms=min(cue.end_ms, end))
    return tuple(out)


def translate_track(
    sentences: Sequence[Sentence],
    translator: Translator,
    rules: SubtitleRules,
    dst: str,
    *,
    glossary_terms: Sequence[Term] = (),
    src_language: str = "",
) -> tuple[Track, list[str]]:
    """Translate all sentences (batched inside the translator), keep glossary terms, re-time.

    Each glossary source term in a sentence is replaced by a placeholder the model
    passes through, and the placeholder in the output by the target term (in its
    dictionary form: the model cannot inflect what it did not see). A placeholder the
    model lost adds nothing; the missing term is reported. Returns the track and the
    glossary violations, one line each: ``sentence 3 (00:00:12.400): 'witness' -> expected 'свидетель'``.
    """
    started = time.perf_counter()
    terms = sorted(glossary_terms, key=lambda t: -len(t.source))
    protected, mappings = zip(*(_protect(s.text, terms) for s in sentences)) if sentences else ((), ())
    raw = translator.translate_batch(list(protected))
    if len(raw) != len(sentences):
        raise RuntimeError(f"{translator.model} returned {len(raw)} translations for {len(sentences)} sentences")
    translations = [_restore(text, mapping) for text, mapping in zip(raw, mappings)]
    violations = []
    for n, (sentence, translation) in enumerate(zip(sentences, translations), start=1):
        for problem in glossary_violations(sentence.text, translation, terms):
            violations.append(f"sentence {n} ({format_timestamp_ms(sentence.start_ms)}): {problem}")
    cues = retime_translation(sentences, translations, rules.for_language(dst))
    track = Track(language=dst, origin="machine-translation", cues=cues, model=translator.model)
    logger.info(
        "translated %d sentences %s->%s with %s into %d cues in %.1f s; %d glossary violations",
        len(sentences), src_language or "?", dst, translator.model, len(cues), time.perf_counter() - started,
        len(violations),
    )
    return track, violations


def _protect(text: str, terms: Sequence[Term]) -> tuple[str, dict[int, Term]]:
    """`text` with each glossary source term replaced by a numbered placeholder, longest terms first."""
    if not terms or _PLACEHOLDER_OUT.search(text):
        return text, {}  # a sentence that already holds a placeholder-like code is left alone
    found: list[tuple[int, int, Term]] = []
    for term in terms:
        for a, b in find_term(text, term.source):
            if all(b <= x or y <= a for x, y, _ in found):
                found.append((a, b, term))
    found.sort()
    mapping: dict[int, Term] = {}
    pieces, last = [], 0
    for n, (a, b, term) in enumerate(found, start=1):
        pieces += [text[last:a], _PLACEHOLDER.format(n)]
        mapping[n] = term
        last = b
    pieces.append(text[last:])
    return "".join(pieces), mapping


def _restore(text: str, mapping: dict[int, Term]) -> str:
    """Placeholders back to target terms; unknown ones dropped; a term starting the text capitalised."""
    if not mapping:
        return " ".join(text.split())  # nothing was protected: a "ZQ1" here is the speaker's own

    def put(m: re.Match[str]) -> str:
        term = mapping.get(int(m.group(1)))
        if term is None:
            return ""
        target = term.target
        if not text[: m.start()].strip(CLOSERS + " «“„(") and target[:1].islower():
            target = target[:1].upper() + target[1:]
        return target

    return " ".join(_PLACEHOLDER_OUT.sub(put, text).split())
