"""process_lecture: one recording in, a captioned HLS lecture published.

    ingest ─┬─ ladder (ffmpeg: video rungs, floor audio, interpreters' audio) ─────────────┐
            ├─ audio(floor) ┬─ transcribe ── cues ─┬─ per other language, the best source: ──┴─ publish
            └─ audio(interpreter) ─────────────────┘   interpretation | machine translation
                                                       | speech translation (to English)

Which source makes each language is the library's decision (`stages.plan_lecture_languages`);
this module only wires stages into tasks. Every stage but ingest and publish is cached on
content (sha256 of the original, the stage's settings and its cache version), and results
persist, so a run that died mid-way resumes without redoing finished stages. Only
TransientError is retried. Settings are read when a run starts, not at import.
"""

from __future__ import annotations

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from medialib.config import Settings, load_settings, medialib_home
from medialib.errors import is_transient, through_hiccups
from medialib.ids import options_digest
from medialib.pipeline import stages
from medialib.pipeline.chunked import wants_chunked_ladder as use_chunked_ladder
from medialib.pipeline.chunked import wants_windows as use_windows
from medialib.pipeline.records import Lecture, LectureRequest, Published, PublishRecord
from medialib.pipeline.versions import cache_version
from medialib.procs import die_with_parent, machine_slot
from medialib.recordjson import from_jsonable
from medialib.storage.embedded import resolve_storage

from .progress import reporter


def settings() -> Settings:
    """This run's settings (the config file and MEDIALIB_* variables as they are now)."""
    return load_settings()


def run_settings(config: dict | None) -> Settings:
    """This machine's settings, or the submitter's (config) with this machine's storage and cluster ones."""
    here = settings()
    if not config:
        return here
    keep = {name: getattr(here, name).model_dump() for name in ("storage", "embedded", "cluster")}
    return Settings.model_validate({**config, **keep})


def submitted_config(s: Settings) -> dict:
    """The settings a submitter sends with a run (no storage keys or endpoints)."""
    return s.model_dump(mode="json", exclude={"storage", "embedded", "cluster"})


class SettingsThreadPool(ThreadPoolTaskRunner):
    """A thread pool capped by `flow.task_workers`, read when the run starts.

    Prefect's default pool has no cap: mapped ffmpeg tasks would all start at once.
    """

    def __enter__(self):
        if self._max_workers is None or self._max_workers <= 0:
            self._max_workers = settings().flow.task_workers
        return super().__enter__()

    def __init__(self, max_workers: int | None = 0):
        super().__init__(max_workers=max_workers)

    def duplicate(self) -> SettingsThreadPool:
        return type(self)(max_workers=self._max_workers)


def _transient_only(task, task_run, state) -> bool:
    """Retry condition: only failures a retry can fix (network, throttling)."""
    try:
        state.result(raise_on_failure=True)
    except Exception as exc:  # noqa: BLE001 - we classify, not handle
        return is_transient(exc)
    return False


def _key(stage: str, *names: str):
    """cache_key_fn: the stage and its cache version, the content, and the settings that shape the output."""

    def key_fn(context, parameters) -> str:
        ing = parameters.get("ing")
        base = f"{stage}-{cache_version(stage)}-{ing.sha256}-{ing.lecture_id}" if ing else stage
        return f"{base}-{options_digest(*(parameters.get(n) for n in names))}"

    return key_fn


@task(name="ingest", retry_condition_fn=_transient_only)
def ingest_task(request: LectureRequest, opts) -> Lecture:
    return stages.start_lecture(request, opts, progress=reporter("ingest", get_run_logger()))


@task(name="ladder", cache_key_fn=_key("ladder", "ladder_opts", "roles"), persist_result=True,
      retry_condition_fn=_transient_only)
def ladder_task(ing, opts, ladder_opts, home: Path, roles):
    with machine_slot("encode", settings().flow.encoders_per_machine, home / "slots"):
        return stages.ladder_stage(ing, opts, ladder_opts, home, roles=roles,
                                   progress=reporter("ladder", get_run_logger()))


@task(name="audio", cache_key_fn=_key("audio", "audio_stream"), persist_result=True,
      retry_condition_fn=_transient_only)
def audio_task(ing, opts, home: Path, audio_stream: int):
    return stages.audio_stage(ing, opts, home, audio_stream=audio_stream,
                              progress=reporter("audio", get_run_logger()))


@task(name="peaks", cache_key_fn=_key("peaks", "audio_key"), persist_result=True,
      retry_condition_fn=_transient_only)
def peaks_task(ing, audio_key: str, opts, home: Path) -> str:
    return stages.peaks_stage(audio_key, ing.lecture_id, opts, home)


@task(name="transcribe", cache_key_fn=_key("transcribe", "audio_key", "speech_opts", "language", "task",
                                           "prompt_terms"),
      persist_result=True, retry_condition_fn=_transient_only)
def transcribe_task(ing, audio_key: str, opts, speech_opts, home: Path, language: str | None,
                    task: str = "transcribe", prompt_terms: tuple[str, ...] = ()):
    stage = "transcribe" if task == "transcribe" else "translate"
    with machine_slot("transcribe", settings().flow.transcribers_per_machine, home / "slots"):
        return stages.transcribe_stage(audio_key, ing.lecture_id, opts, speech_opts, home, language=language,
                                       task=task, prompt_terms=prompt_terms,
                                       progress=reporter(stage, get_run_logger()))


@task(name="cues", cache_key_fn=_key("cues", "transcript", "rules", "origin"), persist_result=True,
      retry_condition_fn=_transient_only)
def cues_task(ing, transcript, opts, rules, origin: str = "asr"):
    return stages.cues_stage(transcript, ing.lecture_id, opts, rules, origin=origin)


@task(name="interpretation", cache_key_fn=_key("interpretation", "floor", "interp", "rules", "max_lag_ms"),
      persist_result=True, retry_condition_fn=_transient_only)
def interpretation_task(ing, floor, interp, opts, rules, max_lag_ms: int):
    return stages.interpretation_stage(floor, interp, ing.lecture_id, opts, rules, max_lag_ms)


@task(name="machine-translation", cache_key_fn=_key("machine-translation", "floor", "dst", "rules", "tr_opts",
                                                    "route"),
      persist_result=True, retry_condition_fn=_transient_only)
def machine_translation_task(ing, floor, dst: str, opts, rules, tr_opts, route: str):
    return stages.machine_translation_stage(floor, dst, ing.lecture_id, opts, rules, tr_opts)


@task(name="publish", retry_condition_fn=_transient_only)
def publish_task(record: PublishRecord, opts, home: Path, unreviewed: str = "label") -> Published:
    return stages.publish_stage(record, opts, home, unreviewed=unreviewed,
                                progress=reporter("publish", get_run_logger()))


@task(name="trim-cache")
def trim_cache_task(work_opts, home: Path):
    return stages.after_lecture(work_opts, home)


def _beside(fn, *args, **kwargs):
    """fn in a thread of its own, in this flow run's context (so its tasks belong to the run); .result() waits."""
    ctx = contextvars.copy_context()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medialib-beside")
    future = pool.submit(ctx.run, fn, *args, **kwargs)
    pool.shutdown(wait=False)
    return future


def _with_retries(s: Settings):
    """The tasks above, with this run's retry settings."""
    retry = dict(retries=s.flow.retries, retry_delay_seconds=s.flow.retry_delays())
    return {t.name: t.with_options(**retry) for t in (ingest_task, ladder_task, audio_task, peaks_task, transcribe_task,
                                                      cues_task, interpretation_task, machine_translation_task,
                                                      publish_task)}


@flow(name="process-lecture", task_runner=SettingsThreadPool(), log_prints=False)
def process_lecture(source: str, title: str, language: str | None = None, speaker: str | None = None,
                    event: str | None = None, lecture_id: str | None = None,
                    audio: list[str] | None = None, event_date: str | None = None,
                    recorded_date: str | None = None, lecture: dict | None = None,
                    config: dict | None = None) -> Published:
    """Ingest, transcode, transcribe, translate and publish one recording; returns where learners find it.

    audio: stream roles, e.g. ["0:floor", "1:interpretation:ru"]; default: stream 0 is the floor.
    event_date, recorded_date: ISO dates (YYYY-MM-DD) the catalog shows and sorts by.
    lecture: a recording already ingested elsewhere (its Lecture record, as JSON): a run on a
    worker, which fetches the original from the archive. config: the submitter's settings,
    so every worker runs with the same ones (storage and cluster settings stay this machine's).
    """
    if os.environ.get("PREFECT__FLOW_RUN_ID"):   # a run started by a worker: it ends if the worker dies
        die_with_parent()
    if lecture is None:
        language = stages.check_request(Path(source), title, language=language, audio=audio or ())  # before any work
    event_date, recorded_date = stages.check_date(event_date, "event date"), stages.check_date(recorded_date,
                                                                                               "recorded date")
    s = run_settings(config)
    t = _with_retries(s)
    opts = resolve_storage(s)        # the embedded server starts here when no endpoint is configured
    home = medialib_home()
    request = LectureRequest(source=source, title=title, language=language, speaker=speaker, event=event,
                             lecture_id=lecture_id, audio=tuple(audio or ()), event_date=event_date,
                             recorded_date=recorded_date)
    lecture: Lecture = from_jsonable(Lecture, lecture) if lecture is not None else t["ingest"](request, opts)
    ing = lecture.ingested
    ladder_task_ = t["ladder"]
    # a cached result would name deleted renditions (read outside a task: its retries are here)
    if through_hiccups(lambda: stages.ladder_missing(ing, opts, s.ladder, lecture.roles), s.flow.retry_delays()):
        ladder_task_ = ladder_task_.with_options(refresh_cache=True)
    if use_chunked_ladder(ing.info, s.chunks):   # a long recording: a task per chunk, joined (flows/chunked.py)
        from .chunked import chunked_ladder

        ladder = _beside(chunked_ladder, ing, opts, s.ladder, s.chunks, home, lecture.roles, flow_opts=s.flow)
    else:
        ladder = ladder_task_.submit(ing, opts, s.ladder, home, lecture.roles)   # runs beside the speech chain
    transcript, tracks, plans, peaks = None, [], (), None
    if (floor := lecture.floor) is not None:
        floor_audio = t["audio"].submit(ing, opts, home, floor.stream)
        interp_audio = {r.language: t["audio"].submit(ing, opts, home, r.stream) for r in lecture.interpretations}
        if floor_audio.result():  # the review editor's waveform, beside transcription
            peaks = t["peaks"].submit(ing, floor_audio.result(), opts, home)
        terms = stages.glossary_prompt_terms(s.translation, floor.language)
        if use_windows(ing.info.duration_s, s.chunks):   # a long recording: a task per Whisper window, merged
            from .chunked import windowed_transcript

            transcript = windowed_transcript(ing, floor_audio.result(), opts, s.speech, s.chunks, home,
                                             floor.language, "transcribe", terms, flow_opts=s.flow)
        else:
            transcript = t["transcribe"](ing, floor_audio.result(), opts, s.speech, home, floor.language,
                                         "transcribe", terms)
        if (track := t["cues"](ing, transcript, opts, s.subtitles)) is not None:
            tracks.append(track)
            plans = stages.plan_lecture_languages(lecture, transcript, s.translation)
            for plan in plans:
                if plan.source == "interpretation":
                    spoken = t["transcribe"](ing, interp_audio[plan.language].result(), opts, s.speech, home,
                                             plan.language, "transcribe",
                                             stages.glossary_prompt_terms(s.translation, plan.language))
                    made = t["interpretation"](ing, transcript, spoken, opts, s.subtitles,
                                               s.translation.max_interpreter_lag_ms)
                elif plan.source == "machine-translation":
                    made = t["machine-translation"](ing, transcript, plan.language, opts, s.subtitles, s.translation,
                                                    plan.detail)
                elif plan.source == "speech-translation":
                    spoken = t["transcribe"](ing, floor_audio.result(), opts, s.speech, home, transcript.language,
                                             "translate", ())
                    made = t["cues"](ing, spoken, opts, s.subtitles, "speech-translation")
                else:   # asr (the floor, made above) or missing (reported in the record's plans)
                    made = None
                if made is not None:
                    tracks.append(made)
    if peaks is not None:
        peaks.result()  # a failure surfaces here, before publishing
    record = PublishRecord(lecture=lecture, ladder=ladder.result(), transcript=transcript, tracks=tuple(tracks),
                           plans=plans)
    try:
        return t["publish"](record, opts, home, s.review.unreviewed)
    finally:
        trim_cache_task(s.work, home)   # the local cache back under its cap, this lecture's folders included
