"""A tiny Argos Translate package, built offline in about a second, for tests and benchmarks.

`build_argos_package` writes the folder an ``.argosmodel`` unpacks to, shaped like the
packages argos-train makes (``translate-en_ru-1_0/`` with metadata.json, model/ and
sentencepiece.model; argos-train adds a stanza/ sentence splitter and a README):

- ``sentencepiece.model``: a unigram model trained here on generated English and
  Russian lecture sentences (glossary terms, digits and placeholder codes included);
- ``model/``: a CTranslate2 Transformer in the OpenNMT-py layout (pre-norm, ReLU,
  biases, sinusoidal position tables, decoding starts at ``<s>``) with random
  weights, and the OpenNMT vocabulary: ``<unk> <blank> <s> </s>`` then the pieces.

Random weights translate into gibberish, but of a bounded, deterministic length: one
dimension of the decoder's position table is a ramp (zero in every other weight that
writes it), and only ``</s>`` reads it, so ``</s>`` wins about `output_tokens` steps in.
The real loading and decoding code runs on it unchanged.

The defaults are small (2 layers, d_model 64); the benchmark asks for Argos's standard
size (6+6 layers, d_model 512, 8 heads, ffn 2048, 50,000-entry vocabulary, int8).
"""

from __future__ import annotations

import io
import json
import math
import random
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

LANGUAGE_NAMES = {"en": "English", "ru": "Russian", "de": "German", "fr": "French", "es": "Spanish", "uk": "Ukrainian"}
SPECIALS = ("<unk>", "<blank>", "<s>", "</s>")  # OpenNMT-py's vocabulary head; CTranslate2 reads these names

_EN_SUBJECTS = ("the officer", "the witness", "a suspect", "the victim", "the investigator", "our team",
                "the police", "every trainee", "the prosecutor", "the interpreter")
_EN_VERBS = ("describes", "remembers", "reports", "explains", "protects", "questions", "records", "checks")
_EN_OBJECTS = ("the crime scene", "the chain of custody", "an open question", "a leading question",
               "human trafficking", "money laundering", "the rule of law", "human rights", "the OSCE report",
               "domestic violence", "border management", "community policing", "the preliminary investigation")
_EN_TAILS = ("today", "in the interview", "before the break", "at the station", "after 15 minutes",
             "in 2024", "with ZQ1", "near ZQ2", "for ZQ3 and ZQ4")
_RU_SUBJECTS = ("офицер", "свидетель", "подозреваемый", "потерпевший", "следователь", "наша группа",
                "полиция", "каждый слушатель", "прокурор", "переводчик")
_RU_VERBS = ("описывает", "помнит", "сообщает", "объясняет", "защищает", "допрашивает", "записывает", "проверяет")
_RU_OBJECTS = ("место преступления", "цепочку хранения доказательств", "открытый вопрос", "наводящий вопрос",
               "торговлю людьми", "отмывание денег", "верховенство права", "права человека", "доклад ОБСЕ",
               "насилие в семье", "управление границами", "предварительное расследование")
_RU_TAILS = ("сегодня", "на допросе", "перед перерывом", "в отделении", "через 15 минут", "в 2024 году",
             "с ZQ1", "рядом с ZQ2", "для ZQ3 и ZQ4")


def sample_sentences(n: int = 400, seed: int = 0) -> list[str]:
    """`n` short lecture-like sentences, half English and half Russian, deterministic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2:
            parts = (_EN_SUBJECTS, _EN_VERBS, _EN_OBJECTS, _EN_TAILS)
        else:
            parts = (_RU_SUBJECTS, _RU_VERBS, _RU_OBJECTS, _RU_TAILS)
        words = [rng.choice(p) for p in parts]
        sentence = " ".join(words)
        out.append(sentence[0].upper() + sentence[1:] + rng.choice((".", ".", "?", "!")))
    return out


def build_argos_package(
    out_dir: Path,
    from_code: str,
    to_code: str,
    *,
    version: str = "1.0",
    layers: int = 2,
    d_model: int = 64,
    heads: int = 4,
    ffn: int = 128,
    vocab_size: int | None = None,
    sp_vocab_size: int = 200,
    corpus: Iterable[str] | None = None,
    output_tokens: int = 8,
    quantization: str | None = None,
    max_positions: int = 512,
    license: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a package folder into `out_dir` and return its path.

    vocab_size: entries of the model's vocabulary; the sentencepiece pieces come first,
    the rest is filler (the size sets the cost of the output layer, as in a real model).
    output_tokens: about how many tokens each translation has.
    quantization: how CTranslate2 stores the weights (argos-train uses "int8").
    """
    import ctranslate2

    folder = Path(out_dir) / f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"
    (folder / "model").mkdir(parents=True, exist_ok=True)

    pieces = _train_sentencepiece(folder / "sentencepiece.model", corpus or sample_sentences(seed=seed),
                                  sp_vocab_size)
    vocabulary = list(SPECIALS) + [p for p in pieces if p not in ("<unk>", "<s>", "</s>", "<pad>")]
    if vocab_size is not None:
        if vocab_size < len(vocabulary):
            raise ValueError(f"vocab_size {vocab_size} is smaller than the {len(vocabulary)} pieces and specials")
        vocabulary += [f"<filler{i}>" for i in range(vocab_size - len(vocabulary))]

    rng = np.random.default_rng(seed)
    spec = ctranslate2.specs.TransformerSpec.from_config((layers, layers), heads)
    _fill_encoder(spec.encoder, rng, len(vocabulary), d_model, ffn, max_positions)
    _fill_decoder(spec.decoder, rng, vocabulary, d_model, ffn, max_positions, output_tokens)
    spec.config.decoder_start_token = "<s>"  # as the OpenNMT-py converter sets it
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(folder / "model"))

    metadata = {
        "package_version": version,
        "argos_version": "1.9",
        "from_code": from_code,
        "from_name": LANGUAGE_NAMES.get(from_code, from_code),
        "to_code": to_code,
        "to_name": LANGUAGE_NAMES.get(to_code, to_code),
        "type": "translate",
    }
    if license:
        metadata["license"] = license
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=4), encoding="utf-8")
    (folder / "README.md").write_text(
        f"# {metadata['from_name']}-{metadata['to_name']}\n\nRandom weights for tests: translates into gibberish.\n",
        encoding="utf-8",
    )
    return folder


def make_argosmodel(folder: Path) -> Path:
    """Zip a package folder as ``<name>.argosmodel`` beside it: one top folder, as Argos ships them."""
    folder = Path(folder)
    archive = folder.parent / f"{folder.name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(folder, folder.name)
        for path in sorted(folder.rglob("*")):
            zf.write(path, str(Path(folder.name) / path.relative_to(folder)))
    return archive


# --- internals -------------------------------------------------------------------------


def _train_sentencepiece(path: Path, corpus: Iterable[str], vocab_size: int) -> list[str]:
    import sentencepiece

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(corpus)),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,  # a small corpus may not support vocab_size pieces: take fewer
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(buffer.getvalue())
    sp = sentencepiece.SentencePieceProcessor(model_proto=buffer.getvalue())
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def _sinusoids(max_positions: int, d_model: int) -> np.ndarray:
    """OpenNMT-py's position table: sin on even dimensions, cos on odd ones."""
    position = np.arange(max_positions, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, d_model, 2, dtype=np.float32) * -(math.log(10000.0) / d_model))
    table = np.zeros((max_positions, d_model), dtype=np.float32)
    table[:, 0::2] = np.sin(position * div)
    table[:, 1::2] = np.cos(position * div)
    return table


def _linear(spec, rng: np.random.Generator, out_dim: int, in_dim: int, scale: float = 1.0,
            silent_row: bool = False) -> None:
    weight = (rng.standard_normal((out_dim, in_dim)) * (scale / math.sqrt(in_dim))).astype(np.float32)
    bias = (rng.standard_normal(out_dim) * 0.02).astype(np.float32)
    if silent_row:  # writes nothing into dimension 0, the decoder's length ramp
        weight[0] = 0
        bias[0] = 0
    spec.weight = weight
    spec.bias = bias


def _norm(spec, d_model: int) -> None:
    spec.gamma = np.ones(d_model, dtype=np.float32)
    spec.beta = np.zeros(d_model, dtype=np.float32)


def _fill_encoder(enc, rng, vocab: int, d_model: int, ffn: int, max_positions: int) -> None:
    enc.embeddings[0].weight = (rng.standard_normal((vocab, d_model)) / math.sqrt(d_model)).astype(np.float32)
    enc.position_encodings.encodings = _sinusoids(max_positions, d_model)
    _norm(enc.layer_norm, d_model)
    for layer in enc.layer:
        _norm(layer.self_attention.layer_norm, d_model)
        _linear(layer.self_attention.linear[0], rng, 3 * d_model, d_model)
        _linear(layer.self_attention.linear[1], rng, d_model, d_model, 0.5)
        _norm(layer.ffn.layer_norm, d_model)
        _linear(layer.ffn.linear_0, rng, ffn, d_model)
        _linear(layer.ffn.linear_1, rng, d_model, ffn, 0.5)


def _fill_decoder(dec, rng, vocabulary: Sequence[str], d_model: int, ffn: int, max_positions: int,
                  output_tokens: int) -> None:
    vocab = len(vocabulary)
    embeddings = (rng.standard_normal((vocab, d_model)) * (0.3 / math.sqrt(d_model))).astype(np.float32)
    embeddings[:, 0] = 0
    dec.embeddings.weight = embeddings
    table = _sinusoids(max_positions, d_model)
    # Step t of decoding reads position t (position 0 holds <s>). The ramp crosses zero at
    # output_tokens and </s> reads it with a large weight: before that </s> is far behind
    # the other tokens, a step or two after it </s> is far ahead.
    table[:, 0] = 0.5 * (np.arange(max_positions, dtype=np.float32) - output_tokens)
    dec.position_encodings.encodings = table
    _norm(dec.layer_norm, d_model)
    for layer in dec.layer:
        _norm(layer.self_attention.layer_norm, d_model)
        _linear(layer.self_attention.linear[0], rng, 3 * d_model, d_model)
        _linear(layer.self_attention.linear[1], rng, d_model, d_model, 0.3, silent_row=True)
        _norm(layer.attention.layer_norm, d_model)
        _linear(layer.attention.linear[0], rng, d_model, d_model)
        _linear(layer.attention.linear[1], rng, 2 * d_model, d_model)
        _linear(layer.attention.linear[2], rng, d_model, d_model, 1.0, silent_row=True)
        _norm(layer.ffn.layer_norm, d_model)
        _linear(layer.ffn.linear_0, rng, ffn, d_model)
        _linear(layer.ffn.linear_1, rng, d_model, ffn, 0.3, silent_row=True)
    projection = (rng.standard_normal((vocab, d_model)) / math.sqrt(d_model)).astype(np.float32)
    projection[:, 0] = 0
    eos = vocabulary.index("</s>")
    projection[eos] = 0
    projection[eos, 0] = 4.0
    bias = np.zeros(vocab, dtype=np.float32)
    for token in ("<unk>", "<blank>", "<s>"):
        bias[vocabulary.index(token)] = -50.0  # never produced, as in a trained model
    for i, token in enumerate(vocabulary):
        if token.startswith("<filler"):
            bias[i] = -50.0  # filler entries only cost compute, like rare pieces of a real vocabulary
        elif token.startswith("\u2581"):
            bias[i] = 1.5  # favour word starts, so the gibberish comes in words a cue can be cut at
    dec.projection.weight = projection
    dec.projection.bias = bias
