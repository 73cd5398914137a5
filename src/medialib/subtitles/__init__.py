"""Subtitles: cue and track records, readable cues from timed words, WebVTT/SRT files in and out, QC."""

from __future__ import annotations

from .punctuation import ends_clause as ends_clause, ends_sentence as ends_sentence
from .cues import (
    Cue as Cue,
    Track as Track,
    cue_from_dict as cue_from_dict,
    cue_to_dict as cue_to_dict,
    track_from_dict as track_from_dict,
    track_to_dict as track_to_dict,
    with_ids as with_ids,
)
from .segment import (
    check_cues as check_cues,
    merge_fast as merge_fast,
    merge_short as merge_short,
    rebalance as rebalance,
    segment_cues as segment_cues,
    split_by_clause as split_by_clause,
    split_by_length as split_by_length,
    split_by_pause as split_by_pause,
    split_by_sentence as split_by_sentence,
    time_cues as time_cues,
    wrap_lines as wrap_lines,
)
from .codec import (
    ParsedCue as ParsedCue,
    SubtitleFileError as SubtitleFileError,
    decode_subtitles as decode_subtitles,
    find_cue_problems as find_cue_problems,
    match_ids as match_ids,
    parse_srt as parse_srt,
    parse_subtitles as parse_subtitles,
    parse_text as parse_text,
    parse_webvtt as parse_webvtt,
    read_subtitles as read_subtitles,
    to_srt as to_srt,
    to_webvtt as to_webvtt,
    write_subtitles as write_subtitles,
)
from .spelling import Speller as Speller, speller_for as speller_for
from .qc import (
    Issue as Issue,
    blocking as blocking,
    check_cue_dicts as check_cue_dicts,
    check_track as check_track,
    issue_to_dict as issue_to_dict,
    issues_by_cue as issues_by_cue,
    qc_rules_json as qc_rules_json,
)
from .risk import (
    CueAlignment as CueAlignment,
    GlossaryMiss as GlossaryMiss,
    cue_features as cue_features,
    cue_words as cue_words,
    glossary_misses as glossary_misses,
    rule_breaks as rule_breaks,
    score_track as score_track,
)
