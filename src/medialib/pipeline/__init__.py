"""The pipeline's stages over object storage, the records they pass, and the plan of which source makes each language."""

from __future__ import annotations

from .plan import AudioRole, LanguagePlan, check_audio_specs, floor_role, parse_audio_roles, plan_languages
from .records import Ingested, LadderResult, Published, TrackResult, TranscriptResult
from .stages import (
    argos_route_name,
    audio_stage,
    check_recording_path,
    check_request,
    cues_stage,
    fetch_original,
    glossary_prompt_terms,
    ingest_recording,
    interpretation_stage,
    ladder_stage,
    lecture_notes,
    lecture_report,
    machine_translation_stage,
    publish_stage,
    transcribe_stage,
    work_dir_for,
)
