"""Words to cues, cues to WebVTT and SRT, and back.

`segment_cues` turns timed words into readable cues (Netflix/BBC rules: two lines of
42 characters, 0.83 to 7 s on screen, at most 20 characters per second). It is a chain
of small operations over *groups* (tuples of words, one group per future cue), each
with one idea, in the manner of stable-ts regrouping; the chain is written down in
`segment_cues`. Times are integer milliseconds throughout, so VTT and SRT round trips
are exact.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations, pairwise

from medialib.config import SubtitleRules
from medialib.speech.transcript import Word
from medialib.clock import format_timestamp_ms
from medialib.subtitles.cues import Cue
from medialib.subtitles.punctuation import CLAUSE_END, CLOSERS, SENTENCE_END, ends_clause, ends_sentence

logger = logging.getLogger(__name__)


Group = tuple[Word, ...]


Groups = tuple[Group, ...]


# Words that bind to the next one (en, ru): a line or cue should not end on them.
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with into and or but nor as than that if is are was were be"
    " и в во на с со к ко по о об у за из от до а но или не ни что как же бы".split()
)


def segment_cues(words: Sequence[Word], rules: SubtitleRules, *, earliest_ms: int = 0) -> tuple[Cue, ...]:
    """Group timed words into readable cues.

    The default chain, each step a function of this module::

        split_by_sentence                     after . ? ! … (not "Dr." nor before a lowercase word)
        split_by_pause(rules.pause_split_ms)  where the speaker stops
        split_by_clause                       groups still too long, after , ; : —
        split_by_length                       groups still too long, balanced, at the widest gaps
        merge_short                           groups that cannot stay min_duration_ms, into a neighbour
        rebalance                             move the boundary of a too fast or too short group
        merge_fast                            groups no timing can make readable, into a neighbour
        time_cues                             extend ends into silence for reading time, keep min_gap_ms;
                                              a too fast cue also starts up to max_lead_ms early
                                              and takes time its neighbours can spare

    Cues start at their first word, or up to max_lead_ms before it when they need the
    time, never before `earliest_ms` (a caller joining the cues of several calls passes
    the previous cue's end plus min_gap_ms), and keep at least min_gap_ms between them.
    Speech so fast that no layout within the rules exists still exceeds max_cps; it is
    logged here and `check_cues` names each such cue.
    """
    groups = _initial_groups(words)
    groups = split_by_sentence(groups)
    groups = split_by_pause(groups, rules.pause_split_ms)
    groups = split_by_clause(groups, rules)
    groups = split_by_length(groups, rules)
    groups = merge_short(groups, rules)
    groups = rebalance(groups, rules, earliest_ms)
    groups = merge_fast(groups, rules, earliest_ms)
    cues = time_cues(groups, rules, earliest_ms)
    logger.debug("segmented %d words into %d cues", sum(map(len, groups)), len(cues))
    unreadable = [c for c in cues if c.duration_ms < _reading_ms(c.chars, rules)]
    if unreadable:
        logger.info("%d of %d cues stay faster than %g chars/s or shorter than %d ms, the first at %s: "
                    "the speech leaves no room for them (check_cues names each)", len(unreadable), len(cues),
                    rules.max_cps, rules.min_duration_ms, format_timestamp_ms(unreadable[0].start_ms))
    return cues


def _initial_groups(words: Sequence[Word]) -> Groups:
    """One group of all words, whitespace normalised, empty words dropped, in time order."""
    clean = []
    for w in words:
        text = " ".join(w.text.split())
        if text:
            clean.append(w if text == w.text else replace(w, text=text))
    clean.sort(key=lambda w: w.start_ms)  # stable: Whisper's order is kept for equal starts
    return (tuple(clean),) if clean else ()


def split_by_sentence(groups: Groups) -> Groups:
    """Split after every word that ends a sentence."""
    return _split_where(groups, lambda a, b: ends_sentence(a, b))


def split_by_pause(groups: Groups, min_pause_ms: int) -> Groups:
    """Split where the silence between two words is at least `min_pause_ms` (ms)."""
    return _split_where(groups, lambda a, b: b.start_ms - a.end_ms >= min_pause_ms)


def split_by_clause(groups: Groups, rules: SubtitleRules) -> Groups:
    """Split groups that do not fit one cue after clause punctuation, keeping both parts substantial."""
    return tuple(part for g in groups for part in _split_until_fits(g, rules, _clause_split))


def split_by_length(groups: Groups, rules: SubtitleRules) -> Groups:
    """Split groups that still do not fit one cue into near-equal parts, at gaps, not after "the"."""
    return tuple(part for g in groups for part in _split_until_fits(g, rules, _length_split))


def merge_short(groups: Groups, rules: SubtitleRules) -> Groups:
    """Merge a group that cannot stay min_duration_ms on screen into its nearer neighbour.

    Only across silences shorter than pause_split_ms, and only when the merged group
    still fits one cue; otherwise `rebalance` may move the boundary instead.
    """
    gs = list(groups)
    i = 0
    while i < len(gs):
        if _available_ms(gs[i], _next_start(gs, i), rules) >= rules.min_duration_ms:
            i += 1
            continue
        options = []
        if i > 0 and _gap_ms(gs[i - 1], gs[i]) < rules.pause_split_ms and _fits(gs[i - 1] + gs[i], rules):
            options.append((_gap_ms(gs[i - 1], gs[i]), i - 1))
        if i + 1 < len(gs) and _gap_ms(gs[i], gs[i + 1]) < rules.pause_split_ms and _fits(gs[i] + gs[i + 1], rules):
            options.append((_gap_ms(gs[i], gs[i + 1]), i))
        if not options:
            i += 1
            continue
        _, j = min(options)
        gs[j : j + 2] = [gs[j] + gs[j + 1]]
        i = j
    return tuple(gs)


def rebalance(groups: Groups, rules: SubtitleRules, earliest_ms: int = 0) -> Groups:
    """Re-split a too fast or too short group together with a neighbour.

    For each group that would break max_cps or min_duration_ms even with all the time
    `time_cues` can give it (the silence after it, max_lead_ms before it, what the cue
    before can spare), try every split of it joined with the previous or next group
    (and no split at all) and keep the one with fewer violations. Only across silences
    shorter than pause_split_ms, so text never appears long before it is spoken. Each
    change lowers the violations of the pair it touches; a budget bounds the loop.
    """
    line = _timeline(groups, rules, earliest_ms)
    gs = line.groups
    i = 0
    budget = 10 * len(gs) + 10
    while i < len(gs) and budget:
        budget -= 1
        if line.readable[i]:
            i += 1
            continue
        best = None
        for j in (i - 1, i):
            if j < 0 or j + 1 >= len(gs) or _gap_ms(gs[j], gs[j + 1]) >= rules.pause_split_ms:
                continue
            floor = earliest_ms if j == 0 else line.ends[j - 1] + rules.min_gap_ms
            after = _next_start(gs, j + 1)
            current = _badness((gs[j], gs[j + 1]), floor, after, rules)
            option = _best_repartition(gs[j] + gs[j + 1], floor, after, rules)
            # Fewer broken rules only: trading magnitudes shuffles words for nothing readable.
            if option and option[0][0] < current[0] and (best is None or option[0] < best[0]):
                best = (option[0], j, option[1])
        if best is None:
            i += 1
            continue
        _, j, parts = best
        line = _splice(line, j, j + 2, parts, rules, earliest_ms)
        gs = line.groups
        i = max(j - 1, 0)
    return gs


def merge_fast(groups: Groups, rules: SubtitleRules, earliest_ms: int = 0) -> Groups:
    """Merge a group that no timing can show within max_cps and min_duration_ms with a neighbour.

    Borrowing time (see `time_cues`) comes first; a merge only where it leaves fewer
    such groups and the merged group still fits one cue (lines, max_duration_ms). A
    merged cue has the silence between its two groups as well as both their times, so
    merging the two groups before (or after) a too fast one also frees time for it. Of
    the merges that help most, the one across the shortest silence is made. Unlike
    `rebalance`, also across a long pause: text shown early can still be read, text
    shown too fast cannot.
    """
    line = _timeline(groups, rules, earliest_ms)
    i = 0
    while i < len(line.groups):
        if line.readable[i]:
            i += 1
            continue
        gs, unreadable = line.groups, line.readable.count(False)
        best = None
        for j in (i - 2, i - 1, i, i + 1):
            if j < 0 or j + 1 >= len(gs) or not _fits(gs[j] + gs[j + 1], rules):
                continue
            trial = _splice(line, j, j + 2, (gs[j] + gs[j + 1],), rules, earliest_ms)
            key = (trial.readable.count(False), _gap_ms(gs[j], gs[j + 1]))
            if key[0] < unreadable and (best is None or key < best[0]):
                best = (key, j, trial)
        if best is None:
            i += 1
            continue
        _, j, line = best
        i = min(i, j)  # groups before j keep their times: the merged group starts where gs[j] did
    return line.groups


def time_cues(groups: Groups, rules: SubtitleRules, earliest_ms: int = 0) -> tuple[Cue, ...]:
    """Turn groups into cues, each on screen long enough to read and as close to its words as allowed.

    A cue ends towards target_cps reading time, into the silence after it, min_gap_ms
    before the next cue. One that would still break max_cps or min_duration_ms also
    starts up to max_lead_ms before its first word (not before `earliest_ms`) and may
    take time from the cue before, whose end is pulled back only as far as that cue
    keeps its own max_cps and min_duration_ms time. A cue never starts after its first
    word, never ends before its last word starts, nor after the next cue starts; where
    the words leave no room, min_gap_ms and then reading time give way (`check_cues`
    reports both).

    Two passes: forwards, the earliest times that give every cue its reading time (the
    most room for the cues after it); backwards, each cue as late and as close to its
    words as those times allow.
    """
    texts = [_cue_text(g, rules) for g in groups]
    chars = [len(t) - t.count("\n") for t in texts]
    earliest_starts, earliest_ends, _ = _earliest_times(groups, chars, rules, earliest_ms)
    cues: list[Cue] = []
    next_cue_start: int | None = None
    for i in reversed(range(len(groups))):
        g = groups[i]
        first = g[0].start_ms
        target_ms = math.ceil(chars[i] * 1000 / rules.target_cps)
        desired = max(g[-1].end_ms, first + rules.min_duration_ms, first + target_ms)
        limit = first + rules.max_duration_ms
        if next_cue_start is not None:
            limit = min(limit, next_cue_start - rules.min_gap_ms)
        end = max(min(desired, limit), earliest_ends[i], g[-1].start_ms + 1)
        if next_cue_start is not None:
            end = min(end, next_cue_start)
        start = max(min(first, end - _reading_ms(chars[i], rules)), earliest_starts[i], end - rules.max_duration_ms)
        start = min(start, first)
        confidence = sum(w.probability for w in g) / len(g)
        cues.append(Cue(start, end, texts[i], confidence))
        next_cue_start = start
    return tuple(reversed(cues))


def check_cues(cues: Sequence[Cue], rules: SubtitleRules) -> list[str]:
    """Every broken readability rule, one line each, numbered like SRT; [] when all good."""
    problems = []
    prev: Cue | None = None
    for n, cue in enumerate(cues, start=1):
        label = f"cue {n} ({format_timestamp_ms(cue.start_ms)})"
        lines = cue.text.split("\n")
        if len(lines) > rules.max_lines:
            problems.append(f"{label}: {len(lines)} lines, more than {rules.max_lines}")
        for line in lines:
            if len(line) > rules.max_line_chars and " " in line.strip():
                problems.append(f"{label}: line of {len(line)} chars, more than {rules.max_line_chars}: {line!r}")
            if not line.strip():
                problems.append(f"{label}: has an empty line")
        if cue.duration_ms < rules.min_duration_ms:
            problems.append(f"{label}: on screen {cue.duration_ms} ms, less than {rules.min_duration_ms} ms")
        if cue.duration_ms > rules.max_duration_ms:
            problems.append(f"{label}: on screen {cue.duration_ms} ms, more than {rules.max_duration_ms} ms")
        cps = cue.chars * 1000 / cue.duration_ms
        if cps > rules.max_cps + 1e-9:
            problems.append(f"{label}: {cps:.1f} chars/s, faster than {rules.max_cps:g}")
        if prev is not None:
            if cue.start_ms < prev.start_ms:
                problems.append(f"{label}: starts before cue {n - 1}")
            elif cue.start_ms < prev.end_ms:
                problems.append(f"{label}: overlaps cue {n - 1}, which ends at {format_timestamp_ms(prev.end_ms)}")
            elif cue.start_ms - prev.end_ms < rules.min_gap_ms:
                gap_ms = cue.start_ms - prev.end_ms
                problems.append(f"{label}: {gap_ms} ms after cue {n - 1}, less than {rules.min_gap_ms} ms")
        prev = cue
    return problems


def wrap_lines(text: str, max_line_chars: int, max_lines: int) -> list[str]:
    """Break text into at most `max_lines` balanced lines of at most `max_line_chars`.

    Prefers breaks after punctuation, avoids ending a line on "the"/"и" and avoids
    one-word lines; a word longer than a line stands alone. When the text cannot fit,
    it still gets `max_lines` lines, some too long (`check_cues` reports them).
    """
    words = text.split()
    if not words:
        return []
    whole = " ".join(words)
    if len(whole) <= max_line_chars or len(words) == 1 or max_lines <= 1:
        return [whole]
    best: tuple[float, list[str]] | None = None
    for n_lines in range(2, min(max_lines, len(words)) + 1):
        for cuts in combinations(range(1, len(words)), n_lines - 1):
            lines = [" ".join(words[a:b]) for a, b in pairwise((0, *cuts, len(words)))]
            cost = _wrap_cost(words, cuts, lines, max_line_chars)
            if best is None or cost < best[0]:
                best = (cost, lines)
    assert best is not None
    return best[1]


def _wrap_cost(words: Sequence[str], cuts: Sequence[int], lines: Sequence[str], max_line_chars: int) -> float:
    """Lower is better; one unit is about one character of imbalance."""
    lengths = [len(line) for line in lines]
    cost: float = 1000 * sum(max(0, n - max_line_chars) for n in lengths)
    cost += 100 * (len(lines) - 2) + max(lengths) - min(lengths)
    cost += 60 * sum(" " not in line for line in lines)  # one-word lines
    cost += 1 if lengths[0] > lengths[-1] else 0  # bottom-heavy reads better
    for c in cuts:
        cost += _boundary_cost(words[c - 1])
    return cost


def _boundary_cost(last_word: str) -> float:
    """Cost of a break (line or cue) after `last_word`, in characters of imbalance."""
    core = last_word.rstrip(CLOSERS)
    if core.endswith(SENTENCE_END):
        return -20
    if core.endswith(CLAUSE_END):
        return -14
    if core.lower() in _FUNCTION_WORDS:
        return 8
    return 0


def _text(g: Group) -> str:
    return " ".join(w.text for w in g)


def _gap_ms(a: Group, b: Group) -> int:
    return b[0].start_ms - a[-1].end_ms


def _next_start(gs: Sequence[Group], i: int) -> int | None:
    return gs[i + 1][0].start_ms if i + 1 < len(gs) else None


def _can_split(a: Word, b: Word) -> bool:
    """A boundary is possible only where the next word starts later, so cues never overlap."""
    return b.start_ms > a.start_ms


def _split_where(groups: Groups, boundary: Callable[[Word, Word], bool]) -> Groups:
    out = []
    for g in groups:
        start = 0
        for i in range(1, len(g)):
            if _can_split(g[i - 1], g[i]) and boundary(g[i - 1], g[i]):
                out.append(g[start:i])
                start = i
        out.append(g[start:])
    return tuple(out)


def _fits(g: Group, rules: SubtitleRules) -> bool:
    """True when the group fits one cue: its lines and its spoken span.

    Filling lines greedily needs the fewest lines (a word longer than a line takes
    one alone), and `wrap_lines` finds a layout within limits whenever one exists.
    """
    if g[-1].end_ms - g[0].start_ms > rules.max_duration_ms and len(g) > 1:
        return False
    lines, width = 1, -1
    for w in g:
        if width + 1 + len(w.text) <= rules.max_line_chars or width < 0:
            width += 1 + len(w.text)
        else:
            lines, width = lines + 1, len(w.text)
            if lines > rules.max_lines:
                return False
    return True


def _pieces_needed(g: Group, rules: SubtitleRules) -> int:
    by_chars = math.ceil(len(_text(g)) / (rules.max_lines * rules.max_line_chars))
    by_time = math.ceil((g[-1].end_ms - g[0].start_ms) / rules.max_duration_ms)
    return max(2, by_chars, by_time)


def _split_until_fits(
    g: Group, rules: SubtitleRules, choose: Callable[[Group, SubtitleRules], int | None]
) -> list[Group]:
    if len(g) < 2 or _fits(g, rules):
        return [g]
    i = choose(g, rules)
    if i is None:
        return [g]
    return _split_until_fits(g[:i], rules, choose) + _split_until_fits(g[i:], rules, choose)


def _split_points(g: Group) -> Iterable[int]:
    return (i for i in range(1, len(g)) if _can_split(g[i - 1], g[i]))


def _prefix_chars(g: Group) -> list[int]:
    """prefix[i]: characters of the text of g[:i] (with the spaces between its words)."""
    prefix = [0]
    for w in g:
        prefix.append(prefix[-1] + len(w.text) + (1 if prefix[-1] else 0))
    return prefix


def _balance_cost(left: int, total: int, pieces: int) -> float:
    """Distance in characters from the nearest point that cuts `total` into equal pieces."""
    k = min(max(round(left * pieces / total), 1), pieces - 1)
    return abs(left - total * k / pieces)


def _gap_bonus(a: Word, b: Word) -> float:
    """Up to 10 chars' worth: a boundary at a silence lets the cue stay longer."""
    return min(max(b.start_ms - a.end_ms, 0), 600) / 60


def _clause_split(g: Group, rules: SubtitleRules) -> int | None:
    prefix = _prefix_chars(g)
    total = prefix[-1]
    least = min(rules.max_line_chars // 2, total // 4)
    pieces = _pieces_needed(g, rules)
    best = None
    for i in _split_points(g):
        if not ends_clause(g[i - 1]) or min(i, len(g) - i) < 2:
            continue
        left, right = prefix[i], total - prefix[i] - 1
        if min(left, right) < least:
            continue
        cost = _balance_cost(left, total, pieces) - _gap_bonus(g[i - 1], g[i])
        if best is None or cost < best[0]:
            best = (cost, i)
    return best[1] if best else None


def _length_split(g: Group, rules: SubtitleRules) -> int | None:
    prefix = _prefix_chars(g)
    pieces = _pieces_needed(g, rules)
    best = None
    for i in _split_points(g):
        cost = _balance_cost(prefix[i], prefix[-1], pieces) - _gap_bonus(g[i - 1], g[i])
        cost += _boundary_cost(g[i - 1].text)
        cost += 20 * (i == 1 or i == len(g) - 1)  # a one-word cue
        if best is None or cost < best[0]:
            best = (cost, i)
    return best[1] if best else None


def _strands_fragment(a: Group, b: Group) -> bool:
    """True for a mid-sentence boundary that leaves one or two words of a sentence with the next one.

    "...for every | process. Finally, we..." is harder to read than a slightly fast cue.
    """
    if ends_sentence(a[-1], b[0]):
        return False
    tail = any(ends_sentence(b[k], b[k + 1]) for k in range(min(2, len(b) - 1)))
    head = any(ends_sentence(a[k], a[k + 1]) for k in range(max(0, len(a) - 3), len(a) - 1))
    return tail or head


def _cue_text(g: Group, rules: SubtitleRules) -> str:
    return "\n".join(_wrapped(_text(g), rules.max_line_chars, rules.max_lines))


@lru_cache(maxsize=4096)
def _wrapped(text: str, max_line_chars: int, max_lines: int) -> tuple[str, ...]:
    """`wrap_lines`, remembered: the timing steps ask for the same groups' lines many times."""
    return tuple(wrap_lines(text, max_line_chars, max_lines))


def _cue_chars(g: Group, rules: SubtitleRules) -> int:
    """`Cue.chars` of the group's cue: its text without the spaces that became line breaks."""
    return len(_text(g)) - (len(_wrapped(_text(g), rules.max_line_chars, rules.max_lines)) - 1)


def _reading_ms(chars: int, rules: SubtitleRules) -> int:
    """The shortest time on screen (ms) within max_cps and min_duration_ms."""
    return max(rules.min_duration_ms, math.ceil(chars * 1000 / rules.max_cps))


def _earliest_step(
    g: Group, chars: int, floor_ms: int, next_start: int | None, rules: SubtitleRules
) -> tuple[int, int, bool]:
    """(earliest start, earliest end giving reading time, whether it gets it) of one group; see `_earliest_times`."""
    first = g[0].start_ms
    start = min(max(floor_ms, first - rules.max_lead_ms, 0), first)
    end = max(start + _reading_ms(chars, rules), g[-1].start_ms + 1)
    if next_start is None or end <= next_start - rules.min_gap_ms:
        return start, end, True
    return start, max(next_start - rules.min_gap_ms, g[-1].start_ms + 1), False


def _earliest_times(
    groups: Sequence[Group], chars: Sequence[int], rules: SubtitleRules, earliest_ms: int, after: int | None = None
) -> tuple[list[int], list[int], list[bool]]:
    """Per group: the earliest start (ms), the earliest end that gives it its reading time, and whether one does.

    Each cue starts as early as max_lead_ms, min_gap_ms after the previous one's
    earliest end, and `earliest_ms` allow, and ends as early as its reading time
    allows: the most room for the cues after it, so a cue that cannot get its reading
    time here cannot get it in any layout of these groups. Such a cue ends by the next
    cue's first word less min_gap_ms (or just after its own last word starts). `after`:
    the first word's start of a group after these, if any.
    """
    starts, ends, readable = [], [], []
    floor = earliest_ms
    for i, g in enumerate(groups):
        next_start = _next_start(groups, i) if i + 1 < len(groups) else after
        start, end, ok = _earliest_step(g, chars[i], floor, next_start, rules)
        starts.append(start)
        ends.append(end)
        readable.append(ok)
        floor = end + rules.min_gap_ms
    return starts, ends, readable


@dataclass(frozen=True)
class _Timeline:
    """Groups with their cue's chars, earliest ends and readability (`_earliest_times`), for the merging steps."""

    groups: Groups
    chars: tuple[int, ...]
    ends: tuple[int, ...]
    readable: tuple[bool, ...]


def _timeline(groups: Groups, rules: SubtitleRules, earliest_ms: int) -> _Timeline:
    chars = tuple(_cue_chars(g, rules) for g in groups)
    _, ends, readable = _earliest_times(groups, chars, rules, earliest_ms)
    return _Timeline(tuple(groups), chars, tuple(ends), tuple(readable))


def _splice(line: _Timeline, j: int, k: int, parts: Groups, rules: SubtitleRules, earliest_ms: int) -> _Timeline:
    """`line` with groups[j:k] replaced by `parts`.

    Times are recomputed from j only until a group's earliest end is what it was:
    from there on nothing changes, so a merge costs a few groups, not the lecture.
    """
    groups = line.groups[:j] + tuple(parts) + line.groups[k:]
    chars = line.chars[:j] + tuple(_cue_chars(p, rules) for p in parts) + line.chars[k:]
    ends, readable = list(line.ends[:j]), list(line.readable[:j])
    shift = len(parts) - (k - j)
    for i in range(j, len(groups)):
        floor = ends[-1] + rules.min_gap_ms if ends else earliest_ms
        _, end, ok = _earliest_step(groups[i], chars[i], floor, _next_start(groups, i), rules)
        ends.append(end)
        readable.append(ok)
        if i >= j + len(parts) and end == line.ends[i - shift]:
            ends.extend(line.ends[i - shift + 1 :])
            readable.extend(line.readable[i - shift + 1 :])
            break
    return _Timeline(groups, chars, tuple(ends), tuple(readable))


def _limit_ms(g: Group, next_start: int | None, rules: SubtitleRules) -> int:
    """The latest end: max_duration_ms after the start, min_gap_ms before the next cue."""
    limit = g[0].start_ms + rules.max_duration_ms
    if next_start is not None:
        limit = min(limit, next_start - rules.min_gap_ms)
    return limit


def _available_ms(g: Group, next_start: int | None, rules: SubtitleRules) -> int:
    """The longest this group can stay on screen from its first word, as `time_cues` allows without lead."""
    end = max(_limit_ms(g, next_start, rules), g[-1].start_ms + 1)
    if next_start is not None:
        end = min(end, next_start)
    return end - g[0].start_ms


def _badness(parts: Sequence[Group], floor_ms: int, after: int | None, rules: SubtitleRules) -> tuple[int, float, int]:
    """(rules broken, chars/s over max_cps, ms under min_duration_ms) of `parts` given all the time they can have.

    `parts` are consecutive groups whose first may start from `floor_ms`; the group
    after them starts at `after` (None: nothing after).
    """
    chars = [_cue_chars(p, rules) for p in parts]
    starts, ends, _ = _earliest_times(parts, chars, rules, floor_ms, after)
    broken, over_cps, short_ms = 0, 0.0, 0
    for n, start, end in zip(chars, starts, ends):
        over = max(0.0, n * 1000 / (end - start) - rules.max_cps)
        short = max(0, rules.min_duration_ms - (end - start))
        broken += int(over > 1e-9) + int(short > 0)
        over_cps += over
        short_ms += short
    return broken, over_cps, short_ms


def _best_repartition(
    words: Group, floor_ms: int, after: int | None, rules: SubtitleRules
) -> tuple[tuple, Groups] | None:
    """The least bad way to show `words` as one cue or two; ties go to nicer boundaries."""
    options: list[tuple[tuple, Groups]] = []
    if _fits(words, rules):
        options.append(((_badness((words,), floor_ms, after, rules), 0.0), (words,)))
    for i in _split_points(words):
        a, b = words[:i], words[i:]
        if _fits(a, rules) and _fits(b, rules) and not _strands_fragment(a, b):
            nicety = _boundary_cost(a[-1].text) - _gap_bonus(a[-1], b[0])
            options.append(((_badness((a, b), floor_ms, after, rules), nicety), (a, b)))
    if not options:
        return None
    (bad, _), parts = min(options, key=lambda o: o[0])
    return bad, parts
