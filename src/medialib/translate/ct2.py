"""Running Argos packages on CTranslate2 + sentencepiece directly, in batches (no torch, no downloads).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Protocol

from medialib.config import TranslationOptions
from medialib.errors import InputError
from medialib.translate.argos import ArgosPackage

logger = logging.getLogger(__name__)


MAX_DECODING_TOKENS = 256  # argostranslate's (CTranslate2's default) bound on one translation


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
