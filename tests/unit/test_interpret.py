"""Interpreter alignment on synthetic word timings: known sentences, known lags, paraphrase."""

from __future__ import annotations

import math
import random
import time

import pytest

from medialib.config import load_settings
from medialib.speech.transcript import Transcript, Word
from medialib.subtitles.segment import check_cues
from medialib.translate.interpret import (
    ONSET_GUARD_MS,
    Alignment,
    align_interpretation,
    estimate_lag_ms,
    split_units,
)

RULES = load_settings(environ={}).subtitles

# The interpreter paraphrases: other word counts, shorter and longer sentences.
FLOOR = (
    "Good morning, everyone.",
    "Today we talk about interviews with witnesses.",
    "Ask open questions.",
    "Do not interrupt the witness when they are speaking.",
    "Write down names, times and places.",
    "Be careful with leading questions.",
    "Summarise the account at the end.",
)
INTERP = (
    "Доброе утро всем.",
    "Сегодня речь пойдёт о допросе свидетелей.",
    "Задавайте открытые вопросы.",
    "Не перебивайте.",
    "Записывайте имена, время и место событий.",
    "Осторожнее с наводящими вопросами.",
    "В конце перескажите показания.",
)


def speak(text: str, start_ms: int, ms_per_char: int = 65) -> list[Word]:
    """Words one after another, each 65 ms per character plus 40 ms, 60 ms apart."""
    out, t = [], start_ms
    for token in text.split():
        d = ms_per_char * len(token) + 40
        out.append(Word(t, t + d, token, 0.9))
        t += d + 60
    return out


def end_of(words: list[Word]) -> int:
    return words[-1].end_ms


class Lecture:
    """Floor sentences `gap_ms` apart; interpretation i starts lags_ms[i] after floor i (None: not interpreted).

    Like the real fixture, the floor waits when the interpreter would otherwise talk over
    herself, so every lag is exactly as given.
    """

    def __init__(self, lags_ms, floor=FLOOR, interp=INTERP, gap_ms=1200, pauses_ms=None):
        self.floor_words: list[Word] = []
        self.interp_words: list[Word] = []
        self.floor_starts: list[int] = []
        self.interp_starts: list[int | None] = []
        cursor, interp_end = 1000, 0
        for i, (en, lag) in enumerate(zip(floor, lags_ms)):
            start = cursor if lag is None else max(cursor, interp_end + 400 - lag)
            f = speak(en, start)
            self.floor_words += f
            self.floor_starts.append(start)
            if lag is None:
                self.interp_starts.append(None)
            else:
                r = speak(interp[i % len(interp)], start + lag)
                self.interp_words += r
                self.interp_starts.append(start + lag)
                interp_end = end_of(r)
            cursor = end_of(f) + (pauses_ms[i] if pauses_ms else gap_ms)

    def transcripts(self) -> tuple[Transcript, Transcript]:
        end = max([w.end_ms for w in self.floor_words + self.interp_words] or [0]) + 1000
        return (Transcript("en", 1.0, end, tuple(self.floor_words), "test"),
                Transcript("ru", 1.0, end, tuple(self.interp_words), "test"))


def first_cue_start(track, first_word: str, after_ms: int = 0) -> int:
    return next(c.start_ms for c in track.cues if c.text.split()[0] == first_word and c.start_ms >= after_ms)


def assert_readable(track, interp_words):
    assert check_cues(track.cues, RULES) == []
    assert all(a.end_ms <= b.start_ms for a, b in zip(track.cues, track.cues[1:]))
    # every interpreted word is shown once, in order
    assert " ".join(c.text.replace("\n", " ") for c in track.cues).split() == [w.text for w in interp_words]


@pytest.mark.parametrize("lag_ms", [1000, 2000, 3500])
def test_a_constant_lag_with_paraphrase_is_estimated_within_200_ms(lag_ms):
    lec = Lecture([lag_ms] * len(FLOOR))
    assert abs(estimate_lag_ms(lec.floor_words, lec.interp_words) - lag_ms) <= 200
    _, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert abs(alignment.lag_ms - lag_ms) <= 200
    assert alignment.confidence > 0.9


def test_a_varying_lag_puts_each_interpretation_at_its_floor_sentence():
    lags = [1000, 3500, 2000, 4000, 1500, 3000, 2500]
    lec = Lecture(lags)
    floor, interp = lec.transcripts()
    track, alignment = align_interpretation(floor, interp, RULES, model="whisper-base")
    assert (track.language, track.origin, track.model) == ("ru", "interpretation", "whisper-base")
    assert 1500 <= alignment.lag_ms <= 3000
    assert [p for p in alignment.pairs] == [(i, i) for i in range(len(FLOOR))]
    for ru, floor_start in zip(INTERP, lec.floor_starts):
        start = first_cue_start(track, ru.split()[0])
        # never before the floor speech it interprets; shown a guard's time after it starts
        assert floor_start <= start <= floor_start + ONSET_GUARD_MS + 100
    assert_readable(track, lec.interp_words)


def test_no_cue_starts_before_the_floor_sentence_it_interprets():
    rng = random.Random(7)
    lags = [rng.randint(1000, 4000) for _ in FLOOR]
    lec = Lecture(lags)
    track, _ = align_interpretation(*lec.transcripts(), RULES)
    starts = {ru.split()[0]: fs for ru, fs in zip(INTERP, lec.floor_starts)}
    current = None
    for cue in track.cues:
        current = starts.get(cue.text.split()[0], current)
        assert cue.start_ms >= current
    assert_readable(track, lec.interp_words)


@pytest.mark.parametrize("which", ["floor", "interp", "both"])
def test_empty_inputs_give_an_empty_track_lag_0_confidence_0(which):
    lec = Lecture([2000] * 3)
    floor, interp = lec.transcripts()
    if which in ("floor", "both"):
        floor = Transcript("en", 1.0, 0, (), "test")
    if which in ("interp", "both"):
        interp = Transcript("ru", 1.0, 0, (), "test")
    track, alignment = align_interpretation(floor, interp, RULES)
    assert track.cues == () and track.language == "ru" and track.origin == "interpretation"
    assert alignment == Alignment(0, (), 0.0)
    assert estimate_lag_ms(floor.words, interp.words) == 0


def test_an_interpreter_who_starts_late_is_matched_from_where_she_starts():
    lec = Lecture([None, None, None, 2000, 2500, 1800, 2200])
    track, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert alignment.pairs == ((3, 0), (4, 1), (5, 2), (6, 3))
    assert track.cues[0].start_ms >= lec.floor_starts[3]
    for i in range(3, 7):
        start = first_cue_start(track, INTERP[i].split()[0])
        assert lec.floor_starts[i] <= start <= lec.floor_starts[i] + ONSET_GUARD_MS + 100
    assert_readable(track, lec.interp_words)


def test_floor_speech_without_interpretation_for_a_stretch():
    lec = Lecture([2000, 2500, None, None, None, 2200, 1800])
    track, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert alignment.pairs == ((0, 0), (1, 1), (5, 2), (6, 3))
    for i in (0, 1, 5, 6):
        start = first_cue_start(track, INTERP[i].split()[0])
        assert lec.floor_starts[i] <= start <= lec.floor_starts[i] + ONSET_GUARD_MS + 100
    # the last interpretation before the stretch does not linger over it
    last_before = max(c.end_ms for c in track.cues if c.start_ms < lec.floor_starts[5])
    assert last_before <= lec.floor_starts[3]
    assert_readable(track, lec.interp_words)


def test_interpretation_during_a_floor_pause_keeps_its_time_less_the_lag():
    # The floor pauses 9 s after sentence 2; the interpreter adds a remark in that pause.
    lec = Lecture([2000] * 4, pauses_ms=[1200, 9000, 1200, 1200])
    # the remark goes after the second interpreted sentence, before the third
    second_end = max(w.end_ms for w in lec.interp_words if w.start_ms < lec.interp_starts[2])
    remark = speak("Коллеги, обратите внимание на слайд.", second_end + 2500)
    assert end_of(remark) + 500 < lec.interp_starts[2]
    words = sorted(lec.interp_words + remark, key=lambda w: w.start_ms)
    floor, _ = lec.transcripts()
    interp = Transcript("ru", 1.0, floor.duration_ms, tuple(words), "test")
    track, alignment = align_interpretation(floor, interp, RULES)
    cue = next(c for c in track.cues if c.text.startswith("Коллеги"))
    remark_unit = next(u for u in split_units(words) if u[0].text == "Коллеги,")  # its start corrected
    assert cue.start_ms == remark_unit[0].start_ms - alignment.lag_ms
    assert cue.end_ms <= lec.floor_starts[2]
    assert (2, 3) in alignment.pairs and all(j != 2 for _, j in alignment.pairs)  # the remark is unit 2
    assert_readable(track, words)


def test_a_sentence_the_interpreter_splits_with_a_pause_stays_with_its_floor_sentence():
    lec = Lecture([2000] * 4)
    # Interpretation 1 said in two parts with an 800 ms pause; the floor waits for her.
    second = lec.interp_starts[1]
    head, tail = "Сегодня речь пойдёт", "о допросе свидетелей."
    words = [w for w in lec.interp_words if not second <= w.start_ms < lec.interp_starts[2]]
    part1 = speak(head, second)
    part2 = speak(tail, end_of(part1) + 800)
    assert end_of(part2) + 300 < lec.interp_starts[2]
    words = sorted(words + part1 + part2, key=lambda w: w.start_ms)
    floor, _ = lec.transcripts()
    track, alignment = align_interpretation(floor, Transcript("ru", 1.0, floor.duration_ms, tuple(words), "t"), RULES)
    assert len(split_units(words)) == 5
    assert alignment.pairs == ((0, 0), (1, 1), (1, 2), (2, 3), (3, 4))
    assert_readable(track, words)


def test_two_floor_sentences_merged_by_the_interpreter_start_at_the_first():
    floor = ("Ask open questions.", "Let the witness speak.", "Write down names, times and places.")
    interp = ("Задавайте открытые вопросы и дайте свидетелю выговориться.", "", "Записывайте имена.")
    lec = Lecture([2000, None, 2000], floor=floor, interp=interp, gap_ms=500)
    track, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert alignment.pairs == ((0, 0), (2, 1))
    assert first_cue_start(track, "Задавайте") == pytest.approx(lec.floor_starts[0] + ONSET_GUARD_MS, abs=100)
    assert first_cue_start(track, "Записывайте") >= lec.floor_starts[2]
    assert_readable(track, lec.interp_words)


def two_long_sentences(floor_gap_ms: int, ms_per_char: int) -> tuple[list[Word], list[Word], list[Word],
                                                                      Transcript, Transcript]:
    """The floor moves on while the interpreter is still on a long sentence 1."""
    f1 = speak("Ask open questions.", 1000)
    f2 = speak("Listen to the answer.", end_of(f1) + floor_gap_ms)
    f3 = speak("Write it down.", end_of(f2) + 3000)
    i1 = speak("Задавайте открытые вопросы, которые помогают свидетелю вспомнить.", 2500, ms_per_char)
    i2 = speak("Слушайте ответ.", end_of(i1) + 400)
    i3 = speak("Записывайте.", max(end_of(i2) + 400, f3[0].start_ms + 2000))
    end = end_of(i3) + 1000
    return (f1, f2, i2, Transcript("en", 1.0, end, tuple(f1 + f2 + f3), "t"),
            Transcript("ru", 1.0, end, tuple(i1 + i2 + i3), "t"))


def test_a_long_interpretation_is_squeezed_to_end_before_the_next_floor_sentence():
    # she needs 4.5 s; the next floor sentence starts 4.3 s after this one; reading needs 3.9 s
    f1, f2, i2, floor, interp = two_long_sentences(floor_gap_ms=3000, ms_per_char=65)
    track, alignment = align_interpretation(floor, interp, RULES)
    assert alignment.pairs == ((0, 0), (1, 1), (2, 2))
    listen = first_cue_start(track, "Слушайте")
    assert listen == pytest.approx(f2[0].start_ms + ONSET_GUARD_MS, abs=100)
    first = [c for c in track.cues if c.start_ms < listen]
    assert first[0].start_ms >= f1[0].start_ms and first[-1].end_ms <= listen - RULES.min_gap_ms
    assert_readable(track, interp.words)


def test_an_interpretation_too_long_to_read_in_time_delays_the_next_group_not_the_reader():
    # she says it fast (3.3 s), but reading it takes 3.9 s and the next floor sentence starts after 2.3 s
    f1, f2, i2, floor, interp = two_long_sentences(floor_gap_ms=1000, ms_per_char=45)
    track, alignment = align_interpretation(floor, interp, RULES)
    assert alignment.pairs == ((0, 0), (1, 1), (2, 2))
    listen = first_cue_start(track, "Слушайте")
    assert listen > f2[0].start_ms + ONSET_GUARD_MS + 100  # later than ideal, never earlier
    assert_readable(track, interp.words)


def test_the_lag_is_never_negative_even_when_the_tracks_are_swapped():
    lec = Lecture([2000] * len(FLOOR))
    floor, interp = lec.transcripts()
    swapped = (Transcript("ru", 1.0, floor.duration_ms, interp.words, "t"),
               Transcript("en", 1.0, floor.duration_ms, floor.words, "t"))
    assert estimate_lag_ms(swapped[0].words, swapped[1].words) >= 0
    track, alignment = align_interpretation(*swapped, RULES)
    assert alignment.lag_ms >= 0 and alignment.confidence < 0.9
    assert all(cue.start_ms >= 0 for cue in track.cues)


def test_the_lag_is_clamped_to_max_lag():
    lec = Lecture([5000] * 4, gap_ms=3000)
    assert estimate_lag_ms(lec.floor_words, lec.interp_words, max_lag_ms=3000) <= 3000


def test_alignment_rejects_negative_lag_and_confidence_out_of_range():
    with pytest.raises(ValueError, match="negative"):
        Alignment(-1, (), 0.5)
    with pytest.raises(ValueError, match="outside 0..1"):
        Alignment(100, (), 1.5)


def test_a_long_lecture_with_drifting_lag_aligns_quickly():
    rng = random.Random(3)
    n = 400
    # the interpreter's lag drifts slowly from 1.5 s to 3.5 s and back, +-0.5 s per sentence
    lags = [int(2500 + 1000 * math.sin(i / 40) + rng.randint(-500, 500)) for i in range(n)]
    floor = [FLOOR[i % len(FLOOR)] for i in range(n)]
    interp = [INTERP[i % len(INTERP)] for i in range(n)]
    lec = Lecture(lags, floor=floor, interp=interp, gap_ms=700)
    t0 = time.perf_counter()
    track, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert time.perf_counter() - t0 < 5
    right = sum(1 for k, j in alignment.pairs if k == j)
    assert right >= 0.97 * n
    assert alignment.confidence > 0.8
    assert check_cues(track.cues, RULES) == []


def _full_table_match(floor, interp, prior, max_lag_ms):
    """The matching DP over every state at every step: the reference for the windowed one."""
    from medialib.translate import interpret as m

    n, inf = len(floor), float("inf")
    cost = [0.0] + [inf] * n
    trail = []
    for j in range(len(interp)):
        new, picks = [cost[0] + m.SKIP_COST], [(0, None)]
        for i in range(n):
            lag = interp.start_ms[j] - floor.start_ms[i]
            first = ((lag - prior[j]) / m.LAG_SIGMA_MS) ** 2 \
                if -m.EARLY_TOLERANCE_MS <= lag <= max_lag_ms + m.EARLY_TOLERANCE_MS else inf
            over = max(0, interp.end_ms[j] - (floor.end_ms[i] + prior[j] + m.CONTINUE_SLACK_MS))
            before = min(range(i + 1), key=lambda s: cost[s])
            options = [(cost[i + 1] + m.SKIP_COST, 0, None),
                       (cost[i + 1] + m.CONTINUE_COST + (over / m.LAG_SIGMA_MS) ** 2, 1, None),
                       (cost[before] + first, 2, before)]
            best = min(options, key=lambda o: o[0])
            new.append(best[0])
            picks.append(best[1:])
        cost = new
        trail.append(picks)
    state = min(range(n + 1), key=lambda s: cost[s])
    total, assign = cost[state], [-1] * len(interp)
    for j in range(len(interp) - 1, -1, -1):
        kind, before = trail[j][state]
        if state and kind:
            assign[j] = state - 1
        if state and kind == 2:
            state = before
    return assign, total


@pytest.mark.parametrize("seed", range(12))
def test_the_windowed_matching_equals_the_full_table(seed):
    import numpy as np

    from medialib.translate.interpret import _match_units, _Units

    rng = random.Random(seed)
    n = rng.randint(3, 14)
    lags = [rng.choice([None, rng.randint(300, 5000)]) if rng.random() < 0.3 else rng.randint(800, 4200)
            for _ in range(n)]
    lags[0] = lags[0] or 2000
    floor = [rng.choice(FLOOR) for _ in range(n)]
    lec = Lecture(lags, floor=floor, interp=[rng.choice(INTERP) for _ in range(n)], gap_ms=rng.choice([300, 800, 1500]))
    f, i = _Units.of(lec.floor_words, 400), _Units.of(lec.interp_words, 400)
    prior = np.full(len(i), float(rng.choice([0, 1500, 2500, 4000, 6000])))
    assign, total = _match_units(f, i, prior, 6000)
    ref_assign, ref_total = _full_table_match(f, i, prior, 6000)
    assert total == pytest.approx(ref_total)
    assert list(assign) == ref_assign


@pytest.mark.parametrize("seed", range(20))
def test_messy_interpretation_keeps_every_invariant(seed):
    """Skipped and merged sentences, remarks in pauses, a late start: readable, in order, never early."""
    rng = random.Random(100 + seed)
    n = 12
    lags = [None if rng.random() < 0.2 else rng.randint(800, 4000) for _ in range(n)]
    lec = Lecture(lags, floor=[rng.choice(FLOOR) for _ in range(n)], interp=[rng.choice(INTERP) for _ in range(n)],
                  pauses_ms=[rng.choice([300, 700, 1200, 4000]) for _ in range(n)])
    words = list(lec.interp_words)
    for _ in range(rng.randint(0, 3)):  # remarks wherever they fit
        at = rng.randint(0, end_of(lec.floor_words))
        remark = speak(rng.choice(["Итак.", "Коллеги, внимание.", "Слайд номер два."]), at)
        if all(w.end_ms + 300 < remark[0].start_ms or w.start_ms > end_of(remark) + 300 for w in words):
            words += remark
    words.sort(key=lambda w: w.start_ms)
    floor, _ = lec.transcripts()
    interp = Transcript("ru", 1.0, floor.duration_ms, tuple(words), "t")
    track, alignment = align_interpretation(floor, interp, RULES)
    assert_readable(track, words)
    # every matched unit is shown at or after the start of its floor unit
    f_units, i_units = split_units(floor.words), split_units(interp.words)
    cue_of_word = [n for n, c in enumerate(track.cues) for _ in c.text.split()]
    first_word = [sum(len(u) for u in i_units[:j]) for j in range(len(i_units))]
    for k, j in alignment.pairs:
        assert track.cues[cue_of_word[first_word[j]]].start_ms >= f_units[k][0].start_ms


def test_each_cue_carries_how_far_its_lag_strays_from_the_usual_one():
    lags = [2000, 2000, 2000, 4500, 2000, 2000, 2000]
    lec = Lecture(lags)
    track, alignment = align_interpretation(*lec.transcripts(), RULES)
    assert [a.cue_id for a in alignment.cues] == [c.id for c in track.cues]
    by_sentence = {c.text.split()[0]: a for c, a in zip(track.cues, alignment.cues)}
    odd = by_sentence[INTERP[3].split()[0]]
    usual = [by_sentence[ru.split()[0]] for i, ru in enumerate(INTERP) if i != 3]
    assert odd.drift_ms > 2000 and odd.fit < 0.3
    assert all(abs(a.drift_ms) < 500 and a.fit > 0.9 for a in usual)
    assert all(0.0 <= a.fit <= 1.0 for a in alignment.cues)
