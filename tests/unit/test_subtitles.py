"""Cue segmentation, line wrapping and VTT/SRT round trips, on inline words and files."""

from __future__ import annotations

import logging
import random
from dataclasses import replace

import pytest

from medialib.clock import format_duration_s, format_timestamp_ms
from medialib.config import load_settings
from medialib.errors import InputError
from medialib.speech.transcript import Word
from medialib.subtitles.cues import Cue, Track
from medialib.subtitles.formats import parse_subtitles, to_srt, to_webvtt
from medialib.subtitles.segment import check_cues, merge_fast, segment_cues, wrap_lines

RULES = load_settings(environ={}).subtitles

LECTURE = (
    "Today we will talk about how memory works in modern computers. "
    "First, we look at caches, which sit between the processor and the main memory. "
    "Then we move on to virtual memory and the page tables that the operating system keeps for every process. "
    "Finally, we discuss why access patterns matter so much for performance, and how you can measure them yourself. "
    "Let us begin with a simple question. Why is memory slow?"
)


def speak(text: str, words_per_s: float = 2.5, start_ms: int = 0, pauses_ms: dict[int, int] | None = None,
          probability: float = 0.9) -> list[Word]:
    """Words of `text` at an even rate; each word fills 80% of its slot; pauses_ms[i] follows word i."""
    pauses_ms = pauses_ms or {}
    slot_ms = 1000 / words_per_s
    words, t = [], float(start_ms)
    for i, token in enumerate(text.split()):
        words.append(Word(round(t), round(t + 0.8 * slot_ms), token, probability))
        t += slot_ms + pauses_ms.get(i, 0)
    return words


def flat(cues) -> list[str]:
    return [c.text.replace("\n", " ") for c in cues]


def assert_invariants(cues, words) -> None:
    """What must hold whatever the speech: all words kept in order, timing tied to words, no overlaps."""
    assert " ".join(flat(cues)) == " ".join(w.text for w in words)
    firsts = first_words(cues, words)
    for cue, first in zip(cues, firsts):
        # a cue starts at its first word, or up to max_lead_ms before it when it needs the time
        assert first.start_ms - RULES.max_lead_ms <= cue.start_ms <= first.start_ms
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= RULES.max_lines
        assert all(len(line) <= RULES.max_line_chars or " " not in line for line in lines)
    for a, b, next_first in zip(cues, cues[1:], firsts[1:]):
        assert a.end_ms <= b.start_ms and a.end_ms <= next_first.start_ms
    Track("en", "asr", cues)  # the record's own checks agree


def first_words(cues, words) -> list[Word]:
    """The word each cue starts with (words of one token each, as `speak` makes them)."""
    ordered = sorted(words, key=lambda w: w.start_ms)
    firsts, n = [], 0
    for cue in cues:
        firsts.append(ordered[n])
        n += len(cue.text.split())
    return firsts


def cps(cue) -> float:
    """Reading speed as check_cues measures it."""
    return cue.chars * 1000 / cue.duration_ms


# --- segmentation ----------------------------------------------------------------------


def test_no_words_no_cues():
    assert segment_cues([], RULES) == ()
    assert segment_cues([Word(0, 100, "  ", 0.5)], RULES) == ()


def test_splits_at_sentence_ends():
    first, second = "We start with the basic idea today.", "Then we look at a few examples together."
    words = speak(f"{first} {second}")
    cues = segment_cues(words, RULES)
    assert flat(cues) == [first, second]
    assert_invariants(cues, words)


def test_abbreviations_and_lowercase_continuations_do_not_end_sentences():
    text = "Dr. Smith showed us many methods, e.g. this one, and it works quite well."
    cues = segment_cues(speak(text), RULES)
    assert all(not c.text.endswith(("Dr.", "e.g.")) for c in cues)


def test_splits_at_a_long_pause():
    words = speak("so we take this value and then we divide it by the total", pauses_ms={4: 1200})
    cues = segment_cues(words, RULES)
    assert [c.start_ms for c in cues] == [words[0].start_ms, words[5].start_ms]
    assert cues[0].text.endswith("value")
    assert_invariants(cues, words)


def test_long_sentence_is_split_by_length_into_fitting_cues():
    text = " ".join(["the processor reads data from memory in small blocks called lines"] * 5)
    words = speak(text)
    cues = segment_cues(words, RULES)
    assert len(cues) >= 4
    assert all(c.end_ms - c.start_ms <= RULES.max_duration_ms for c in cues)
    assert not any(c.text.split()[-1] in {"the", "in"} for c in cues[:-1])  # no cue ends on "the"
    assert_invariants(cues, words)
    assert check_cues(cues, RULES) == []


def test_long_sentence_prefers_a_clause_break():
    words = speak(
        "When the processor asks for a value that is not in any of its caches, "
        "it has to wait for the main memory to send the whole line back again"
    )
    cues = segment_cues(words, RULES)
    assert len(cues) == 2
    assert cues[0].text.endswith("caches,")


@pytest.mark.parametrize("words_per_s", [2.0, 2.5, 3.0])
def test_normal_speech_breaks_no_rule(words_per_s):
    words = speak(LECTURE, words_per_s)
    cues = segment_cues(words, RULES)
    assert check_cues(cues, RULES) == []
    assert all(c.chars * 1000 / (c.end_ms - c.start_ms) <= RULES.max_cps for c in cues)
    assert_invariants(cues, words)


def test_short_cue_is_extended_into_silence():
    words = speak("Hello. Now we begin.", pauses_ms={0: 2000})
    cues = segment_cues(words, RULES)
    assert cues[0].text == "Hello."
    assert cues[0].start_ms == words[0].start_ms
    assert cues[0].end_ms - cues[0].start_ms >= RULES.min_duration_ms
    assert cues[0].end_ms > words[0].end_ms
    assert cues[1].start_ms - cues[0].end_ms >= RULES.min_gap_ms


def test_short_sentences_without_room_are_merged():
    words = speak("Yes. No. Okay. Right.", words_per_s=3.0)
    cues = segment_cues(words, RULES)
    assert len(cues) < 4
    assert check_cues(cues, RULES) == []
    assert_invariants(cues, words)


def test_fast_cue_reads_slower_by_extending_into_silence():
    words = speak("Internationalization considerations everywhere.", words_per_s=3.0, pauses_ms={2: 3000})
    words += speak("Next.", start_ms=words[-1].end_ms + 3000)
    cues = segment_cues(words, RULES)
    first = cues[0]
    assert first.end_ms > words[2].end_ms
    assert first.chars * 1000 / (first.end_ms - first.start_ms) <= RULES.target_cps + 0.5


def test_contiguous_words_keep_the_minimum_gap():
    # words abut with no silence at all, so every cue end has to be pulled back
    text = " ".join(f"Sentence number {n} is here." for n in range(8))
    words = [Word(i * 400, (i + 1) * 400, t, 0.9) for i, t in enumerate(text.split())]
    cues = segment_cues(words, RULES)
    assert len(cues) > 1
    for a, b in zip(cues, cues[1:]):
        assert b.start_ms - a.end_ms >= RULES.min_gap_ms
    assert_invariants(cues, words)


def test_extremely_fast_speech_is_reported_not_hidden():
    words = speak(LECTURE, words_per_s=5.0)
    cues = segment_cues(words, RULES)
    assert_invariants(cues, words)
    problems = check_cues(cues, RULES)
    assert problems and all("chars/s" in p or "on screen" in p for p in problems)


def test_fast_sentence_between_two_gaps_borrows_time_from_both():
    before = speak("Right.", start_ms=0)
    fast = speak("Nothing is going on here.", words_per_s=7.0, start_ms=1500)
    after = speak("Okay then.", start_ms=fast[-1].end_ms + 450)
    words = before + fast + after
    # at its own words (first word to the next cue's, less the gap) it would read at 23 chars/s
    assert 25 * 1000 / (after[0].start_ms - RULES.min_gap_ms - fast[0].start_ms) > RULES.max_cps
    cues = segment_cues(words, RULES)
    assert flat(cues) == ["Right.", "Nothing is going on here.", "Okay then."]
    assert check_cues(cues, RULES) == []
    assert 0 < fast[0].start_ms - cues[1].start_ms <= RULES.max_lead_ms  # appears a little early
    assert fast[-1].end_ms < cues[1].end_ms == after[0].start_ms - RULES.min_gap_ms  # and stays into the gap
    assert [cues[0].start_ms, cues[2].start_ms] == [before[0].start_ms, after[0].start_ms]  # no one else leads
    assert_invariants(cues, words)


def test_cue_before_gives_up_only_time_it_can_spare():
    before = speak("We were there all day.", words_per_s=5.0)
    fast = speak("Nothing is going on here.", words_per_s=7.0, start_ms=1300)
    after = speak("Okay then.", start_ms=fast[-1].end_ms + 550)
    words = before + fast + after
    cues = segment_cues(words, RULES)
    assert flat(cues) == ["We were there all day.", "Nothing is going on here.", "Okay then."]
    assert check_cues(cues, RULES) == []
    # the cue before would stay until min_gap_ms before the fast one's first word
    assert cues[0].end_ms < fast[0].start_ms - RULES.min_gap_ms
    assert cues[1].start_ms - cues[0].end_ms == RULES.min_gap_ms
    assert cps(cues[0]) <= RULES.max_cps and cps(cues[1]) == pytest.approx(RULES.max_cps, abs=0.02)
    assert_invariants(cues, words)


def test_fast_cue_boxed_in_by_its_neighbours_is_merged():
    before = speak("We were there all day.", words_per_s=4.0)
    fast = speak("There's nothing going on.", words_per_s=6.0, start_ms=before[-1].end_ms + 100)
    after = speak("Okay.", start_ms=fast[-1].end_ms + 100)
    later = speak("Next one.", start_ms=6000)
    words = before + fast + after + later
    cues = segment_cues(words, RULES)
    assert flat(cues) == ["We were there all day.", "There's nothing going on. Okay.", "Next one."]
    assert check_cues(cues, RULES) == []
    assert_invariants(cues, words)


def test_merge_fast_merges_only_where_borrowing_cannot_help():
    first = tuple(speak("We were there all day.", words_per_s=4.0))
    fast = tuple(speak("There's nothing going on.", words_per_s=6.0, start_ms=first[-1].end_ms + 100))
    # silences of 0.75 s: too long for rebalance to join across, yet not enough room
    after = tuple(speak("Okay.", start_ms=fast[-1].end_ms + 100))
    later = tuple(speak("Then we left the building.", start_ms=after[-1].end_ms + 750))
    assert merge_fast((first, fast, after, later), RULES) == (first, fast + after, later)
    roomy = tuple(speak("Okay.", start_ms=fast[-1].end_ms + 800))
    assert merge_fast((first, fast, roomy), RULES) == (first, fast, roomy)  # borrowing suffices


def test_fast_cue_with_no_legal_layout_is_reported(caplog):
    long_a = "We went through every single room in that building twice, and the second time too."
    long_c = "So we called the office and asked them to send somebody over before the evening."
    before = speak(long_a, words_per_s=3.0)
    # pauses too long to re-split across (pause_split_ms), neighbours too long to merge with
    fast = speak("There's really nothing going on here.", words_per_s=8.0, start_ms=before[-1].end_ms + 700)
    after = speak(long_c, words_per_s=3.0, start_ms=fast[-1].end_ms + 700)
    words = before + fast + after
    with caplog.at_level(logging.INFO, logger="medialib.subtitles"):
        cues = segment_cues(words, RULES)
    assert flat(cues) == [long_a, "There's really nothing going on here.", long_c]
    (problem,) = check_cues(cues, RULES)
    assert problem.startswith("cue 2 ") and "chars/s, faster than 20" in problem
    # it got all the time there is: the longest lead, and up to the next cue
    assert cues[1].start_ms == fast[0].start_ms - RULES.max_lead_ms
    assert cues[1].end_ms == after[0].start_ms - RULES.min_gap_ms
    assert "1 of 3 cues stay faster than 20 chars/s" in caplog.text
    assert_invariants(cues, words)


@pytest.mark.parametrize("seed", range(5))
def test_lead_stays_within_max_lead_and_ends_before_the_next_word(seed):
    rng = random.Random(seed)
    words, t = [], 0
    for sentence in range(40):
        for k in range(rng.randint(2, 8)):
            duration = rng.randint(60, 200)  # fast: 5 to 16 words a second
            text = "x" * rng.randint(1, 9) + ("." if k and rng.random() < 0.25 else "")
            words.append(Word(t, t + duration, text, 0.9))
            t += duration + rng.choice([0, 10, 40])
        words[-1] = replace(words[-1], text=words[-1].text.rstrip(".") + ".")
        t += rng.choice([50, 200, 350, 500, 900])
    cues = segment_cues(words, RULES)
    firsts = first_words(cues, words)
    leads = [first.start_ms - cue.start_ms for cue, first in zip(cues, firsts)]
    assert all(0 <= lead <= RULES.max_lead_ms for lead in leads)
    assert any(lead > 0 for lead in leads)
    for a, next_first in zip(cues, firsts[1:]):
        assert a.end_ms <= next_first.start_ms
    assert_invariants(cues, words)


def test_first_cue_leads_no_earlier_than_earliest_ms():
    words = speak("Nothing is going on here.", words_per_s=7.0, start_ms=1000)
    words += speak("Okay then.", start_ms=words[-1].end_ms + 450)
    assert segment_cues(words, RULES)[0].start_ms < 1000
    assert all(c.start_ms >= 950 for c in segment_cues(words, RULES, earliest_ms=950))


def test_word_longer_than_a_line_stands_alone():
    long = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    words = speak(f"This is the {long} example, a word we all know", words_per_s=1.5)
    cues = segment_cues(words, RULES)
    lines = [line for c in cues for line in c.text.split("\n")]
    assert long in lines
    assert all(len(line) <= RULES.max_line_chars for line in lines if line != long)
    assert_invariants(cues, words)


def test_whitespace_normalised_and_confidence_is_mean_probability():
    words = [Word(0, 300, " Hello ", 0.5), Word(400, 700, "", 0.1), Word(800, 1200, "world.", 1.0)]
    (cue,) = segment_cues(words, RULES)
    assert cue.text == "Hello world."
    assert cue.confidence == pytest.approx(0.75)


@pytest.mark.parametrize("seed", range(5))
def test_random_speech_keeps_the_invariants(seed):
    rng = random.Random(seed)
    tokens = []
    for _ in range(300):
        word = "x" * rng.choice([1, 2, 3, 4, 5, 6, 8, 11, 15, 48])
        tokens.append(word + rng.choice(["", "", "", "", ",", ".", "?"]))
    words, t = [], 0
    for token in tokens:
        duration = rng.randint(0, 900)
        words.append(Word(t, t + duration, token, rng.random()))
        t += max(1, duration + rng.choice([0, 0, 20, 150, 400, 800, 2500]))
    cues = segment_cues(words, RULES)
    assert_invariants(cues, words)


def test_words_starting_together_stay_in_one_cue():
    # Whisper can give zero-length words; a cue boundary between equal starts would overlap
    words = [Word(0, 0, "Zero.", 0.5), Word(0, 400, "Length.", 0.5), Word(2000, 2400, "Next.", 0.5)]
    cues = segment_cues(words, RULES)
    assert flat(cues) == ["Zero. Length.", "Next."]
    assert_invariants(cues, words)


def test_unsorted_words_still_give_ordered_cues():
    words = speak(LECTURE)
    cues = segment_cues(list(reversed(words)), RULES)
    assert_invariants(cues, words)


# --- lines --------------------------------------------------------------------------------


def test_short_text_is_one_line():
    assert wrap_lines("  Why is   memory slow? ", 42, 2) == ["Why is memory slow?"]
    assert wrap_lines("", 42, 2) == []


@pytest.mark.parametrize(
    "text",
    [
        "The processor reads data from memory in blocks called lines",
        "Привет всем, сегодня мы поговорим о том, как работает память",
        "Finally we discuss why access patterns matter so much here",
    ],
)
def test_lines_are_within_limits_and_balanced(text):
    lines = wrap_lines(text, 42, 2)
    assert len(lines) == 2
    assert all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == text
    longest_word = max(len(w) for w in text.split())
    assert abs(len(lines[0]) - len(lines[1])) <= 2 * longest_word + 2


def test_line_break_prefers_punctuation():
    assert wrap_lines("First, we look at caches, which sit between the processor and memory", 42, 2) == [
        "First, we look at caches,",
        "which sit between the processor and memory",
    ]


def test_no_one_word_line_when_avoidable():
    lines = wrap_lines("Yes. That is exactly what I meant by it, and it matters", 42, 2)
    assert all(" " in line for line in lines)


def test_text_that_cannot_fit_still_gets_max_lines():
    text = " ".join(["word"] * 30)
    assert len(wrap_lines(text, 42, 2)) == 2
    assert len(wrap_lines(text, 42, 3)) == 3


# --- records and checks ------------------------------------------------------------------


def test_cue_rejects_bad_times_and_empty_text():
    with pytest.raises(ValueError):
        Cue(1000, 1000, "x")
    with pytest.raises(ValueError):
        Cue(-1, 10, "x")
    with pytest.raises(ValueError):
        Cue(0, 10, " \n ")


def test_track_rejects_overlapping_cues():
    with pytest.raises(ValueError, match="overlaps cue 2"):
        Track("en", "asr", (Cue(0, 2000, "a"), Cue(1500, 3000, "b")))
    with pytest.raises(ValueError, match="before cue 1"):
        Track("en", "asr", (Cue(5000, 6000, "a"), Cue(0, 1000, "b")))
    with pytest.raises(ValueError, match="BCP-47"):
        Track("english please", "asr", ())
    Track("pt-BR", "asr", (Cue(0, 1000, "a"), Cue(1000, 2000, "b")))  # touching is fine


def test_check_cues_names_each_broken_rule():
    cues = [
        Cue(0, 500, "Too short."),
        Cue(520, 1500, "This cue is far too fast for anyone to read"),
        Cue(1400, 9000, "x"),
    ]
    problems = check_cues(cues, RULES)
    assert any(p.startswith("cue 1 (00:00:00.000): on screen 500 ms") for p in problems)
    assert any(p.startswith("cue 2 ") and "chars/s" in p for p in problems)
    assert any(p.startswith("cue 2 ") and "20 ms after cue 1" in p for p in problems)
    assert any(p.startswith("cue 3 ") and "overlaps cue 2" in p for p in problems)
    assert any(p.startswith("cue 3 ") and "more than 7000 ms" in p for p in problems)


# --- files ---------------------------------------------------------------------------------

TRACK = Track(
    "en",
    "asr",
    (
        Cue(0, 1, "First."),
        Cue(1_234, 4_567, "Two lines,\nthe second one here", 0.8),
        Cue(3_723_004, 3_725_999, "After an hour: R&D <costs> -> more"),
        Cue(36_000_000, 36_001_001, "Ten hours in."),
    ),
)


def times_and_text(track: Track):
    return [(c.start_ms, c.end_ms, c.text) for c in track.cues]


def test_webvtt_round_trip_is_exact():
    vtt = to_webvtt(TRACK)
    assert vtt.startswith("WEBVTT\nLanguage: en\n\n00:00:00.000 --> 00:00:00.001\nFirst.\n")
    assert "01:02:03.004 --> 01:02:05.999\nAfter an hour: R&amp;D &lt;costs&gt; -&gt; more\n" in vtt
    assert "10:00:00.000 --> 10:00:01.001" in vtt
    back = parse_subtitles(vtt, "en", "asr")
    assert times_and_text(back) == times_and_text(TRACK)
    assert (back.language, back.origin) == ("en", "asr")


def test_srt_round_trip_is_exact():
    track = Track("en", "human", tuple(c for c in TRACK.cues if "<" not in c.text))
    srt = to_srt(track)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,001\nFirst.\n\n2\n00:00:01,234 --> 00:00:04,567\n")
    assert srt.endswith("Ten hours in.\n")
    assert times_and_text(parse_subtitles(srt, "en", "human", fmt="srt")) == times_and_text(track)


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
def test_russian_round_trip(fmt):
    track = Track("ru", "asr", (Cue(500, 2500, "Привет, мир!\nЁлки-палки — «ура»."), Cue(3000, 4000, "Щука.")))
    text = to_webvtt(track) if fmt == "vtt" else to_srt(track)
    assert times_and_text(parse_subtitles(text, "ru", "asr", fmt)) == times_and_text(track)


def test_segmented_track_round_trips():
    track = Track("en", "asr", segment_cues(speak(LECTURE, start_ms=3_599_000), RULES))
    assert times_and_text(parse_subtitles(to_webvtt(track), "en", "asr")) == times_and_text(track)
    assert times_and_text(parse_subtitles(to_srt(track), "en", "asr", "srt")) == times_and_text(track)


def test_parse_keeps_plain_text_from_tagged_cues():
    vtt = "WEBVTT\n\nNOTE made by hand\n\n00:01.000 --> 00:02.500 align:start\n<v Anna>Hello <i>there</i></v>\n"
    (cue,) = parse_subtitles(vtt, "en", "human").cues
    assert (cue.start_ms, cue.end_ms, cue.text, cue.confidence) == (1000, 2500, "Hello there", None)


def test_language_header_that_disagrees_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="medialib.subtitles"):
        parse_subtitles(to_webvtt(Track("en", "asr", (Cue(0, 900, "Hi."),))), "ru", "human")
    assert "Language: en, reading it as ru" in caplog.text


def test_empty_webvtt_is_an_empty_track():
    assert parse_subtitles("WEBVTT\n", "en", "asr").cues == ()


def test_not_webvtt_is_an_input_error():
    with pytest.raises(InputError) as e:
        parse_subtitles("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "en", "human")
    assert str(e.value) == (
        "VTT subtitles: the first line must start with 'WEBVTT', found '1'; "
        "save the file as WebVTT, or read it as SRT"
    )


def test_bad_vtt_timing_is_an_input_error():
    with pytest.raises(InputError, match=r"VTT subtitles, line 3: bad timestamp '00:00:01\.000 --> 00:00:0x\.000'; write it as HH:MM:SS\.mmm"):
        parse_subtitles("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nhi\n", "en", "human")


def test_bad_srt_timing_names_the_line():
    with pytest.raises(InputError) as e:
        srt = "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 -> 00:00:04,000\nho\n"
        parse_subtitles(srt, "en", "human", "srt")
    assert str(e.value) == (
        "SRT subtitles, line 6: bad timestamp '00:00:03,000 -> 00:00:04,000'; "
        "write it as HH:MM:SS,mmm --> HH:MM:SS,mmm"
    )


def test_backwards_and_overlapping_cues_are_input_errors():
    with pytest.raises(InputError, match=r"cue 1 \(00:00:02.000 --> 00:00:01.000\) does not end after it starts"):
        parse_subtitles("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nhi\n", "en", "human")
    with pytest.raises(InputError, match="VTT subtitles, line 6: cue 1 .* overlaps cue 2"):
        parse_subtitles(
            "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nhi\n\n00:00:02.000 --> 00:00:04.000\nho\n", "en", "human"
        )


def test_unknown_format_is_an_input_error():
    with pytest.raises(InputError, match="use 'vtt' or 'srt'"):
        parse_subtitles("WEBVTT\n", "en", "human", fmt="ass")


def test_clock_formats():
    assert format_timestamp_ms(0) == "00:00:00.000"
    assert format_timestamp_ms(3_723_004) == "01:02:03.004"
    assert format_timestamp_ms(100 * 3_600_000) == "100:00:00.000"  # grows, never wraps
    assert format_duration_s(123.4) == "2:03"
    assert format_duration_s(3722.6) == "1:02:03"
