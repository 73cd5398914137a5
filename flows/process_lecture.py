"""process_lecture: one recording in, a captioned HLS lecture published.

    ingest ─┬─ ladder (ffmpeg: video rungs, floor audio, interpreters' audio) ─────────────┐
            ├─ audio(floor) ── transcribe ── cues ─┬─ per other language, the best source: ──┴─ publish
            └─ audio(interpreter) ─────────────────┘   interpretation | machine translation
                                                       | speech translation (to English)

Every stage but ingest and publish is cached on content (sha256 of the original plus
the stage's settings), and results persist, so a run that died mid-way resumes
without redoing finished stages. Only TransientError is retried.
"""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from medialib.config import Settings, load_settings, medialib_home
from medialib.errors import is_transient
from medialib.ids import options_digest
from medialib.pipeline import stages
from medialib.pipeline.plan import floor_role, parse_audio_roles, plan_languages
from medialib.storage.embedded import resolve_storage

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


@task(name="ladder", cache_key_fn=_key("ladder", "ladder_opts", "roles"), persist_result=True, **_RETRY)
def ladder_task(ing, opts, ladder_opts, home: Path, roles):
    return stages.ladder_stage(ing, opts, ladder_opts, home, roles=roles,
                               progress=reporter("ladder", get_run_logger()))


@task(name="audio", cache_key_fn=_key("audio", "audio_stream"), persist_result=True, **_RETRY)
def audio_task(ing, opts, home: Path, audio_stream: int):
    return stages.audio_stage(ing, opts, home, audio_stream=audio_stream,
                              progress=reporter("audio", get_run_logger()))


@task(name="transcribe", cache_key_fn=_key("transcribe", "audio_key", "speech_opts", "language", "task",
                                           "prompt_terms"),
      persist_result=True, **_RETRY)
def transcribe_task(ing, audio_key: str, opts, speech_opts, home: Path, language: str | None,
                    task: str = "transcribe", prompt_terms: tuple[str, ...] = ()):
    stage = "transcribe" if task == "transcribe" else "translate"
    return stages.transcribe_stage(audio_key, ing.lecture_id, opts, speech_opts, home, language=language, task=task,
                                   prompt_terms=prompt_terms, progress=reporter(stage, get_run_logger()))


@task(name="cues", cache_key_fn=_key("cues", "transcript", "rules", "origin"), persist_result=True, **_RETRY)
def cues_task(ing, transcript, opts, rules, origin: str = "asr"):
    return stages.cues_stage(transcript, ing.lecture_id, opts, rules, origin=origin)


@task(name="interpretation", cache_key_fn=_key("interpretation", "floor", "interp", "rules", "max_lag_ms"),
      persist_result=True, **_RETRY)
def interpretation_task(ing, floor, interp, opts, rules, max_lag_ms: int):
    return stages.interpretation_stage(floor, interp, ing.lecture_id, opts, rules, max_lag_ms)


@task(name="machine-translation", cache_key_fn=_key("mt", "floor", "dst", "rules", "tr_opts", "route"),
      persist_result=True, **_RETRY)
def machine_translation_task(ing, floor, dst: str, opts, rules, tr_opts, route: str):
    return stages.machine_translation_stage(floor, dst, ing.lecture_id, opts, rules, tr_opts)


@task(name="publish", **_RETRY)
def publish_task(ing, title, speaker, event, ladder, tracks, transcript, notes, opts, home: Path, language, plans,
                 roles):
    return stages.publish_stage(ing, title, speaker, event, ladder, tracks, transcript, notes, opts, home,
                                language=language, plans=plans, audio_roles=roles,
                                progress=reporter("publish", get_run_logger()))


@flow(name="process-lecture", task_runner=ThreadPoolTaskRunner(max_workers=settings().flow.task_workers),
      log_prints=False)
def process_lecture(source: str, title: str, language: str | None = None, speaker: str | None = None,
                    event: str | None = None, lecture_id: str | None = None,
                    audio: list[str] | None = None) -> stages.Published:
    """Ingest, transcode, transcribe, translate and publish one recording; returns where learners find it.

    audio: stream roles, e.g. ["0:floor", "1:interpretation:ru"]; default: stream 0 is the floor.
    """
    language = stages.check_request(Path(source), title, language=language, audio=audio or ())  # before any work
    s = settings()
    opts = resolve_storage(s)        # the embedded server starts here when no endpoint is configured
    home = medialib_home()
    ing = ingest_task(source, title, opts, lecture_id)
    roles = parse_audio_roles(audio or (), ing.info, language)
    ladder = ladder_task.submit(ing, opts, s.ladder, home, roles)   # runs beside the speech chain
    floor = floor_role(roles)
    transcript = track = None
    tracks, plans = [], ()
    if floor is not None:
        floor_audio = audio_task.submit(ing, opts, home, floor.stream)
        interp_audio = {r.stream: audio_task.submit(ing, opts, home, r.stream)
                        for r in roles if r.role == "interpretation"}
        terms = stages.glossary_prompt_terms(s.translation, floor.language)
        transcript = transcribe_task(ing, floor_audio.result(), opts, s.speech, home, floor.language,
                                     "transcribe", terms)
        track = cues_task(ing, transcript, opts, s.subtitles)
        if track is not None:
            tracks.append(track)
            route = partial(stages.argos_route_name, s.translation)
            plans = plan_languages(transcript.language, s.translation.languages,
                                   [r for r in roles if r.role == "interpretation"], route)
            for plan in plans:
                if plan.source == "interpretation":
                    role = next(r for r in roles if r.role == "interpretation" and r.language == plan.language)
                    interp = transcribe_task(ing, interp_audio[role.stream].result(), opts, s.speech, home,
                                             role.language, "transcribe",
                                             stages.glossary_prompt_terms(s.translation, role.language))
                    made = interpretation_task(ing, transcript, interp, opts, s.subtitles,
                                               s.translation.max_interpreter_lag_ms)
                elif plan.source == "machine-translation":
                    made = machine_translation_task(ing, transcript, plan.language, opts, s.subtitles,
                                                    s.translation, plan.detail)
                elif plan.source == "speech-translation":
                    spoken = transcribe_task(ing, floor_audio.result(), opts, s.speech, home, transcript.language,
                                             "translate", ())
                    made = cues_task(ing, spoken, opts, s.subtitles, "speech-translation")
                else:
                    made = None
                if made is not None:
                    tracks.append(made)
    notes = stages.lecture_notes(ing, transcript, track, plans)
    return publish_task(ing, title, speaker, event, ladder.result(), tuple(tracks), transcript, notes, opts, home,
                        language, plans, roles)
