"""The pipeline's stages over object storage, the records they pass, and the plan of which source makes each language."""

from __future__ import annotations

from .records import (
    Ingested as Ingested,
    LadderResult as LadderResult,
    Lecture as Lecture,
    LectureRequest as LectureRequest,
    PublishRecord as PublishRecord,
    Published as Published,
    RepublishFailure as RepublishFailure,
    TrackResult as TrackResult,
    TranscriptResult as TranscriptResult,
)
from .plan import (
    AudioRole as AudioRole,
    LanguagePlan as LanguagePlan,
    check_audio_specs as check_audio_specs,
    floor_role as floor_role,
    parse_audio_roles as parse_audio_roles,
    plan_languages as plan_languages,
)
from .versions import cache_version as cache_version
from .stages import (
    argos_route_name as argos_route_name,
    audio_stage as audio_stage,
    check_recording_path as check_recording_path,
    check_request as check_request,
    choose_published_track as choose_published_track,
    cues_stage as cues_stage,
    fetch_original as fetch_original,
    glossary_prompt_terms as glossary_prompt_terms,
    ingest_recording as ingest_recording,
    interpretation_stage as interpretation_stage,
    ladder_stage as ladder_stage,
    lecture_notes as lecture_notes,
    lecture_report as lecture_report,
    load_publish_record as load_publish_record,
    machine_translation_stage as machine_translation_stage,
    plan_lecture_languages as plan_lecture_languages,
    publish_stage as publish_stage,
    publish_subtitles as publish_subtitles,
    republish_failure as republish_failure,
    republish_lecture as republish_lecture,
    start_lecture as start_lecture,
    transcribe_stage as transcribe_stage,
    work_dir_for as work_dir_for,
)
