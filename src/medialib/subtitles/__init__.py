"""Subtitles: cue and track records, readable cues from timed words, WebVTT/SRT in and out."""

from __future__ import annotations

from .cues import Cue, Track, track_from_dict, track_to_dict
from .formats import parse_subtitles, to_srt, to_webvtt
from .punctuation import ends_clause, ends_sentence
from .segment import (
    check_cues,
    merge_fast,
    merge_short,
    rebalance,
    segment_cues,
    split_by_clause,
    split_by_length,
    split_by_pause,
    split_by_sentence,
    time_cues,
    wrap_lines,
)
