"""Glossary files, prompt terms and term checks with Russian inflection."""

from __future__ import annotations

from pathlib import Path

import pytest

from medialib.config import DEFAULTS_DIR
from medialib.errors import InputError
from medialib.translate.glossary import (
    Glossary,
    Term,
    find_term,
    glossary_violations,
    load_glossary,
)

REPO_GLOSSARY = DEFAULTS_DIR / "glossary"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_glossary_loads_with_both_directions():
    glossary = load_glossary(REPO_GLOSSARY)
    en_ru = glossary.terms("en", "ru")
    assert Term("witness", "свидетель") in en_ru
    assert Term("OSCE", "ОБСЕ") in en_ru
    lengths = [len(t.source) for t in en_ru]
    assert lengths == sorted(lengths, reverse=True)  # longest first
    ru_en = glossary.terms("ru", "en")
    # "торговля людьми" translates two English terms: the first entry wins, once
    assert [t.target for t in ru_en if t.source == "торговля людьми"] == ["trafficking in human beings"]
    assert glossary.languages == ("en", "ru")


def test_comments_blank_lines_and_files_in_name_order(tmp_path):
    write(tmp_path, "b.tsv", "en\tru\nsuspect\tподозреваемый\n")
    write(tmp_path, "a.tsv", "# police terms\n\nen\tru\n# a comment between entries\nwitness\tсвидетель\n\n")
    write(tmp_path, "notes.txt", "not a glossary\n")
    glossary = load_glossary(tmp_path)
    assert glossary.entries == ({"en": "witness", "ru": "свидетель"}, {"en": "suspect", "ru": "подозреваемый"})


def test_prompt_terms_keep_file_order_once_each():
    glossary = Glossary(({"en": "human trafficking", "ru": "торговля людьми"},
                         {"en": "trafficking in human beings", "ru": "торговля людьми"},
                         {"en": "witness", "ru": "свидетель"}))
    assert glossary.prompt_terms("en") == ("human trafficking", "trafficking in human beings", "witness")
    assert glossary.prompt_terms("ru") == ("торговля людьми", "свидетель")
    assert glossary.prompt_terms("de") == ()


def test_bad_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "terms.tsv", "# header next\nen\tru\nwitness\tсвидетель\n\nsuspect подозреваемый\n")
    with pytest.raises(InputError) as e:
        load_glossary(tmp_path)
    assert str(e.value) == (
        f"{path}:5: expected 2 terms (en, ru) separated by single tabs, found 'suspect подозреваемый'; "
        "put one term per language on the line, separated by one tab"
    )


def test_empty_term_is_a_bad_line(tmp_path):
    path = write(tmp_path, "terms.tsv", "en\tru\nwitness\t\n")
    with pytest.raises(InputError, match=rf"^{path}:2: expected 2 terms"):
        load_glossary(tmp_path)


def test_bad_header_is_reported(tmp_path):
    path = write(tmp_path, "terms.tsv", "English\tRussian\nwitness\tсвидетель\n")
    with pytest.raises(InputError, match=rf"^{path}:1: the first line must name two or more different languages"):
        load_glossary(tmp_path)


def test_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="glossary folder not found"):
        load_glossary(tmp_path / "nope")


WITNESS = Term("witness", "свидетель")


@pytest.mark.parametrize("target", [
    "Свидетель ушёл.", "Свидетеля не было.", "Мы говорили со свидетелем.", "О свидетелях.", "СВИДЕТЕЛИ пришли.",
])
def test_russian_inflections_count_as_the_term(target):
    assert glossary_violations("The witness left.", target, [WITNESS]) == []


def test_missing_target_is_reported():
    assert glossary_violations("The witness left.", "Никого не было.", [WITNESS]) == [
        "'witness' -> expected 'свидетель'"
    ]


def test_source_side_matches_inflections_and_plurals():
    ru_en = [Term("свидетель", "witness")]
    assert glossary_violations("Мы допросили свидетелей.", "We questioned the witnesses.", ru_en) == []
    assert glossary_violations("Мы допросили свидетелей.", "We questioned them.", ru_en) == [
        "'свидетель' -> expected 'witness'"
    ]
    assert glossary_violations("Two witnesses came.", "Пришли двое.", [WITNESS]) == ["'witness' -> expected 'свидетель'"]


def test_term_absent_from_source_is_not_checked():
    assert glossary_violations("The officer left.", "Офицер ушёл.", [WITNESS]) == []


def test_word_boundaries_and_case():
    text = "An eyewitness WITNESSED it; the Witness's account"
    assert find_term(text, "witness") == [(text.index("Witness's"), text.index(" account"))]
    # short words match whole: "ОБСЕ" is not found inside "обсуждение"
    assert find_term("обсуждение в ОБСЕ", "ОБСЕ") == [(13, 17)]
    assert find_term("ещё раз", "еще") == [(0, 3)]


def test_longer_term_covers_the_shorter_inside_it():
    terms = [WITNESS, Term("witness protection", "защита свидетелей")]
    assert glossary_violations("Witness protection matters.", "Важна программа защиты свидетелей.", terms) == []
    # one problem, not two: "witness" inside "witness protection" is the longer term's
    assert glossary_violations("Witness protection matters.", "Это важно.", terms) == [
        "'witness protection' -> expected 'защита свидетелей'"
    ]
