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

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Protocol

from .config import SubtitleRules, TranslationOptions
from .errors import InputError
from .glossary import Term, find_term, glossary_violations
from .speech import Word
from .subtitles import Cue, Track, ends_sentence, segment_cues

logger = logging.getLogger(__name__)

PIVOT_LANGUAGE = "en"  # Argos publishes most pairs to and from English
SENTENCE_PAUSE_MS = 1500  # a silence longer than this ends a sentence even without punctuation
MAX_SENTENCE_WORDS = 40  # longer runs without punctuation are cut: NMT degrades on very long input
MAX_DECODING_TOKENS = 256  # argostranslate's (CTranslate2's default) bound on one translation

# Stands for a protected glossary term while the model translates. Sentencepiece
# vocabularies trained on Latin text have these letters and digits, so it survives
# tokenization; models copy such codes (like "MP3") rather than translate them.
_PLACEHOLDER = "ZQ{}"
_PLACEHOLDER_OUT = re.compile(r"\bZ\s?Q\s?(\d{1,3})\b", re.IGNORECASE)

_CLOSERS = "\"'»”’)]}"
_CLAUSE_END = (",", ";", ":", "—", "–")


# --- packages -----------------------------------------------------------------------


@dataclass(frozen=True)
class ArgosPackage:
    """An installed Argos translation package: one folder."""

    path: Path
    from_code: str
    to_code: str
    name: str  # "translate-en_ru"
    version: str  # the package's own version, "1.9"
    license: str | None
    size_bytes: int
    target_prefix: str = ""  # a token some multilingual packages expect first in the output

    @property
    def model_id(self) -> str:
        """What made a track, for its provenance: ``argos:translate-en_ru-1.9``."""
        return f"argos:{self.name}-{self.version}"


def read_package(folder: Path) -> ArgosPackage:
    """Read one installed package folder; InputError naming what is missing or wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: Argos package folder not found; install the package (.argosmodel) again")
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise InputError(f"{folder}: no metadata.json, so not an Argos package; install it from its .argosmodel file")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{meta_path}: not valid JSON ({e}); install the package again") from None
    if not isinstance(meta, dict) or not meta.get("from_code") or not meta.get("to_code"):
        raise InputError(f"{meta_path}: from_code and to_code are required; install the package again")
    kind = meta.get("type", "translate")
    if kind != "translate":
        raise InputError(f"{folder}: an Argos {kind!r} package, not a translation package; install a translate-* package")
    if not (folder / "model" / "model.bin").is_file():
        raise InputError(f"{folder}: model/model.bin (the CTranslate2 weights) is missing; install the package again")
    if not (folder / "sentencepiece.model").is_file():
        if (folder / "bpe.model").is_file():
            raise InputError(
                f"{folder}: tokenizes with BPE (bpe.model), which medialib does not read; "
                "install a package with a sentencepiece.model"
            )
        raise InputError(f"{folder}: sentencepiece.model is missing; install the package again")
    from_code, to_code = str(meta["from_code"]), str(meta["to_code"])
    return ArgosPackage(
        path=folder,
        from_code=from_code,
        to_code=to_code,
        name=f"translate-{from_code}_{to_code}",
        version=str(meta.get("package_version") or "0"),
        license=meta.get("license") or None,
        size_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        target_prefix=str(meta.get("target_prefix") or ""),
    )


def installed_packages(folders: Sequence[Path]) -> tuple[ArgosPackage, ...]:
    """Every readable package in the given folders (one package per subfolder).

    A broken package is logged and skipped, so one bad install does not hide the others.
    """
    found = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if not (child / "metadata.json").is_file():
                continue
            try:
                found.append(read_package(child))
            except InputError as e:
                logger.warning("skipping an Argos package: %s", e)
    return tuple(found)


def find_route(packages: Sequence[ArgosPackage], src: str, dst: str) -> tuple[ArgosPackage, ...] | None:
    """Packages that translate src to dst: one direct, else two via English; None when none do.

    The newest version wins among packages of one pair. For src == dst the route is
    empty: nothing to translate. Region subtags are ignored ("en-GB" uses an "en" package).
    """
    src, dst = _primary(src), _primary(dst)
    if src == dst:
        return ()
    if direct := _best(packages, src, dst):
        return (direct,)
    if PIVOT_LANGUAGE not in (src, dst):
        first, second = _best(packages, src, PIVOT_LANGUAGE), _best(packages, PIVOT_LANGUAGE, dst)
        if first and second:
            return (first, second)
    return None


def _primary(code: str) -> str:
    return code.split("-")[0].lower()


def _best(packages: Sequence[ArgosPackage], src: str, dst: str) -> ArgosPackage | None:
    fitting = [p for p in packages if _primary(p.from_code) == src and _primary(p.to_code) == dst]
    return max(fitting, key=lambda p: _version_key(p.version), default=None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


# --- translators --------------------------------------------------------------------


class Translator(Protocol):
    """Anything that translates sentences in order, one output per input."""

    model: str  # provenance, e.g. "argos:translate-en_ru-1.9"

    def translate_batch(self, texts: Sequence[str]) -> list[str]: ...


class CT2Translator:
    """One Argos package run by CTranslate2: sentencepiece in, batches of sentences, sentencepiece out.

    Sentences are sorted by length before batching so a batch pads little. int8 where the
    device supports it (argos-train quantizes its models to int8 anyway). One batch at a
    time (inter_threads=1) using every core the process may run on.
    """

    def __init__(self, package: ArgosPackage, batch_size: int = 32, beam_size: int = 2, device: str = "cpu"):
        import ctranslate2
        import sentencepiece

        if batch_size < 1 or beam_size < 1:
            raise ValueError(f"batch_size ({batch_size}) and beam_size ({beam_size}) must be at least 1")
        self.package = package
        self.model = package.model_id
        self.batch_size = batch_size
        self.beam_size = beam_size
        supported = ctranslate2.get_supported_compute_types(device)
        self.compute_type = "int8" if "int8" in supported else "default"
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        try:
            self._ct2 = ctranslate2.Translator(
                str(package.path / "model"),
                device=device,
                compute_type=self.compute_type,
                inter_threads=1,
                intra_threads=threads if device == "cpu" else 0,
            )
        except (RuntimeError, ValueError) as e:
            raise InputError(f"{package.path}: cannot load the CTranslate2 model ({e}); install the package again") from None
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(package.path / "sentencepiece.model"))
        self._unk_id = self._sp.unk_id()
        logger.debug("loaded %s on %s (%s, %d threads)", self.model, device, self.compute_type, threads)

    def translate_batch(self, texts: Sequence[str]) -> list[str]:
        """One translation per text, in order; an empty text gives an empty translation."""
        out = [""] * len(texts)
        todo = [(i, self._sp.encode(" ".join(t.split()), out_type=str)) for i, t in enumerate(texts) if t.strip()]
        todo.sort(key=lambda item: len(item[1]))
        started, tokens_in = time.perf_counter(), sum(len(tok) for _, tok in todo)
        for k in range(0, len(todo), self.batch_size):
            chunk = todo[k : k + self.batch_size]
            sources = [tok for _, tok in chunk]
            longest = max(len(s) for s in sources)
            prefix = [[self.package.target_prefix]] * len(sources) if self.package.target_prefix else None
            results = self._ct2.translate_batch(
                sources,
                target_prefix=prefix,
                max_batch_size=self.batch_size,
                beam_size=self.beam_size,
                num_hypotheses=1,
                # argostranslate's settings: copy the source token for an <unk>, favour neither
                # short nor long hypotheses much
                replace_unknowns=True,
                length_penalty=0.2,
                # a bound against a degenerate repeating output; translations run ~1-1.5x the source
                max_decoding_length=min(MAX_DECODING_TOKENS, 2 * longest + 16),
            )
            for (i, _), result in zip(chunk, results):
                out[i] = self._decode(result.hypotheses[0])
        logger.debug(
            "%s: %d texts, %d tokens in %.2f s", self.model, len(todo), tokens_in, time.perf_counter() - started
        )
        return out

    def _decode(self, tokens: Sequence[str]) -> str:
        prefix = self.package.target_prefix
        if prefix and tokens and tokens[0] == prefix:
            tokens = tokens[1:]
        tokens = [t for t in tokens if t != "<unk>"]
        if all(self._sp.piece_to_id(t) != self._unk_id for t in tokens):
            text = self._sp.decode_pieces(list(tokens))
        else:
            # replace_unknowns copied a source piece that is not in the vocabulary (a rare
            # character): sentencepiece would print it as "⁇", so join the pieces as text
            text = "".join(tokens).replace("\u2581", " ")
        return " ".join(text.split())


class PivotTranslator:
    """Translators chained, each translating the previous one's output (ru -> en -> de)."""

    def __init__(self, steps: Sequence[Translator]):
        if len(steps) < 2:
            raise ValueError("a pivot needs at least two translators")
        self.steps = tuple(steps)
        self.model = " -> ".join(step.model for step in self.steps)

    def translate_batch(self, texts: Sequence[str]) -> list[str]:
        out = list(texts)
        for step in self.steps:
            out = step.translate_batch(out)
        return out


def load_translator(route: Sequence[ArgosPackage], opts: TranslationOptions) -> Translator:
    """A translator for a route from `find_route`: one package, or a pivot through two."""
    if not route:
        raise ValueError("an empty route translates nothing; check src != dst before loading a translator")
    steps = [CT2Translator(p, batch_size=opts.batch_size, beam_size=opts.beam_size) for p in route]
    return steps[0] if len(steps) == 1 else PivotTranslator(steps)


# --- sentences ----------------------------------------------------------------------


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
    either is cut at its last clause mark (, ; : —) or else its widest gap.
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
    clauses = [i for i in candidates if run[i - 1].text.rstrip(_CLOSERS).endswith(_CLAUSE_END)]
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


# --- re-timing ----------------------------------------------------------------------


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


# --- the whole track ----------------------------------------------------------------


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
            violations.append(f"sentence {n} ({_clock(sentence.start_ms)}): {problem}")
    cues = retime_translation(sentences, translations, rules)
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
        if not text[: m.start()].strip(_CLOSERS + " «“„(") and target[:1].islower():
            target = target[:1].upper() + target[1:]
        return target

    return " ".join(_PLACEHOLDER_OUT.sub(put, text).split())


def _clock(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
