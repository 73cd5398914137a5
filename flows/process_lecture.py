"""process_lecture: one recording in, a captioned HLS lecture published.

    ingest ─┬─ ladder (ffmpeg) ─────────────────────────────┐
            └─ audio ── transcribe (Whisper) ── cues ───────┴─ publish

Every stage but ingest and publish is cached on content (sha256 of the original plus
the stage's settings), and results persist, so a run that died mid-way resumes
without redoing finished stages. Only TransientError is retried.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from medialib import stages
from medialib.config import Settings, load_settings, medialib_home
from medialib.embedded import resolve_storage
from medialib.errors import is_transient
from medialib.ids import options_digest

from .progress import reporter


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def _transient_only(task, task_run, state) -> bool:
    """Retry condition: only failures a retry can fix (network, throttling)."""
    try:
        state.result(raise_on_failure=True)
    except Exception as exc:  # noqa: BLE001 - we classify, not handle
        return is_transient(exc)
    return False


_RETRY = dict(retries=settings().flow.retries, retry_delay_seconds=settings().flow.retry_delay_s,
              retry_condition_fn=_transient_only)


def _key(stage: str, *names: str):
    """cache_key_fn: the stage, the content, and the settings that shape the output."""

    def key_fn(context, parameters) -> str:
        ing = parameters.get("ing")
        base = f"{stage}-{ing.sha256}-{ing.lecture_id}" if ing else stage
        return f"{base}-{options_digest(*(parameters.get(n) for n in names))}"

    return key_fn


@task(name="ingest", **_RETRY)
def ingest_task(path: str, title: str, opts, lecture_id: str | None):
    return stages.ingest_recording(Path(path), title, opts, lecture_id=lecture_id,
                                   progress=reporter("ingest", get_run_logger()))


@task(name="ladder", cache_key_fn=_key("ladder", "ladder_opts", "audio_stream"), persist_result=True, **_RETRY)
def ladder_task(ing, opts, ladder_opts, home: Path, audio_stream: int):
    return stages.ladder_stage(ing, opts, ladder_opts, home, audio_stream=audio_stream,
                               progress=reporter("ladder", get_run_logger()))


@task(name="audio", cache_key_fn=_key("audio", "audio_stream"), persist_result=True, **_RETRY)
def audio_task(ing, opts, home: Path, audio_stream: int):
    return stages.audio_stage(ing, opts, home, audio_stream=audio_stream,
                              progress=reporter("audio", get_run_logger()))


@task(name="transcribe", cache_key_fn=_key("transcribe", "audio_key", "speech_opts", "language"),
      persist_result=True, **_RETRY)
def transcribe_task(ing, audio_key: str, opts, speech_opts, home: Path, language: str | None):
    return stages.transcribe_stage(audio_key, ing.lecture_id, opts, speech_opts, home, language=language,
                                   progress=reporter("transcribe", get_run_logger()))


@task(name="cues", cache_key_fn=_key("cues", "transcript", "rules"), persist_result=True, **_RETRY)
def cues_task(ing, transcript, opts, rules):
    return stages.cues_stage(transcript, ing.lecture_id, opts, rules)


@task(name="publish", **_RETRY)
def publish_task(ing, title, speaker, event, ladder, tracks, transcript, notes, opts, home: Path, language):
    return stages.publish_stage(ing, title, speaker, event, ladder, tracks, transcript, notes, opts, home,
                                language=language, progress=reporter("publish", get_run_logger()))


@flow(name="process-lecture", task_runner=ThreadPoolTaskRunner(max_workers=settings().flow.task_workers),
      log_prints=False)
def process_lecture(source: str, title: str, language: str | None = None, speaker: str | None = None,
                    event: str | None = None, lecture_id: str | None = None, audio_stream: int = 0) -> stages.Published:
    """Ingest, transcode, transcribe and publish one recording; returns where learners find it."""
    s = settings()
    opts = resolve_storage(s)        # the embedded server starts here when no endpoint is configured
    home = medialib_home()
    ing = ingest_task(source, title, opts, lecture_id)
    ladder = ladder_task.submit(ing, opts, s.ladder, home, audio_stream)   # runs beside the speech chain
    transcript = track = None
    if ing.info.has_audio:
        audio_key = audio_task(ing, opts, home, audio_stream)
        transcript = transcribe_task(ing, audio_key, opts, s.speech, home, language)
        track = cues_task(ing, transcript, opts, s.subtitles)
    notes = stages.lecture_notes(ing, transcript, track)
    return publish_task(ing, title, speaker, event, ladder.result(), (track,) if track else (), transcript,
                        notes, opts, home, language)
