"""Risk scores of cues on hand-made cues, words and Whisper segment statistics (no Whisper)."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest

from medialib.config import load_settings
from medialib.speech.transcript import Segment, Transcript, Word
from medialib.speech.whisper import near_misses, segment_stats
from medialib.subtitles import Cue, Track, cue_to_dict, segment_cues
from medialib.subtitles.risk import (
    CueAlignment,
    GlossaryMiss,
    cue_features,
    cue_words,
    glossary_misses,
    rule_breaks,
    score_track,
)

SETTINGS = load_settings(environ={})
RULES, OPTS = SETTINGS.subtitles, SETTINGS.speech


def words(text: str, start_ms: int = 0, probs=None) -> list[Word]:
    out = []
    for i, token in enumerate(text.split()):
        p = probs[i] if probs else 0.95
        out.append(Word(start_ms + i * 400, start_ms + i * 400 + 300, token, p))
    return out


def transcript(ws, segments=()) -> Transcript:
    return Transcript("en", 1.0, 60_000, tuple(ws), "whisper-base", segments=tuple(segments))


def asr_track(ws) -> Track:
    return Track("en", "asr", segment_cues(ws, RULES), model="whisper-base")


SURE = words("Ask open questions.", 0)
UNSURE = words("The pawn broker in it switch.", 5000, probs=[0.9, 0.3, 0.25, 0.6, 0.2, 0.4])


def test_a_cue_with_unsure_words_outranks_a_sure_one_and_says_why():
    ws = SURE + UNSURE
    track = score_track(asr_track(ws), transcript=transcript(ws), rules=RULES)
    sure, unsure = track.cues
    assert 0.0 <= sure.risk < 0.3 < 0.9 < unsure.risk <= 1.0
    assert sure.flags == () and "low-confidence" in unsure.flags
    assert [c.id for c in track.cues] == ["c00001", "c00002"]


def test_scores_are_deterministic_and_in_the_json_form():
    ws = SURE + UNSURE
    a = score_track(asr_track(ws), transcript=transcript(ws), rules=RULES)
    b = score_track(asr_track(ws), transcript=transcript(ws), rules=RULES)
    assert a == b
    d = cue_to_dict(a.cues[1])
    assert d["risk"] == a.cues[1].risk and d["flags"] == list(a.cues[1].flags)


def test_segment_near_misses_raise_risk_and_are_flagged():
    ws = SURE
    calm = Segment(0, 1200, -0.2, 0.05, 1.4)
    shaky = Segment(0, 1200, -0.9, 0.5, 2.2, temperature=0.2, near_misses=("no-speech", "log-prob"))
    low = score_track(asr_track(ws), transcript=transcript(ws, [calm]), rules=RULES).cues[0]
    high = score_track(asr_track(ws), transcript=transcript(ws, [shaky]), rules=RULES).cues[0]
    assert high.risk > low.risk
    assert {"guard-near-miss", "decoder-fallback"} <= set(high.flags)
    assert "guard-near-miss" not in low.flags


def test_rule_breaks_are_flagged():
    fast = Cue(0, 1000, "This cue says far too much\nfor one second on screen")
    long_line = Cue(0, 4000, "x " * 30 + "end")
    assert rule_breaks(fast, RULES) == ["reading-speed"]
    assert "too-long" in rule_breaks(long_line, RULES)
    assert rule_breaks(Cue(0, 500, "Hi."), RULES) == ["too-short"]
    track = score_track(Track("en", "asr", (fast,)), rules=RULES)
    assert "reading-speed" in track.cues[0].flags


def test_machine_translation_glossary_and_drift():
    cues = (Cue(0, 2000, "Задавайте вопросы."), Cue(3000, 5000, "Показания очевидца."))
    mt = Track("ru", "machine-translation", cues)
    scored = score_track(mt, glossary_violations=[GlossaryMiss("свидетель", start_ms=3100, end_ms=4000)])
    first, second = scored.cues
    assert "machine-translation" in first.flags and "glossary:свидетель" in second.flags
    assert second.risk > first.risk

    interp = Track("ru", "interpretation", cues)
    alignment = NS(cues=(CueAlignment("c00001", 30, 1.0), CueAlignment("c00002", 2600, 0.14)))
    steady, drifted = score_track(interp, alignment=alignment).cues
    assert "interpreter-drift" in drifted.flags and "interpreter-drift" not in steady.flags
    assert drifted.risk > steady.risk


def test_qc_issues_count_as_glossary_misses():
    track = Track("ru", "machine-translation", (Cue(0, 2000, "Вопросы."),))
    issue = NS(cue_id="c00001", rule="glossary", suggestion="свидетель", message="")
    other = NS(cue_id="c00001", rule="cps", suggestion="", message="too fast")
    assert score_track(track, glossary_violations=[issue, other]).cues[0].flags == (
        "machine-translation", "glossary:свидетель")


def test_translate_track_violation_lines_become_timed_misses():
    lines = ["sentence 2 (00:00:03.000): 'witness' -> expected 'свидетель'", "something else"]
    assert glossary_misses(lines, [(0, 2000), (3000, 5000)]) == (GlossaryMiss("свидетель", start_ms=3000, end_ms=5000),)


def test_a_cue_a_person_edited_has_no_risk():
    ws = UNSURE
    track = asr_track(ws)
    edited = Track("en", "asr", (Cue(track.cues[0].start_ms, track.cues[0].end_ms, "The pawnbroker in Ipswich.",
                                     id=track.cues[0].id, origin="human", editor="anna", version=2),))
    cue = score_track(edited, transcript=transcript(ws), rules=RULES).cues[0]
    assert (cue.risk, cue.flags) == (0.0, ())


def test_words_are_found_by_text_then_by_time():
    ws = SURE + UNSURE
    track = asr_track(ws)
    assert [[w.text for w in c] for c in cue_words(track, ws)] == [[w.text for w in SURE], [w.text for w in UNSURE]]
    other = Track("ru", "machine-translation", (Cue(0, 1300, "Задавайте вопросы."),))
    assert [w.text for w in cue_words(other, ws)[0]] == ["Ask", "open", "questions."]


def test_features_are_zero_without_evidence():
    f = cue_features(Track("en", "asr", (Cue(0, 2000, "Hello there."),)))[0]
    assert set(f.values()) == {0.0}


def test_segment_stats_note_near_misses():
    seg = NS(text=" Thank you.", avg_logprob=-0.8, no_speech_prob=0.45, compression_ratio=2.1, temperature=0.4,
             words=[NS(probability=0.25)])
    assert near_misses(seg, OPTS) == ("no-speech", "log-prob", "compression-ratio", "word-probability",
                                      "known-phrase")
    calm = NS(text=" Ask open questions.", avg_logprob=-0.2, no_speech_prob=0.02, compression_ratio=1.3,
              temperature=0.0, words=[NS(probability=0.9)])
    assert near_misses(calm, OPTS) == ()
    s = segment_stats(seg, [Word(100, 400, "Thank", 0.25), Word(400, 900, "you.", 0.2)], OPTS, offset_ms=300_000)
    assert (s.start_ms, s.end_ms, s.temperature) == (300_100, 300_900, 0.4)


def test_transcript_json_keeps_segments_and_reads_old_json():
    seg = Segment(0, 1200, -0.31234, 0.05, 1.4, 0.0, ("log-prob",))
    t = transcript(SURE, [seg])
    back = Transcript.from_json(json.loads(json.dumps(t.to_json())))
    assert back.segments == (Segment(0, 1200, -0.3123, 0.05, 1.4, 0.0, ("log-prob",)),)
    old = t.to_json()
    del old["segments"]
    assert Transcript.from_json(old).segments == ()


def test_segment_rejects_inverted_times():
    with pytest.raises(ValueError, match="ends"):
        Segment(500, 100, -0.2, 0.1, 1.2)
