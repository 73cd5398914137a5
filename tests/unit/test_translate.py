"""Sentences, re-timing, glossary protection and routes on inline data; the real CTranslate2
path on tiny random-weight Argos packages built offline (tests/argos_fixture.py)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from argos_fixture import build_argos_package, make_argosmodel

from medialib.config import load_settings
from medialib.errors import InputError
from medialib.speech.transcript import Word
from medialib.subtitles.cues import Cue
from medialib.subtitles.segment import check_cues
from medialib.translate.argos import (
    ArgosPackage,
    find_route,
    installed_packages,
    read_package,
)
from medialib.translate.ct2 import CT2Translator, PivotTranslator, load_translator
from medialib.translate.glossary import Term
from medialib.translate.retime import (
    Sentence,
    retime_translation,
    sentences_from_cues,
    sentences_from_words,
    translate_track,
)

SETTINGS = load_settings(environ={})
RULES = SETTINGS.subtitles
OPTS = SETTINGS.translation
TERMS = (Term("witness protection", "защита свидетелей"), Term("witness", "свидетель"),
         Term("suspect", "подозреваемый"))


def speak(text: str, words_per_s: float = 2.5, start_ms: int = 0, pauses_ms: dict[int, int] | None = None) -> list[Word]:
    """Words of `text` at an even rate; each word fills 80% of its slot; pauses_ms[i] follows word i."""
    pauses_ms = pauses_ms or {}
    slot_ms = 1000 / words_per_s
    words, t = [], float(start_ms)
    for i, token in enumerate(text.split()):
        words.append(Word(round(t), round(t + 0.8 * slot_ms), token, 0.9))
        t += slot_ms + pauses_ms.get(i, 0)
    return words


def assert_aligned(sentences, cues):
    """Every cue inside exactly one sentence's span, in order, never overlapping."""
    for a, b in zip(cues, cues[1:]):
        assert a.end_ms <= b.start_ms
    for cue in cues:
        owners = [s for s in sentences if s.start_ms <= cue.start_ms and cue.end_ms <= s.end_ms]
        assert len(owners) == 1, cue


class Upper:
    """Stands in for a model: upper-cases each text, placeholders pass through."""

    model = "fake:upper"

    def __init__(self):
        self.calls = []

    def translate_batch(self, texts):
        self.calls.append(list(texts))
        return [t.upper() for t in texts]


class DropsPlaceholders(Upper):
    model = "fake:drops"

    def translate_batch(self, texts):
        return [re.sub(r"\s*ZQ\d+", "", t) for t in super().translate_batch(texts)]


# --- sentences ----------------------------------------------------------------------


def test_sentences_end_at_punctuation():
    words = speak("Good morning. Who saw the car? Nobody did! Dr. Smith arrived… then left.")
    sentences = sentences_from_words(words)
    assert [s.text for s in sentences] == [
        "Good morning.", "Who saw the car?", "Nobody did!", "Dr. Smith arrived… then left."
    ]
    assert sentences[0].start_ms == words[0].start_ms and sentences[0].end_ms == words[1].end_ms
    assert sentences[-1].end_ms == words[-1].end_ms


def test_long_pause_ends_a_sentence_a_short_one_does_not():
    words = speak("we looked at the file and then we met the witness", pauses_ms={2: 2000, 6: 1000})
    assert [s.text for s in sentences_from_words(words)] == [
        "we looked at", "the file and then we met the witness"
    ]


def test_long_run_without_punctuation_is_cut_near_forty_words():
    words = speak(" ".join(f"w{i}" for i in range(100)))
    sentences = sentences_from_words(words)
    sizes = [len(s.text.split()) for s in sentences]
    assert sum(sizes) == 100 and max(sizes) <= 40 and min(sizes) >= 20
    assert " ".join(s.text for s in sentences) == " ".join(w.text for w in words)


@pytest.mark.parametrize("mark", [",", ";", "—", "，", "、"])
def test_long_run_is_cut_after_a_clause_mark(mark):
    # the same clause marks as cue segmentation, full-width CJK ones included
    text = " ".join(f"w{i}{mark}" if i == 29 else f"w{i}" for i in range(45))
    sentences = sentences_from_words(speak(text))
    assert sentences[0].text.endswith(f"w29{mark}")


def test_sentences_are_ordered_and_disjoint_even_when_words_overlap():
    words = [Word(0, 900, "One.", 0.9), Word(800, 1500, "Two", 0.9), Word(1500, 1500, "words.", 0.9),
             Word(1500, 1500, "Three.", 0.9)]
    sentences = sentences_from_words(words)
    assert [s.text for s in sentences] == ["One.", "Two words.", "Three."]
    for a, b in zip(sentences, sentences[1:]):
        assert a.start_ms < a.end_ms <= b.start_ms < b.end_ms
    assert sentences_from_words([]) == ()


def test_sentences_from_cues_interpolate_inside_a_cue():
    cues = [Cue(0, 2000, "Good morning, everyone."),
            Cue(2100, 4100, "Today we talk\nabout interviews. We start"),
            Cue(4200, 6000, "with planning.")]
    sentences = sentences_from_cues(cues)
    assert [s.text for s in sentences] == [
        "Good morning, everyone.", "Today we talk about interviews.", "We start with planning."
    ]
    flat = "Today we talk about interviews. We start"
    we_start = 2100 + 2000 * flat.index("We start") // len(flat)
    assert sentences[0].start_ms == 0 and sentences[0].end_ms == 2000
    assert sentences[1].start_ms == 2100 and sentences[1].end_ms <= we_start
    assert sentences[2].start_ms == we_start and sentences[2].end_ms == 6000


def test_sentence_checks_its_times():
    with pytest.raises(ValueError, match="0 <= start < end"):
        Sentence(100, 100, "x")


# --- re-timing ----------------------------------------------------------------------

LECTURE = (
    "Good morning, everyone, and welcome to the second day of the course on investigative interviewing. "
    "Yesterday we looked at the legal framework. "
    "Today we turn to the practical side: how to plan an interview, how to open it, and how to listen. "
    "Let us begin."
)
LECTURE_RU = (
    "Доброе утро всем и добро пожаловать на второй день курса по следственному допросу.",
    "Вчера мы рассмотрели правовую основу.",
    "Сегодня мы переходим к практической стороне: как спланировать допрос, как его начать и как слушать.",
    "Начнём.",
)


def test_retimed_cues_stay_inside_their_sentences_and_read_well():
    sentences = sentences_from_words(speak(LECTURE, pauses_ms={14: 600, 21: 500, 40: 400}))
    assert len(sentences) == 4
    cues = retime_translation(sentences, LECTURE_RU, RULES)
    assert_aligned(sentences, cues)
    assert check_cues(cues, RULES) == []
    assert all(c.confidence is None for c in cues)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == " ".join(LECTURE_RU)
    assert len(cues) > len(sentences)  # the long sentences are cut into several cues


def test_sentence_without_translation_gets_no_cue(caplog):
    sentences = (Sentence(0, 2000, "One."), Sentence(2500, 4000, "Two."))
    with caplog.at_level(logging.WARNING):
        cues = retime_translation(sentences, ["", "Два."], RULES)
    assert [(c.start_ms, c.text) for c in cues] == [(2500, "Два.")]
    assert "no translation" in caplog.text


def test_retime_keeps_the_gap_between_touching_sentences():
    sentences = (Sentence(0, 2000, "One two three."), Sentence(2000, 4000, "Four five six."))
    cues = retime_translation(sentences, ["Раз два три.", "Четыре пять шесть."], RULES)
    assert cues[1].start_ms - cues[0].end_ms >= RULES.min_gap_ms
    assert_aligned(sentences, cues)


def test_retime_rejects_mismatched_or_overlapping_input():
    with pytest.raises(ValueError, match="2 sentences but 1 translations"):
        retime_translation((Sentence(0, 10, "a"), Sentence(20, 30, "b")), ["x"], RULES)
    with pytest.raises(ValueError, match="before sentence 1 ends"):
        retime_translation((Sentence(0, 100, "a"), Sentence(50, 150, "b")), ["x", "y"], RULES)


# --- glossary protection ------------------------------------------------------------


def test_terms_are_protected_and_restored_in_one_batch():
    sentences = (Sentence(0, 3000, "The witness saw the suspect."),
                 Sentence(3500, 6000, "Witness protection matters."),
                 Sentence(6500, 8000, "Thank you."))
    fake = Upper()
    track, violations = translate_track(sentences, fake, RULES, "ru", glossary_terms=TERMS, src_language="en")
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 3
    assert "witness" not in " ".join(fake.calls[0]).lower()  # the model never saw the terms
    assert violations == []
    texts = [c.text.replace("\n", " ") for c in track.cues]
    assert texts == ["THE свидетель SAW THE подозреваемый.", "Защита свидетелей MATTERS.", "THANK YOU."]
    assert (track.language, track.origin, track.model) == ("ru", "machine-translation", "fake:upper")
    assert_aligned(sentences, track.cues)


def test_lost_placeholder_adds_nothing_and_is_reported():
    sentences = (Sentence(0, 3000, "The witness saw the suspect."), Sentence(3500, 6000, "Nothing here."))
    track, violations = translate_track(sentences, DropsPlaceholders(), RULES, "ru", glossary_terms=TERMS)
    assert [c.text.replace("\n", " ") for c in track.cues] == ["THE SAW THE.", "NOTHING HERE."]
    assert violations == [
        "sentence 1 (00:00:00.000): 'witness' -> expected 'свидетель'",
        "sentence 1 (00:00:00.000): 'suspect' -> expected 'подозреваемый'",
    ]


def test_placeholders_survive_case_and_spacing_changes():
    class Mangles(Upper):
        def translate_batch(self, texts):
            return [t.lower().replace("zq1", "zq 1") for t in super().translate_batch(texts)]

    track, violations = translate_track((Sentence(0, 3000, "Ask the witness."),), Mangles(), RULES, "ru",
                                        glossary_terms=TERMS)
    assert track.cues[0].text == "ask the свидетель."
    assert violations == []


def test_text_that_looks_like_a_placeholder_is_left_alone():
    track, violations = translate_track((Sentence(0, 3000, "Form ZQ1 for the witness."),), Upper(), RULES, "ru",
                                        glossary_terms=TERMS)
    assert track.cues[0].text == "FORM ZQ1 FOR THE WITNESS."
    assert violations == ["sentence 1 (00:00:00.000): 'witness' -> expected 'свидетель'"]


def test_translator_returning_the_wrong_count_is_an_error():
    class Short(Upper):
        def translate_batch(self, texts):
            return []

    with pytest.raises(RuntimeError, match="returned 0 translations for 1 sentences"):
        translate_track((Sentence(0, 1000, "Hi."),), Short(), RULES, "ru")


def test_no_sentences_no_cues():
    track, violations = translate_track((), Upper(), RULES, "ru", glossary_terms=TERMS)
    assert track.cues == () and violations == []


# --- routes -------------------------------------------------------------------------


def pkg(src: str, dst: str, version: str = "1.0") -> ArgosPackage:
    return ArgosPackage(Path(f"/x/{src}_{dst}_{version}"), src, dst, f"translate-{src}_{dst}", version, None, 1)


def test_find_route_direct_newest_version_first():
    packages = [pkg("en", "ru", "1.9"), pkg("en", "ru", "1.10"), pkg("ru", "en")]
    assert find_route(packages, "en", "ru") == (packages[1],)
    assert find_route(packages, "en-GB", "ru") == (packages[1],)


def test_find_route_pivots_through_english():
    packages = [pkg("ru", "en"), pkg("en", "de"), pkg("en", "ru")]
    assert find_route(packages, "ru", "de") == (packages[0], packages[1])


def test_find_route_none_and_same_language():
    packages = [pkg("ru", "en"), pkg("de", "en")]
    assert find_route(packages, "ru", "de") is None
    assert find_route(packages, "en", "ru") is None
    assert find_route(packages, "ru", "ru") == ()


# --- package folders ----------------------------------------------------------------


def test_read_package_names_what_is_missing(tmp_path):
    folder = tmp_path / "translate-en_ru-1_0"
    folder.mkdir()
    with pytest.raises(InputError, match="no metadata.json"):
        read_package(folder)
    (folder / "metadata.json").write_text(json.dumps({"from_code": "en", "to_code": "ru"}))
    with pytest.raises(InputError, match=r"model/model.bin \(the CTranslate2 weights\) is missing"):
        read_package(folder)
    (folder / "model").mkdir()
    (folder / "model" / "model.bin").write_bytes(b"")
    with pytest.raises(InputError, match="sentencepiece.model is missing"):
        read_package(folder)
    (folder / "bpe.model").write_text("")
    with pytest.raises(InputError, match="tokenizes with BPE"):
        read_package(folder)
    (folder / "metadata.json").write_text(json.dumps({"from_code": "en", "to_code": "ru", "type": "sbd"}))
    with pytest.raises(InputError, match="an Argos 'sbd' package, not a translation package"):
        read_package(folder)
    (folder / "metadata.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        read_package(folder)


# --- the real CTranslate2 path on tiny packages ----------------------------------------


@pytest.fixture(scope="module")
def argos_dir(tmp_path_factory) -> Path:
    """Tiny en->ru, ru->en and en->de packages, installed as a user would (from .argosmodel files)."""
    from medialib.translate.install import install_argos_file

    build = tmp_path_factory.mktemp("argos-build")
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDIALIB_HOME", str(home))
        for src, dst, seed in (("en", "ru", 1), ("ru", "en", 2), ("en", "de", 3)):
            folder = build_argos_package(build, src, dst, version="1.0", seed=seed,
                                         license="CC0-1.0" if dst == "ru" else None)
            install_argos_file(make_argosmodel(folder), OPTS, pair=(src, dst))
        return OPTS.argos_paths()[0]


def test_installed_packages_are_read(argos_dir, caplog):
    (argos_dir / "broken").mkdir(exist_ok=True)
    (argos_dir / "broken" / "metadata.json").write_text("{")
    with caplog.at_level(logging.WARNING):
        packages = installed_packages([argos_dir, argos_dir / "missing"])
    assert sorted((p.from_code, p.to_code) for p in packages) == [("en", "de"), ("en", "ru"), ("ru", "en")]
    assert "broken" in caplog.text
    en_ru = next(p for p in packages if p.to_code == "ru")
    assert en_ru == read_package(argos_dir / "translate-en_ru-1_0")
    assert (en_ru.name, en_ru.version, en_ru.license, en_ru.model_id) == (
        "translate-en_ru", "1.0", "CC0-1.0", "argos:translate-en_ru-1.0")
    assert en_ru.size_bytes > 100_000


def test_ct2_translator_gives_one_translation_per_input(argos_dir):
    package = read_package(argos_dir / "translate-en_ru-1_0")
    translator = CT2Translator(package, batch_size=2, beam_size=2)
    texts = ["The witness said nothing.", "", "Where were you at ten?", "Свидетель помнит место преступления.",
             "Ask the ZQ1 again."]
    out = translator.translate_batch(texts)
    assert len(out) == len(texts)
    assert out[1] == ""
    assert all(o.strip() for i, o in enumerate(out) if i != 1)
    assert translator.translate_batch(texts) == out  # deterministic
    assert translator.model == "argos:translate-en_ru-1.0"
    # the placeholder survives the package's sentencepiece round trip
    sp = translator._sp
    assert sp.decode(sp.encode("Ask the ZQ1 again.")) == "Ask the ZQ1 again."


def test_translate_track_with_a_real_package(argos_dir):
    packages = installed_packages([argos_dir])
    translator = load_translator(find_route(packages, "en", "ru"), OPTS)
    assert isinstance(translator, CT2Translator)
    # slow, clear speech: about 6 s a sentence, so even long gibberish stays readable
    text = ("The witness arrived at the station early. We asked an open question first. "
            "The suspect said nothing at all. Then the interview ended quietly.")
    sentences = sentences_from_words(speak(text, words_per_s=1.2, pauses_ms={6: 800, 12: 800, 18: 800}))
    assert len(sentences) == 4
    track, violations = translate_track(sentences, translator, RULES, "ru", glossary_terms=TERMS, src_language="en")
    assert (track.language, track.origin, track.model) == ("ru", "machine-translation", "argos:translate-en_ru-1.0")
    assert_aligned(sentences, track.cues)
    for s in sentences:  # every sentence has its own cues
        assert any(s.start_ms <= c.start_ms and c.end_ms <= s.end_ms for c in track.cues)
    assert check_cues(track.cues, RULES) == []
    # random weights do not copy placeholders: the terms are reported, not invented
    assert all(re.fullmatch(r"sentence \d \(\d\d:\d\d:\d\d\.\d{3}\): '.+' -> expected '.+'", v) for v in violations)


def test_pivot_through_english(argos_dir):
    packages = installed_packages([argos_dir])
    route = find_route(packages, "ru", "de")
    assert [(p.from_code, p.to_code) for p in route] == [("ru", "en"), ("en", "de")]
    translator = load_translator(route, OPTS)
    assert isinstance(translator, PivotTranslator)
    assert translator.model == "argos:translate-ru_en-1.0 -> argos:translate-en_de-1.0"
    sentences = sentences_from_words(speak("Свидетель пришёл рано. Подозреваемый молчал весь допрос.",
                                           words_per_s=0.8, pauses_ms={2: 800}))
    track, _ = translate_track(sentences, translator, RULES, "de", src_language="ru")
    assert track.language == "de" and track.model == translator.model
    assert_aligned(sentences, track.cues)
    assert len({s for s in sentences for c in track.cues if s.start_ms <= c.start_ms < s.end_ms}) == 2
