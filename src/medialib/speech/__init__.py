"""Speech: Whisper (faster-whisper) transcription into timed words, with hallucination guards."""

from __future__ import annotations

from .transcript import Transcript, Word
from .whisper import check_language, load_model, model_label, transcribe_audio, whisper_languages
