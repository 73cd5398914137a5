"""The interpreter's words as a subtitle track on the floor's timeline.

A simultaneous interpreter speaks one to four seconds behind the floor speaker, and in
other words (paraphrase: word counts differ, sentences merge or split). Her transcript,
moved earlier by her lag, is a human translation that can be shown while the floor
speaker says the matching thing. The steps, each a function of this module::

    split_units          words -> units: sentences, and phrases where the speaker pauses
    _coarse_lag_ms       the constant lag (0..max_lag_ms, 500 ms steps) under which matching costs least
    _match_units         monotonic DP: each interpreted unit starts a floor unit's group,
                         continues the previous group, or stays unmatched; cost from the
                         distance of its local lag to the typical lag (refined, then local)
    _place_items         a group starts when its floor unit starts, never before; it ends by
                         the next interpreted floor unit's start (compressed if it must);
                         unmatched speech keeps its own time minus the lag
    segment_cues         per placed item, with the target language's readability rules

Only word timings are used (the two languages share no words to compare), so the
matching leans on the rhythm of speech: interpreters start a sentence after the floor
speaker starts it, and pauses on the floor show up, lagged, in the interpretation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from medialib.config import SubtitleRules
from medialib.speech.transcript import Transcript, Word
from medialib.subtitles.cues import Cue, Track
from medialib.subtitles.risk import CueAlignment
from medialib.subtitles.segment import segment_cues, split_by_pause, split_by_sentence

log = logging.getLogger(__name__)

Unit = tuple[Word, ...]

UNIT_PAUSE_MS = 400         # a pause this long ends a unit (shorter than a cue's: more anchors)
LAG_GRID_MS = 500           # the first lag search tries 0, 500, ... max_lag_ms; the matches refine it
TYPICAL_LAG_MS = 2500       # interpreters lag 1-4 s
LAG_SIGMA_MS = 1300         # how far a sentence's lag typically strays from the interpreter's usual lag
EARLY_TOLERANCE_MS = 400    # an interpreted unit may appear to start this much before its floor unit (ASR error)
SKIP_COST = 4.0             # leaving an interpreted unit unmatched costs as much as a 2-sigma lag deviation
CONTINUE_COST = 1.5         # an interpreted unit continuing the previous floor unit's group
CONTINUE_SLACK_MS = 500     # ...should end by that floor unit's end + lag + this (paraphrase runs longer)
MAX_PASSES = 5
LOCAL_WINDOW_MS = 60_000    # the lag prior for a unit: median lag of the matches within this distance
# Whisper starts a word that follows a silence too early (the VAD pads speech, and the
# word's alignment reaches back into the pause). A word longer than WORD_STRETCH times the
# transcript's median duration per character is shortened from its start: a late start
# only delays a cue, an early one shows it before the floor speaker says it. Measured on
# the fixtures (espeak-ng English, festival Russian, Whisper base; 29 floor sentences),
# sentence onsets then err by -114..+164 ms (mean -9) instead of -380..+100.
WORD_STRETCH = 0.8
# Cues start this long after the floor unit's (corrected) onset, to cover the early end
# of that error: a subtitle a moment after the voice reads naturally, one before the
# speaker says it does not.
ONSET_GUARD_MS = 150


@dataclass(frozen=True)
class Alignment:
    """How the interpretation was matched to the floor.

    lag_ms: the interpreter's typical delay behind the floor (median over matched units), >= 0.
    pairs: (floor unit, interpretation unit) indices that were matched; units are those of
        `split_units` with the same pause (a floor unit may have several interpreted units).
    confidence: 0..1; the share of interpreted speech matched to floor speech, weighted by
        how consistent each match's lag is with the interpreter's usual lag. Near 0: the two
        tracks do not look like speech and its interpretation.
    cues: per cue of the track, in order, how far its group's lag strays from the
        interpreter's local typical lag (`CueAlignment`: drift_ms, fit 0..1; unmatched
        speech has drift None and fit 0). Review ranks cues by it (subtitles/risk.py).
    """

    lag_ms: int
    pairs: tuple[tuple[int, int], ...]
    confidence: float
    cues: tuple[CueAlignment, ...] = ()

    def __post_init__(self) -> None:
        if self.lag_ms < 0:
            raise ValueError(f"interpreter lag {self.lag_ms} ms is negative")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"alignment confidence {self.confidence} is outside 0..1")


# --- units ---------------------------------------------------------------------------------


def split_units(words: Sequence[Word], pause_ms: int = UNIT_PAUSE_MS) -> tuple[Unit, ...]:
    """Sentences, further split where the speaker pauses at least `pause_ms` (ms).

    Word starts are corrected first (see WORD_STRETCH), so a pause that Whisper hid in
    the next word's start still splits, and a unit starts where its speech starts.
    """
    clean = sorted((w for w in words if w.text.strip()), key=lambda w: w.start_ms)
    if not clean:
        return ()
    per_char = [(w.end_ms - w.start_ms) / _letters(w) for w in clean if _letters(w) >= 3]
    ms_per_char = float(np.median(per_char)) if len(per_char) >= 5 else 70.0
    fixed = []
    for w in clean:
        longest = math.ceil(WORD_STRETCH * ms_per_char * max(_letters(w), 2))
        fixed.append(replace(w, start_ms=w.end_ms - longest) if w.end_ms - w.start_ms > longest else w)
    fixed.sort(key=lambda w: w.start_ms)
    return split_by_pause(split_by_sentence((tuple(fixed),)), pause_ms)


def _letters(w: Word) -> int:
    return sum(c.isalnum() for c in w.text)


@dataclass(frozen=True)
class _Units:
    units: tuple[Unit, ...]
    start_ms: np.ndarray
    end_ms: np.ndarray

    @classmethod
    def of(cls, words: Sequence[Word], pause_ms: int) -> "_Units":
        units = split_units(words, pause_ms)
        return cls(units, np.array([u[0].start_ms for u in units], dtype=np.int64),
                   np.array([u[-1].end_ms for u in units], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.units)


# --- lag ------------------------------------------------------------------------------------


def estimate_lag_ms(floor_words: Sequence[Word], interp_words: Sequence[Word], max_lag_ms: int = 6000) -> int:
    """The interpreter's typical delay behind the floor, in ms (0..max_lag_ms; 0 when either is empty).

    A search over constant lags finds it roughly; the median lag of the units then
    matched refines it (robust to a changing lag and to skipped sentences).
    """
    floor, interp = _Units.of(floor_words, UNIT_PAUSE_MS), _Units.of(interp_words, UNIT_PAUSE_MS)
    if not len(floor) or not len(interp):
        return 0
    lag, _, _ = _lag_and_matches(floor, interp, max_lag_ms)
    return lag


def _coarse_lag_ms(floor: _Units, interp: _Units, max_lag_ms: int) -> int:
    """The constant lag, on a LAG_GRID_MS grid, under which the unit matching costs least.

    A likelihood search rather than a cross-correlation of onsets: with a lag that varies
    by seconds from sentence to sentence the correlation peak smears out and a periodic
    side peak (the next sentence) can win, while the matching cost still has a clear
    minimum. Ties go to the lag nearest TYPICAL_LAG_MS.
    """
    best = None
    for lag in range(0, max_lag_ms + 1, LAG_GRID_MS):
        _, cost = _match_units(floor, interp, np.full(len(interp), float(lag)), max_lag_ms)
        key = (round(cost, 6), abs(lag - TYPICAL_LAG_MS))
        if best is None or key < best[0]:
            best = (key, lag)
    return best[1]


def _lag_and_matches(floor: _Units, interp: _Units, max_lag_ms: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(typical lag, floor unit per interpreted unit or -1, the lag prior used per interpreted unit)."""
    lag = _coarse_lag_ms(floor, interp, max_lag_ms)
    prior = np.full(len(interp), float(lag))
    assign = np.full(len(interp), -2)
    # Match with the prior, re-estimate the prior from the matches (locally: follows a lag
    # that drifts), until the matches stop changing.
    for _ in range(MAX_PASSES):
        new, _ = _match_units(floor, interp, prior, max_lag_ms)
        if np.array_equal(new, assign):
            break
        assign = new
        lag, prior = _lag_from_matches(floor, interp, assign, lag)
    return min(max(lag, 0), max_lag_ms), assign, prior


def _group_starts(assign: np.ndarray) -> list[int]:
    """The interpreted units that start a group: the first matched to each floor unit."""
    out, last = [], -1
    for j, k in enumerate(assign):
        if k >= 0 and k != last:
            out.append(j)
            last = k
    return out


def _lag_from_matches(floor: _Units, interp: _Units, assign: np.ndarray, fallback: int) -> tuple[int, np.ndarray]:
    """Median lag of the groups' first units, globally and within LOCAL_WINDOW_MS of each unit."""
    firsts = _group_starts(assign)
    if not firsts:
        return fallback, np.full(len(interp), float(fallback))
    times = interp.start_ms[firsts]
    lags = interp.start_ms[firsts] - floor.start_ms[assign[firsts]]
    lag = int(round(float(np.median(lags))))
    prior = np.full(len(interp), float(lag))
    if len(firsts) >= 5:
        for j, t in enumerate(interp.start_ms):
            near = np.abs(times - t) <= LOCAL_WINDOW_MS
            if near.sum() >= 3:
                prior[j] = float(np.median(lags[near]))
    return lag, prior


# --- matching -------------------------------------------------------------------------------


def _match_units(floor: _Units, interp: _Units, lag_prior: np.ndarray, max_lag_ms: int) -> tuple[np.ndarray, float]:
    """(the floor unit of each interpreted unit, -1 where unmatched, non-decreasing; the total cost).

    Dynamic programming over the state "the floor unit of the latest group" (0 = none
    yet). An interpreted unit either starts the group of a later floor unit (cost: the
    squared distance of its lag to the prior, in LAG_SIGMA_MS; only for lags
    -EARLY_TOLERANCE_MS..max_lag_ms), continues the latest group (the interpreter split a
    sentence, or paused; costly when it ends well after that floor unit's end + lag: then
    it interprets something later), or stays unmatched.
    Skipping floor units is free: interpreters leave things out and merge sentences.

    Only a window of states is kept per interpreted unit: floor units not yet started
    cannot be the latest group, and one ended so long ago that continuing it would cost
    more than skipping (the two lead to the same state) can only skip from then on, so
    such states fold into one. The result is that of the full table, in O(units x window).
    """
    m = len(interp)
    # past this, continuing a floor unit's group costs more than SKIP_COST even at the largest lag
    horizon = max_lag_ms + EARLY_TOLERANCE_MS + CONTINUE_SLACK_MS + LAG_SIGMA_MS * math.sqrt(SKIP_COST - CONTINUE_COST)
    # (unit starts are sorted; ends are too, except for overlapping words: use their running maximum)
    lo = np.searchsorted(np.maximum.accumulate(floor.end_ms), interp.end_ms - horizon, side="left")
    hi = np.searchsorted(floor.start_ms, interp.start_ms + EARLY_TOLERANCE_MS, side="right")
    lo = np.maximum.accumulate(np.minimum(lo, hi))  # windows only move forward
    hi = np.maximum.accumulate(hi)
    folded_cost, folded_state = 0.0, 0  # the best of the states left behind (state = floor index + 1; 0: none)
    a = b = 0  # the window: floor units a..b-1
    cost = np.empty(0)
    trail = []  # per interpreted unit: (a, choice per window state, the state a group start came from)
    for j in range(m):
        new_a, new_b = int(lo[j]), int(hi[j])
        if new_a > a:  # fold the states that left the window
            gone = cost[: new_a - a]
            if len(gone) and gone.min() < folded_cost:
                folded_cost, folded_state = float(gone.min()), a + int(np.argmin(gone)) + 1
            cost = cost[new_a - a:]
        cost = np.concatenate([cost, np.full(new_b - max(b, new_a), np.inf)]) if new_b > max(b, new_a) else cost
        a, b = new_a, new_b
        f_start, f_end = floor.start_ms[a:b], floor.end_ms[a:b]
        lag = interp.start_ms[j] - f_start
        ok = (lag >= -EARLY_TOLERANCE_MS) & (lag <= max_lag_ms + EARLY_TOLERANCE_MS)
        start_cost = np.where(ok, ((lag - lag_prior[j]) / LAG_SIGMA_MS) ** 2, np.inf)
        over = np.maximum(0, interp.end_ms[j] - (f_end + lag_prior[j] + CONTINUE_SLACK_MS))
        continue_cost = CONTINUE_COST + (over / LAG_SIGMA_MS) ** 2
        # a group at floor i may follow any state before it: the folded ones or the window's
        before = np.concatenate([[folded_cost], cost[:-1]]) if len(cost) else np.empty(0)
        before_state = np.concatenate([[folded_state], np.arange(a, b - 1) + 1]) if len(cost) else np.empty(0, int)
        where = _running_argmin(before) if len(cost) else np.empty(0, int)
        options = np.stack([cost + SKIP_COST, cost + continue_cost, before[where] + start_cost])
        pick = np.argmin(options, axis=0) if len(cost) else np.empty(0, int)
        trail.append((a, pick.astype(np.int8), before_state[where].astype(np.int32)))
        cost = options[pick, np.arange(len(cost))]
        folded_cost += SKIP_COST
    assign = np.full(m, -1, dtype=np.int64)
    if len(cost) and cost.min() < folded_cost:
        total, state = float(cost.min()), a + int(np.argmin(cost)) + 1
    else:
        total, state = folded_cost, folded_state
    for j in range(m - 1, -1, -1):
        a, pick, came_from = trail[j]
        if state == 0 or state - 1 < a:
            continue  # no group yet, or a folded state: it only skips
        c = pick[state - 1 - a]
        if c >= 1:
            assign[j] = state - 1
        if c == 2:
            state = int(came_from[state - 1 - a])
    return assign, total


def _running_argmin(x: np.ndarray) -> np.ndarray:
    """out[i] = the index of the minimum of x[: i + 1] (the first one on ties)."""
    prefix = np.minimum.accumulate(x)
    new_min = np.empty(len(x), dtype=bool)
    new_min[0] = True
    new_min[1:] = x[1:] < prefix[:-1]
    return np.maximum.accumulate(np.where(new_min, np.arange(len(x)), 0)).astype(np.int32)


# --- placing and cutting ----------------------------------------------------------------------


@dataclass
class _Item:
    """Interpreted units shown together: a floor unit's group (floor >= 0) or unmatched speech."""

    floor: int
    units: list[int]


def align_interpretation(floor: Transcript, interp: Transcript, rules: SubtitleRules, *, max_lag_ms: int = 6000,
                         model: str = "") -> tuple[Track, Alignment]:
    """The interpreter's transcript as a `Track` (origin "interpretation") on the floor's timeline.

    A group of interpreted units starts when its floor unit starts (plus ONSET_GUARD_MS),
    never before, and ends by the next interpreted floor unit's start less min_gap_ms, its
    words compressed evenly when the interpreter took longer -- but never below
    target_cps reading time: a group that cannot fit delays the next one (which still
    starts after its own floor unit, only later than ideal). Unmatched interpreted speech
    keeps its own time less the lag, after the previous cue. Cues are then cut per group by
    `segment_cues`, so a cue never mixes the interpretations of two floor units.
    """
    empty = (Track(interp.language, "interpretation", (), model=model), Alignment(0, (), 0.0))
    rules = rules.for_language(interp.language)  # the target language's characters per line
    f_units = _Units.of(floor.words, UNIT_PAUSE_MS)
    i_units = _Units.of(interp.words, UNIT_PAUSE_MS)
    if not len(f_units) or not len(i_units):
        return empty
    lag, assign, prior = _lag_and_matches(f_units, i_units, max_lag_ms)
    items = _items(assign)
    placed = _place_items(items, f_units, i_units, lag, rules)
    cues: list[Cue] = []
    drifts: list[int | None] = []
    for item, item_words in placed:
        if not item_words:
            continue
        # a cue may lead its first word, but not into the cue before (this call cannot see it)
        earliest = cues[-1].end_ms + rules.min_gap_ms if cues else 0
        item_cues = list(segment_cues(item_words, rules, earliest_ms=earliest))
        if cues and item_cues:
            _end_before(cues, item_cues[0].start_ms - rules.min_gap_ms)
        cues.extend(item_cues)
        drifts.extend([_drift_ms(item, f_units, i_units, assign, prior)] * len(item_cues))
    track = Track(interp.language, "interpretation", tuple(cues), model=model)
    pairs = tuple((int(assign[j]), j) for j in range(len(i_units)) if assign[j] >= 0)
    per_cue = tuple(CueAlignment(c.id, d, 0.0 if d is None else round(math.exp(-0.5 * (d / LAG_SIGMA_MS) ** 2), 3))
                    for c, d in zip(track.cues, drifts))
    alignment = Alignment(lag, pairs, _confidence(f_units, i_units, assign, prior), per_cue)
    log.info("interpretation aligned: lag %d ms, %d of %d units matched, confidence %.2f, %d cues",
             lag, len(pairs), len(i_units), alignment.confidence, len(cues))
    return track, alignment


def _drift_ms(item: _Item, floor: _Units, interp: _Units, assign: np.ndarray, prior: np.ndarray) -> int | None:
    """The item's lag (its first unit matched to its floor unit) less the local typical lag; None: unmatched."""
    first = next((j for j in item.units if assign[j] == item.floor), None) if item.floor >= 0 else None
    if first is None:
        return None
    return int(round(float(interp.start_ms[first] - floor.start_ms[item.floor]) - float(prior[first])))


def _items(assign: np.ndarray) -> list[_Item]:
    """Consecutive units of one floor unit form an item; unmatched units between two of the same join it."""
    next_match = np.full(len(assign) + 1, -1)
    for j in range(len(assign) - 1, -1, -1):
        next_match[j] = assign[j] if assign[j] >= 0 else next_match[j + 1]
    items: list[_Item] = []
    for j, k in enumerate(int(a) for a in assign):
        if k < 0:
            between_same = bool(items) and items[-1].floor >= 0 and items[-1].floor == next_match[j + 1]
            k = items[-1].floor if between_same else -1
        if k >= 0 and items and items[-1].floor == k:
            items[-1].units.append(j)
        else:
            items.append(_Item(k, [j]))
    return items


def _place_items(items: list[_Item], floor: _Units, interp: _Units, lag: int,
                 rules: SubtitleRules) -> list[tuple[_Item, tuple[Word, ...]]]:
    """Re-timed words per item (with the item as finally placed), in one pass.

    A group starts at its floor unit's start + ONSET_GUARD_MS, or later when the previous
    item still needs the time; unmatched speech at its own time less `lag`, after the
    previous item. Each ends by the next group's start less min_gap_ms (squeezed, but not
    below target_cps reading time). Unmatched speech with no room for min_duration_ms
    joins the item before it (or, at the very start, the one after it).
    """
    gap = rules.min_gap_ms
    anchors = [int(floor.start_ms[it.floor]) + ONSET_GUARD_MS if it.floor >= 0 else None for it in items]
    next_anchor: list[int | None] = [None] * (len(items) + 1)
    for n in range(len(items) - 1, -1, -1):
        next_anchor[n] = anchors[n + 1] if n + 1 < len(items) and anchors[n + 1] is not None else next_anchor[n + 1]
    # Unmatched units with no room before the first group open it (there is a group after
    # them, or they would have no limit and so always have room).
    pending: list[int] = []
    placed: list[tuple[_Item, int | None, int, tuple[Word, ...], int]] = []  # item, anchor, cursor before, words, after
    for n, item in enumerate(items):
        item = _Item(item.floor, pending + item.units)
        pending = []
        anchor, limit = anchors[n], None if next_anchor[n] is None else next_anchor[n] - gap
        cursor = placed[-1][4] if placed else 0
        while True:
            result = _place(item, anchor, cursor, limit, interp, lag, rules)
            if result is not None:
                placed.append((item, anchor, cursor, *result))
                break
            if not placed:
                pending = item.units
                break
            prev, anchor, cursor, _, _ = placed.pop()  # no room: join the item before
            item = _Item(prev.floor, prev.units + item.units)
    return [(item, words) for item, _, _, words, _ in placed]


def _place(item: _Item, anchor: int | None, cursor: int, limit: int | None, interp: _Units, lag: int,
           rules: SubtitleRules) -> tuple[tuple[Word, ...], int] | None:
    """(the item's re-timed words, the earliest start for the next item); None: unmatched, no room."""
    if anchor is not None:
        start = max(anchor, cursor)  # after its floor unit starts; later only if the previous item needs the time
    else:
        start = max(int(interp.start_ms[item.units[0]]) - lag, cursor)
        if limit is not None and limit - start < rules.min_duration_ms:
            return None
    origin = int(interp.start_ms[item.units[0]])
    span = max(interp.units[item.units[-1]][-1].end_ms - origin, 1)
    # Squeeze evenly to end by `limit`, but leave every unit target_cps reading time before
    # the next one starts: an unreadable cue helps nobody, and the next group then starts
    # a little later (still after its own floor unit).
    offsets = [int(interp.start_ms[j]) - origin for j in item.units] + [span]
    needs = [max(sum(len(w.text) + 1 for w in interp.units[j]) * 1000 / rules.target_cps, rules.min_duration_ms)
             for j in item.units]
    least = max(need / max(b - a, 1) for need, a, b in zip(needs, offsets, offsets[1:]))
    scale = 1.0 if limit is None else min(1.0, max(least, (limit - start) / span))
    words = _shift(interp, item.units, start, scale)
    reading_end = start + round(offsets[-2] * scale + needs[-1])
    return words, max(words[-1].end_ms, reading_end) + rules.min_gap_ms


def _shift(interp: _Units, units: list[int], start: int, scale: float) -> tuple[Word, ...]:
    """The units' words moved to begin at `start`, their times from there multiplied by `scale`."""
    words = [w for j in units for w in interp.units[j]]
    origin = int(interp.start_ms[units[0]])
    out = []
    for w in words:
        a = start + round(max(w.start_ms - origin, 0) * scale)
        b = start + round(max(w.end_ms - origin, 0) * scale)
        out.append(replace(w, start_ms=a, end_ms=max(a, b)))
    return tuple(out)


def _end_before(cues: list[Cue], limit_ms: int) -> None:
    """Shorten the last cue so it ends by `limit_ms` (segment_cues of one item cannot see the next)."""
    last = cues[-1]
    if last.end_ms > limit_ms:
        cues[-1] = replace(last, end_ms=max(limit_ms, last.start_ms + 1))


def _confidence(floor: _Units, interp: _Units, assign: np.ndarray, prior: np.ndarray) -> float:
    """Share of interpreted speech (ms) matched, each group's first unit weighted by its lag's fit."""
    total = float(sum(u[-1].end_ms - u[0].start_ms for u in interp.units)) or 1.0
    score = 0.0
    fit = 1.0
    starts = set(_group_starts(assign))
    for j, k in enumerate(assign):
        if k < 0:
            continue
        if j in starts:
            lag = float(interp.start_ms[j] - floor.start_ms[k])
            fit = math.exp(-0.5 * ((lag - prior[j]) / LAG_SIGMA_MS) ** 2)
        u = interp.units[j]
        score += fit * (u[-1].end_ms - u[0].start_ms)
    return float(min(max(score / total, 0.0), 1.0))
