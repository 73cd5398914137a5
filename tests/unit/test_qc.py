"""QC rules per cue, per-language limits from config, glossary and spelling checks, and their speed."""

from __future__ import annotations

import time

import pytest

from medialib.config import load_settings
from medialib.errors import InputError
from medialib.subtitles import Cue, Track
from medialib.subtitles.qc import Issue, blocking, check_cue_dicts, check_track, cps, issue_to_dict, qc_rules_json
from medialib.subtitles.spelling import speller_for
from medialib.translate.glossary import Term

RULES = load_settings(environ={}).subtitles


def rules_of(issues):
    return [(i.cue_id, i.rule, i.severity) for i in issues]


# --- config --------------------------------------------------------------------------


def test_line_limits_per_language_from_config():
    assert RULES.line_chars == {"en": 42, "ru": 39} and RULES.max_cue_chars == 500
    assert RULES.for_language("ru").max_line_chars == 39
    assert RULES.for_language("en") is RULES  # nothing to change
    assert RULES.for_language("pt-BR").max_line_chars == RULES.max_line_chars  # no entry: the default
    custom = load_settings(environ={"MEDIALIB_SUBTITLES__LINE_CHARS": "{ pt = 40, ru = 37 }"}).subtitles
    assert (custom.for_language("pt-BR").max_line_chars, custom.for_language("RU").max_line_chars) == (40, 37)


def test_cue_cutting_uses_the_language_limit():
    from medialib.speech.transcript import Word
    from medialib.subtitles import segment_cues

    words, t = [], 0
    for w in ("Сотрудники полиции задержали подозреваемого в краже и провели допрос свидетелей происшествия " * 3).split():
        words.append(Word(t, t + 300, w, 0.9))
        t += 330
    lines = [line for c in segment_cues(tuple(words), RULES.for_language("ru")) for line in c.text.split("\n")]
    assert max(map(len, lines)) <= 39 < max(map(len, (line for c in segment_cues(tuple(words), RULES)
                                                      for line in c.text.split("\n"))))


def test_rules_json_is_the_numbers_check_track_uses():
    j = qc_rules_json(RULES, "ru")
    assert j["max_line_chars"] == 39 and j["min_gap_ms"] == RULES.min_gap_ms and j["max_cps"] == RULES.max_cps
    assert j["blocking_rules"] == ["overlap", "timing"] and "spaces and punctuation" in j["cps_formula"]
    assert qc_rules_json(RULES, "en")["max_line_chars"] == 42


# --- timing and layout ---------------------------------------------------------------


def test_a_clean_track_has_no_issues():
    track = Track("en", "asr", (Cue(0, 2000, "Good morning."), Cue(2100, 5000, "Today: interviews.")))
    assert check_track(track, RULES) == []


def test_each_rule_on_a_track():
    track = Track("ru", "human", (
        Cue(0, 500, "Коротко."),  # 0.5 s
        Cue(540, 8000, "Слишком долго на экране."),  # starts 40 ms after: gap; 7.46 s
        Cue(9000, 10000, "Очень быстро читать эту фразу\nникто не успеет"),  # 44 chars in 1 s
        Cue(11000, 14000, "Эта строка длиннее тридцати девяти знаков\nвторая\nтретья"),
    ))
    issues = check_track(track, RULES)
    assert rules_of(issues) == [
        ("c00001", "duration", "warn"),
        ("c00002", "gap", "warn"), ("c00002", "duration", "warn"),
        ("c00003", "cps", "warn"),
        ("c00004", "lines", "warn"), ("c00004", "cpl", "warn"),
    ]
    assert [i.message for i in issues] == [
        "on screen 0.50 s, less than 0.83 s",
        "starts 40 ms after the cue before, less than 80 ms",
        "on screen 7.46 s, more than 7 s",
        "reading speed 44.0 characters/s, more than 20",
        "3 lines, more than 2",
        "line 1 has 41 characters, more than 39",  # RU limit; 41 <= 42 would pass in English
    ]
    assert blocking(issues) == []


def test_cps_counts_spaces_and_punctuation_but_not_line_breaks():
    cue = Cue(0, 1100, "Hi, you!\nGo.")
    assert cue.chars == 11 and cps(cue.chars, cue.duration_ms) == 10.0
    fast = Track("en", "asr", (Cue(0, 1000, "a, b; c! d? e."),))  # 14 characters in 1 s: under 20
    assert [i.rule for i in check_track(fast, RULES)] == []
    fast = Track("en", "asr", (Cue(0, 1000, "a, b; c! d? e. f, g; h!"),))  # 23
    assert [i.message for i in check_track(fast, RULES)] == ["reading speed 23.0 characters/s, more than 20"]


def test_broken_editor_cues_block():
    cues = [
        {"id": "a", "start_ms": 1000, "end_ms": 3000, "text": "first"},
        {"id": "b", "start_ms": 2500, "end_ms": 4000, "text": "overlaps"},
        {"id": "c", "start_ms": 6000, "end_ms": 5000, "text": "inverted"},
        {"id": "d", "start_ms": -200, "end_ms": 900, "text": "negative"},
        {"id": "e", "start_ms": 7000, "end_ms": 8000, "text": "  "},
    ]
    issues = check_cue_dicts(cues, "en", RULES)
    assert rules_of(blocking(issues)) == [("d", "timing", "block"), ("b", "overlap", "block"), ("c", "timing", "block")]
    assert ("e", "empty", "warn") in rules_of(issues)
    assert issue_to_dict(issues[0]) == {"cue_id": "d", "rule": "timing", "severity": "block",
                                        "message": "negative time (-00:00:00.200 --> 00:00:00.900); times start at 00:00:00.000",
                                        "suggestion": ""}
    assert next(i for i in issues if i.rule == "overlap").message == ("starts at 00:00:02.500, before the cue before it ends (00:00:03.000); "
                                 "move its start or end the cue before earlier")


@pytest.mark.parametrize("bad", [{"start_ms": 1, "text": "x"}, {"start_ms": "1", "end_ms": 2}, {"start_ms": 1.5, "end_ms": 2}, "x"])
def test_malformed_editor_cues_are_input_errors(bad):
    with pytest.raises(InputError, match="cue 1: expected an object with integer start_ms and end_ms"):
        check_cue_dicts([bad], "en", RULES)


def test_issue_severity_is_checked():
    with pytest.raises(ValueError, match="'error' is not 'warn' or 'block'"):
        Issue("c00001", "cpl", "error", "x")


# --- glossary ------------------------------------------------------------------------

TERMS = (Term("witness protection", "защита свидетелей"), Term("witness", "свидетель"),
         Term("investigative interview", "следственный допрос"))
SOURCE = Track("en", "asr", (
    Cue(0, 3000, "We talk about witness protection today."),
    Cue(4000, 7000, "An investigative interview of a witness"),
    Cue(8000, 10000, "starts with an open question."),
))


def test_glossary_term_missing_in_the_overlapping_target_cues():
    target = Track("ru", "machine-translation", (
        Cue(0, 3000, "Сегодня говорим о защите свидетелей."),  # inflected: fine, and "witness" inside is not asked for
        Cue(4000, 5500, "Допрос"),  # the term spans two target cues; the second has more overlap
        Cue(5600, 7000, "очевидца начинается"),
        Cue(8000, 10000, "с открытого вопроса."),
    ))
    issues = [i for i in check_track(target, RULES, source=SOURCE, glossary_terms=TERMS) if i.rule == "glossary"]
    assert [(i.cue_id, i.suggestion) for i in issues] == [("c00002", "следственный допрос"), ("c00002", "свидетель")]
    assert issues[1].message == "'witness' is said here; the glossary translates it as 'свидетель'"
    fixed = Track("ru", "human", (target.cues[0], Cue(4000, 5500, "Следственный допрос"),
                                  Cue(5600, 7000, "свидетеля начинается"), target.cues[3]))
    assert [i for i in check_track(fixed, RULES, source=SOURCE, glossary_terms=TERMS) if i.rule == "glossary"] == []


def test_no_glossary_check_without_a_source_or_where_nothing_is_shown():
    target = Track("ru", "human", (Cue(8000, 10000, "с открытого вопроса."),))
    assert check_track(target, RULES, glossary_terms=TERMS) == []
    assert check_track(target, RULES, source=SOURCE, glossary_terms=TERMS) == []


# --- spelling ------------------------------------------------------------------------


def test_russian_spelling_accepts_inflected_forms():
    ru = speller_for("ru")
    assert speller_for("ru-RU") is ru  # loaded once
    text = "После задержания и допроса свидетелями, ОБСЕ в 2024-м, COVID-19 и Zoom: допрсоа"
    assert ru.misspelled(text) == ["допрсоа"]
    assert ru.suggest("допрсоа") == "допроса"
    assert ru.misspelled("киберпатрульного", accept=["киберпатрульный"]) == []


def test_english_spelling():
    en = speller_for("en")
    text = ("The suspect's car: detained, interviewing witnesses (OSCE, A4, 3rd); colour, organised, defence, "
            "programme, travelled, co-operation. Recieve teh")
    assert en.misspelled(text) == ["Recieve", "teh"]
    assert (en.suggest("Recieve"), en.suggest("teh")) == ("Receive", "the")
    assert speller_for("xx") is None


def test_spelling_issues_with_glossary_terms_accepted():
    track = Track("en", "human", (Cue(0, 2000, "Cyberpatrols detaind him."), Cue(3000, 5000, "He was detained.")))
    issues = check_track(track, RULES, glossary_terms=(Term("cyberpatrol", "киберпатруль"),), speller=speller_for("en"))
    assert [(i.cue_id, i.rule, i.message, i.suggestion) for i in issues] == [
        ("c00001", "spelling", "unknown word 'detaind'", "detained")]


def test_checking_a_long_lecture_is_fast():
    ru = speller_for("ru")
    words = "сотрудники полиции провели допрос задержанного свидетеля в отделении ОБСЕ".split()
    cues = tuple(Cue(n * 3600, n * 3600 + 3000, " ".join(words[(n + k) % len(words)] for k in range(7)) + f" {n}.")
                 for n in range(1500))
    track = Track("ru", "machine-translation", cues)
    source = Track("en", "asr", tuple(Cue(c.start_ms, c.end_ms, "the witness said") for c in cues))
    check_track(Track("ru", "asr", cues[:10]), RULES, speller=ru)  # warm
    started = time.perf_counter()
    issues = check_track(track, RULES, source=source, glossary_terms=TERMS, speller=ru)
    elapsed = time.perf_counter() - started
    assert not [i for i in issues if i.rule == "spelling"]
    assert elapsed < 2.0, f"QC of 1,500 cues took {elapsed:.2f} s"  # about 0.1 s here; generous for slow CI
