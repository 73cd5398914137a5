"""Speech: Whisper (faster-whisper) transcription into timed words, with hallucination guards."""

from __future__ import annotations

from .transcript import Segment as Segment, Transcript as Transcript, Word as Word
from .whisper import (
    BundledWhisper as BundledWhisper,
    check_language as check_language,
    find_bundled_whisper as find_bundled_whisper,
    load_model as load_model,
    model_label as model_label,
    near_misses as near_misses,
    segment_stats as segment_stats,
    transcribe_audio as transcribe_audio,
    whisper_languages as whisper_languages,
)
