"""How likely each machine cue is to hold an error, so translators fix the risky ones first.

`score_track` sets every cue's `risk` (0..1) and `flags` (the reasons) from what the
pipeline knows about it and no subtitle editor shows:

    the cue's words     min and mean Whisper word probability, words under LOW_WORD_P,
                        words per second of their spoken span
    Whisper segments    avg_logprob, no_speech_prob, compression ratio of the segments the
                        words came from; guards they nearly tripped; decoder fallbacks
    rule breaks         reading speed over max_cps, lines too long or too many, too short/long
    origin              machine translation of Whisper's words
    interpretation      how far the cue's local lag strays from the interpreter's usual lag
    glossary            a glossary term the translation lost

The model is a logistic combination, risk = 1 / (1 + exp(-(BIAS + sum WEIGHTS[f] * f))),
deterministic and small enough to read. The WEIGHTS of the word, segment and rule
features were fitted (L2-regularised logistic regression) on the training clips of
bench/risk_rank.py (espeak-ng English, five voices, 130-240 words a minute, clean,
pink noise and babble at 2-8 dB SNR, Whisper base) and frozen here; its figures are
measured on held-out clips (other text, other voices). The origin, interpretation and
glossary weights cannot be fitted on those clips (they have none) and are set by hand
(PRIOR_WEIGHTS): a machine translation of Whisper's words is riskier than the words,
a lost glossary term is an error by definition, a drifting interpreter match puts the
text beside the wrong floor sentence. A cue a person edited (origin "human") has risk
0 and no flags.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from medialib.config import SubtitleRules
from medialib.speech.transcript import Segment, Transcript, Word
from medialib.subtitles.cues import Cue, Track

LOW_WORD_P = 0.5          # a word under this probability counts as low
FLAG_MIN_WORD_P = 0.4     # "low-confidence" when a word is under this...
FLAG_MEAN_WORD_P = 0.75   # ...or the cue's mean word probability is
FLAG_DRIFT_FIT = 0.6      # "interpreter-drift" when the lag fit (0..1) is under this (1 sigma), or unmatched
FAST_WORDS_PER_S = 4.0    # more words a second than this in a cue's span is suspicious (invented words)

# The features, in the order of the weights. Each is 0 for a cue with nothing to say.
FEATURES = (
    "min_p_gap",         # 1 - the lowest word probability
    "mean_p_gap",        # 1 - the mean word probability
    "low_words",         # words under LOW_WORD_P
    "surprise",          # sum of -ln(word probability): near -ln P(every word right)
    "log_words",         # log(1 + words): every word is a chance to be wrong
    "fast_words",        # words per second over FAST_WORDS_PER_S
    "seg_logprob",       # -(the lowest avg_logprob of the cue's segments)
    "seg_no_speech",     # the highest no_speech_prob of the cue's segments
    "seg_compression",   # the highest compression ratio of the cue's segments, less 1
    "near_misses",       # distinct hallucination guards its segments nearly tripped, plus 1 for a fallback
    "rule_breaks",       # broken rules: reading speed, line length, lines, duration
)

# Fitted on bench/risk_rank.py's training clips (`bench/risk_rank.py --fit`), then frozen.
# 100 training cues (60% wrong), projected gradient descent with every weight >= 0; the
# weights at 0 (word count, segment statistics) added nothing on those clips: the batched
# decoder's segments span up to 30 s, too coarse to tell one cue from the next.
BIAS = -2.972
WEIGHTS = {"min_p_gap": 3.761, "mean_p_gap": 8.379, "low_words": 0.0, "surprise": 0.256, "log_words": 0.0,
           "fast_words": 0.5, "seg_logprob": 0.0, "seg_no_speech": 0.0, "seg_compression": 0.0,
           "near_misses": 0.119, "rule_breaks": 0.111}

# Set by hand (see the module docstring): added to the logit.
PRIOR_WEIGHTS = {
    "machine-translation": 1.0,   # the words' own risk carries over; the translation adds its own
    "interpreter-drift": 2.5,     # times (1 - fit): a cue far from the interpreter's usual lag
    "glossary": 3.0,              # per lost term
}


@dataclass(frozen=True)
class GlossaryMiss:
    """A glossary term missing from a translation: on the cue `cue_id`, or on the cues over start_ms..end_ms."""

    term: str
    cue_id: str = ""
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class CueAlignment:
    """How one interpretation cue was matched to the floor (translate/interpret.py).

    drift_ms: its group's lag minus the interpreter's local typical lag (None: matched to no
    floor sentence); fit: 0..1, exp(-drift^2 / 2 sigma^2), 0 when unmatched.
    """

    cue_id: str
    drift_ms: int | None
    fit: float


def score_track(track: Track, *, transcript: Transcript | None = None, alignment=None,
                glossary_violations: Iterable = (), rules: SubtitleRules | None = None) -> Track:
    """The track with every cue's risk (0..1) and flags set; cues a person edited get 0 and none.

    transcript: the words the cues were made from (or, for a machine translation, the source
    words: matched by time); alignment: an `Alignment` of translate/interpret.py (its
    `cues`, `CueAlignment`s by cue id); glossary_violations: `GlossaryMiss`es, or QC issues
    with `cue_id` and `suggestion`; rules: the rules the cues were cut with (no rule
    features without them).
    """
    feats = cue_features(track, transcript=transcript, rules=rules)
    per_cue_align = {a.cue_id: a for a in getattr(alignment, "cues", ()) or ()}
    misses = _misses_per_cue(track, glossary_violations)
    per_cue_words = cue_words(track, transcript.words) if transcript is not None else [[] for _ in track.cues]
    per_cue_segments = _cue_segments(track, per_cue_words, transcript.segments if transcript else ())
    out = []
    for cue, f, words, segs in zip(track.cues, feats, per_cue_words, per_cue_segments):
        if cue.origin == "human":
            out.append(replace(cue, risk=0.0, flags=()))
            continue
        z = BIAS + sum(WEIGHTS[name] * f[name] for name in FEATURES)
        flags = _flags(cue, f, words, segs, rules)
        origin = cue.origin or track.origin
        if origin == "machine-translation":
            z += PRIOR_WEIGHTS["machine-translation"]
            flags.append("machine-translation")
        if cue.id in per_cue_align:
            fit = per_cue_align[cue.id].fit
            z += PRIOR_WEIGHTS["interpreter-drift"] * (1.0 - fit)
            if fit < FLAG_DRIFT_FIT:
                flags.append("interpreter-drift")
        for term in misses.get(cue.id, ()):
            z += PRIOR_WEIGHTS["glossary"]
            flags.append(f"glossary:{term}")
        risk = round(1.0 / (1.0 + math.exp(-z)), 3)
        out.append(replace(cue, risk=risk, flags=tuple(dict.fromkeys(flags))))
    return replace(track, cues=tuple(out))


def cue_features(track: Track, *, transcript: Transcript | None = None,
                 rules: SubtitleRules | None = None) -> list[dict[str, float]]:
    """Per cue, the FEATURES by name (the model's inputs; the benchmark fits on them)."""
    words_per_cue = cue_words(track, transcript.words) if transcript is not None else [[] for _ in track.cues]
    segs_per_cue = _cue_segments(track, words_per_cue, transcript.segments if transcript else ())
    out = []
    for cue, words, segs in zip(track.cues, words_per_cue, segs_per_cue):
        f = dict.fromkeys(FEATURES, 0.0)
        if words:
            probs = [w.probability for w in words]
            f["min_p_gap"] = 1.0 - min(probs)
            f["mean_p_gap"] = 1.0 - sum(probs) / len(probs)
            f["low_words"] = float(sum(p < LOW_WORD_P for p in probs))
            f["surprise"] = sum(-math.log(max(p, 0.01)) for p in probs)
            f["log_words"] = math.log1p(len(words))
            span_s = max(max(w.end_ms for w in words) - words[0].start_ms, 1) / 1000
            f["fast_words"] = max(0.0, len(words) / max(span_s, 0.3) - FAST_WORDS_PER_S)
        if segs:
            f["seg_logprob"] = -min(s.avg_logprob for s in segs)
            f["seg_no_speech"] = max(s.no_speech_prob for s in segs)
            f["seg_compression"] = max(0.0, max(s.compression_ratio for s in segs) - 1.0)
            f["near_misses"] = float(len({m for s in segs for m in s.near_misses}) + any(s.temperature > 0 for s in segs))
        if rules is not None:
            f["rule_breaks"] = float(len(rule_breaks(cue, rules)))
        out.append(f)
    return out


def rule_breaks(cue: Cue, rules: SubtitleRules) -> list[str]:
    """The flags of the readability rules the cue breaks: "reading-speed", "too-long", "too-short"."""
    out = []
    if cue.chars * 1000 / cue.duration_ms > rules.max_cps + 1e-9:
        out.append("reading-speed")
    lines = cue.text.split("\n")
    if len(lines) > rules.max_lines or any(len(x) > rules.max_line_chars and " " in x.strip() for x in lines) \
            or cue.duration_ms > rules.max_duration_ms:
        out.append("too-long")
    if cue.duration_ms < rules.min_duration_ms:
        out.append("too-short")
    return out


def cue_words(track: Track, words: Sequence[Word]) -> list[list[Word]]:
    """The transcript words each cue shows, in order.

    Cues cut from these words (ASR, speech translation, interpretation) hold exactly their
    texts in order: matched by text. Otherwise (a machine translation, or a track edited
    since) by time: a word belongs to the cue its middle falls in.
    """
    clean = sorted((w for w in words if w.text.split()), key=lambda w: w.start_ms)
    by_text = _words_by_text(track.cues, clean)
    if by_text is not None:
        return by_text
    mids = [(w.start_ms + w.end_ms) // 2 for w in clean]
    out = []
    for cue in track.cues:
        a, b = bisect_left(mids, cue.start_ms), bisect_right(mids, cue.end_ms)
        out.append(clean[a:b])
    return out


def _words_by_text(cues: Sequence[Cue], words: Sequence[Word]) -> list[list[Word]] | None:
    out, i = [], 0
    for cue in cues:
        tokens = cue.text.split()
        got: list[Word] = []
        have: list[str] = []
        while len(have) < len(tokens) and i < len(words):
            got.append(words[i])
            have.extend(words[i].text.split())
            i += 1
        if have != tokens:
            return None
        out.append(got)
    return out if i == len(words) else None


def _cue_segments(track: Track, words_per_cue: Sequence[Sequence[Word]],
                  segments: Sequence[Segment]) -> list[list[Segment]]:
    """The Whisper segments each cue's words came from (by the words' own times; else the cue's)."""
    out = []
    for cue, words in zip(track.cues, words_per_cue):
        a, b = (words[0].start_ms, max(w.end_ms for w in words)) if words else (cue.start_ms, cue.end_ms)
        out.append([s for s in segments if s.start_ms <= b and a <= s.end_ms])
    return out


def _flags(cue: Cue, f: Mapping[str, float], words: Sequence[Word], segs: Sequence[Segment],
           rules: SubtitleRules | None) -> list[str]:
    flags = []
    if words and (1 - f["min_p_gap"] < FLAG_MIN_WORD_P or 1 - f["mean_p_gap"] < FLAG_MEAN_WORD_P):
        flags.append("low-confidence")
    if any(s.near_misses for s in segs):
        flags.append("guard-near-miss")
    if any(s.temperature > 0 for s in segs):
        flags.append("decoder-fallback")
    if rules is not None:
        flags.extend(rule_breaks(cue, rules))
    return flags


_VIOLATION = re.compile(r"^sentence (\d+) \([^)]*\): '.*' -> expected '(.*)'$")


def glossary_misses(violations: Iterable[str], spans: Sequence[tuple[int, int]]) -> tuple[GlossaryMiss, ...]:
    """translate_track's violation lines ("sentence 3 (00:00:12.400): 'witness' -> expected 'свидетель'")
    as misses over their sentence's time span; spans: (start_ms, end_ms) per sentence, in order."""
    out = []
    for line in violations:
        m = _VIOLATION.match(line)
        if m and 1 <= int(m.group(1)) <= len(spans):
            a, b = spans[int(m.group(1)) - 1]
            out.append(GlossaryMiss(m.group(2), start_ms=a, end_ms=b))
    return tuple(out)


def _misses_per_cue(track: Track, violations: Iterable) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in violations:
        if not isinstance(v, GlossaryMiss):  # a QC issue (subtitles/qc.py): cue_id and the term as suggestion
            if getattr(v, "rule", "glossary") != "glossary":
                continue
            v = GlossaryMiss(getattr(v, "suggestion", "") or getattr(v, "message", ""), cue_id=v.cue_id)
        if v.cue_id:
            ids = [v.cue_id]
        elif v.start_ms is not None:
            end = v.end_ms if v.end_ms is not None else v.start_ms
            ids = [c.id for c in track.cues if c.start_ms <= end and v.start_ms < c.end_ms]
        else:
            ids = []
        for cue_id in ids:
            out.setdefault(cue_id, []).append(v.term)
    return out
