"""An event handed over in one step: a manifest (TOML) or a folder of recordings.

    manifest.toml | folder ──load_manifest / scan_folder──> EventManifest (+ what looked wrong)
                                   ──validate_event──> EventManifest, every recording checked,
                                                       or one InputError listing every problem

The manifest's form:

    [event]
    name = "OSCE workshop, Ankara, day 1"
    date = 2026-11-28
    [[recording]]
    file = "room-a/0900-interviewing.mp4"     # relative to the manifest's folder
    title = "Допрос свидетеля"
    speaker = "..."
    language = "ru"
    audio = ["0:floor", "1:interpretation:en"]
    recorded_date = 2026-11-28                # optional
    lecture_id = "..."                        # optional

Validation reports all problems at once (a missing file, an unknown language, a bad
audio role, a duplicate title or file, a bad date, a misspelt key, no recordings), each
line naming the recording by its number and file, so staff fix the manifest in one pass
and nothing is started until it is right. Only a file's existence is checked here; the
media probe runs at ingest, per recording.

`published_unchanged` tells a re-run which recordings are already published from the
same bytes with the same details, so they are skipped without ingesting again.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from medialib import keys, storage
from medialib.config import StorageOptions
from medialib.errors import InputError, MedialibError, NotFoundError
from medialib.ids import LECTURE_ID_RE, file_sha256
from medialib.pipeline.plan import check_audio_specs
from medialib.pipeline.records import LectureRequest

MANIFEST_NAMES = ("manifest.toml", "event.toml")   # looked for, in this order, beside a folder's recordings
# What a folder scan takes as a recording (by extension; ffprobe decides at ingest whether it really is one).
MEDIA_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts",
    ".3gp", ".mxf", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".wma",
})
EVENT_KEYS = frozenset({"name", "date"})
RECORDING_KEYS = frozenset({"file", "title", "speaker", "language", "audio", "recorded_date", "lecture_id"})
TOP_KEYS = frozenset({"event", "recording"})


@dataclass(frozen=True)
class RecordingSpec:
    """One recording of an event and what staff said about it."""

    file: Path                      # resolved
    title: str
    speaker: str | None = None
    language: str | None = None     # spoken language; None: detected
    audio: tuple[str, ...] = ()     # stream roles, e.g. ("0:floor", "1:interpretation:en")
    event: str | None = None
    event_date: str | None = None   # ISO date
    recorded_date: str | None = None
    lecture_id: str | None = None
    index: int = 0                  # 1-based position in the manifest (or the folder's sorted listing)
    label: str = ""                 # the file as the manifest wrote it, for messages

    @property
    def name(self) -> str:
        """How messages and the summary name this recording: its number and file."""
        return f"recording {self.index} ({self.label or self.file.name})"

    def request(self) -> LectureRequest:
        return LectureRequest(source=str(self.file), title=self.title, language=self.language, speaker=self.speaker,
                              event=self.event, lecture_id=self.lecture_id, audio=self.audio,
                              event_date=self.event_date, recorded_date=self.recorded_date)


@dataclass(frozen=True)
class EventManifest:
    name: str | None
    date: str | None                # ISO date, or as written until validated
    recordings: tuple[RecordingSpec, ...]
    source: Path                    # the manifest file, or the folder that was scanned
    problems: tuple[str, ...] = field(default=(), compare=False)   # found while reading; validate_event reports them


def readable_title(stem: str) -> str:
    """A title from a file name: separators become spaces, a leading number (ordering, a time) is dropped.

    "0900-interviewing" -> "Interviewing", "02_Допрос_свидетеля" -> "Допрос свидетеля", "2026-11-28" -> "2026 11 28".
    """
    words = [w for w in re.split(r"[\s_.\-]+", stem) if w]
    while words and words[0].isdigit() and not all(w.isdigit() for w in words):   # "2026-11-28" stays a date
        words = words[1:]
    text = " ".join(words) or stem
    return text[:1].upper() + text[1:]


def _text(value, what: str, problems: list[str], where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{where}: {what} must be text in quotes, got {value!r}")
        return None
    return value.strip() or None


def _date_text(value, what: str, problems: list[str], where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):   # TOML's own date (date = 2026-11-28); a datetime counts by its day
        return value.isoformat()[:10]
    if isinstance(value, str):
        return value.strip() or None
    problems.append(f"{where}: {what} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-28")
    return None


def _unknown(table: dict, known: frozenset[str], where: str, problems: list[str]) -> None:
    for k in sorted(set(table) - known):
        problems.append(f"{where}: unknown key {k!r}; the keys are {', '.join(sorted(known))}")


def load_manifest(path: Path) -> EventManifest:
    """Read a manifest; problems (unknown keys, wrong types) are kept for validate_event, not raised.

    Only a file that is not TOML at all raises here. `file` paths are relative to the
    manifest's folder. A recording without a title gets one from its file name.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise NotFoundError(f"{path}: no such manifest; check the path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a valid TOML manifest: {e}; see the form in `medialib event process --help`") \
            from None
    problems: list[str] = []
    _unknown(data, TOP_KEYS, path.name, problems)
    event = data.get("event", {})
    if not isinstance(event, dict):
        problems.append(f"{path.name}: [event] must be a table with name and date")
        event = {}
    _unknown(event, EVENT_KEYS, "[event]", problems)
    name = _text(event.get("name"), "name", problems, "[event]")
    when = _date_text(event.get("date"), "date", problems, "[event]")
    rows = data.get("recording", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        problems.append(f"{path.name}: recordings must be [[recording]] tables")
        rows = []
    recordings = []
    for i, row in enumerate(rows, start=1):
        label = row.get("file") if isinstance(row.get("file"), str) else ""
        where = f"recording {i} ({label})" if label else f"recording {i}"
        _unknown(row, RECORDING_KEYS, where, problems)
        file = _text(row.get("file"), "file", problems, where)
        if file is None:
            problems.append(f"{where}: no file; say which recording, e.g. file = \"room-a/0900-talk.mp4\"")
            continue
        audio = row.get("audio", [])
        if isinstance(audio, str):
            audio = [audio]
        if not isinstance(audio, list) or not all(isinstance(a, str) for a in audio):
            problems.append(f"{where}: audio must be a list of roles, e.g. audio = [\"0:floor\", \"1:interpretation:en\"]")
            audio = []
        resolved = (path.parent / Path(file).expanduser()).resolve()
        recordings.append(RecordingSpec(
            file=resolved, title=_text(row.get("title"), "title", problems, where) or readable_title(resolved.stem),
            speaker=_text(row.get("speaker"), "speaker", problems, where),
            language=_text(row.get("language"), "language", problems, where), audio=tuple(audio), event=name,
            event_date=when, recorded_date=_date_text(row.get("recorded_date"), "recorded_date", problems, where),
            lecture_id=_text(row.get("lecture_id"), "lecture_id", problems, where), index=i, label=file))
    return EventManifest(name=name, date=when, recordings=tuple(recordings), source=path.resolve(),
                         problems=tuple(problems))


def _media_files(folder: Path) -> list[Path]:
    """Media files under the folder (subfolders too), hidden ones skipped, in name order."""
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES and not any(part.startswith(".") for part in rel.parts):
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def scan_folder(folder: Path) -> EventManifest:
    """One recording per media file; a manifest.toml (or event.toml) beside them gives their details.

    Without a manifest the event is named after the folder and titles come from file
    names (two files that would get one title keep their whole names). With one, media
    files it does not list are added with titles from their names, so nothing in the
    folder is silently left out.
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such folder; check the path")
    manifest_path = next((folder / n for n in MANIFEST_NAMES if (folder / n).is_file()), None)
    if manifest_path is not None:
        base = load_manifest(manifest_path)
    else:
        base = EventManifest(name=readable_title(folder.name), date=None, recordings=(), source=folder)
    listed = {r.file for r in base.recordings}
    extra = [p for p in _media_files(folder) if p.resolve() not in listed]
    titles = [readable_title(p.stem) for p in extra]
    taken = [t.casefold() for t in titles] + [r.title.casefold() for r in base.recordings]
    added = []
    for n, (p, title) in enumerate(zip(extra, titles), start=len(base.recordings) + 1):
        if taken.count(title.casefold()) > 1:
            title = " ".join(w for w in re.split(r"[\s_]+", p.stem) if w) or p.stem
        added.append(RecordingSpec(file=p.resolve(), title=title, event=base.name, event_date=base.date, index=n,
                                   label=p.relative_to(folder).as_posix()))
    return replace(base, recordings=base.recordings + tuple(added))


def read_event(path: Path) -> EventManifest:
    """A manifest file or a folder, validated (InputError listing every problem)."""
    path = Path(path).expanduser()
    return validate_event(scan_folder(path) if path.is_dir() else load_manifest(path))


def _check_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-28") from None


def _check_language(code: str | None) -> str | None:
    """Like speech.check_language, with a short message (one line per recording, not 100 codes each)."""
    if code is None:
        return None
    from medialib.speech import whisper_languages

    norm = code.strip().lower()
    if norm not in whisper_languages():
        raise InputError(f"language {code!r}: not a language Whisper knows; use a code such as en, ru, tr, de")
    return norm


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise InputError("is a folder, not a recording")
    if not path.is_file():
        raise NotFoundError("no such file; check the path (relative to the manifest's folder)")


def _duplicates(recordings: Iterable[RecordingSpec], key, what: str) -> list[str]:
    seen: dict[object, RecordingSpec] = {}
    out = []
    for r in recordings:
        k = key(r)
        if k is None:
            continue
        if k in seen:
            out.append(f"{r.name}: the same {what} as {seen[k].name}; each recording needs its own")
        else:
            seen[k] = r
    return out


def _same_content(recordings: Iterable[RecordingSpec]) -> list[str]:
    """Two files with the same bytes: one lecture (ingest names it by content), so two runs would collide.

    Only files of equal size are hashed, so a usual event (every size different) costs a stat each.
    """
    by_size: dict[int, list[RecordingSpec]] = {}
    for r in {r.file: r for r in reversed(tuple(recordings))}.values():   # one per path, the first kept
        if r.file.is_file():
            by_size.setdefault(r.file.stat().st_size, []).append(r)
    same = [r for group in by_size.values() if len(group) > 1 for r in group]
    digests = {r.file: file_sha256(r.file) for r in same}
    return _duplicates(sorted(same, key=lambda r: r.index), lambda r: digests[r.file],
                       "content (the same bytes)")


def validate_event(manifest: EventManifest) -> EventManifest:
    """Check every recording; the manifest normalised (languages lower case, ISO dates), or one InputError.

    The error lists every problem, one per line, each naming the recording; nothing is
    started while any remains.
    """
    problems = list(manifest.problems)
    try:
        event_date = _check_date(manifest.date)
    except InputError as e:
        problems.append(f"[event] date {e}")
        event_date = None
    if not manifest.recordings:
        problems.append("no recordings: add [[recording]] tables with a file each, or put media files in the folder")
    checked = []
    for r in manifest.recordings:
        fixed = {}
        try:
            _check_file(r.file)
        except MedialibError as e:
            problems.append(f"{r.name}: {e}")
        if not r.title.strip():
            problems.append(f"{r.name}: a title is required; add title = \"...\"")
        try:
            fixed["language"] = _check_language(r.language)
        except InputError as e:
            problems.append(f"{r.name}: {e}")
        try:
            check_audio_specs(r.audio)
        except InputError as e:
            problems.append(f"{r.name}: {e}".replace("--audio ", "audio "))
        try:
            fixed["recorded_date"] = _check_date(r.recorded_date)
        except InputError as e:
            problems.append(f"{r.name}: recorded_date {e}")
        if r.lecture_id is not None and not LECTURE_ID_RE.fullmatch(r.lecture_id):
            problems.append(f"{r.name}: lecture_id {r.lecture_id!r} is not a valid id; use lower-case letters, "
                            "digits and '-' (at most 80 characters)")
        checked.append(replace(r, event_date=event_date, **fixed))
    problems += _duplicates(manifest.recordings, lambda r: r.file, "file")
    problems += _duplicates(manifest.recordings, lambda r: " ".join(r.title.split()).casefold() or None, "title")
    problems += _duplicates(manifest.recordings, lambda r: r.lecture_id, "lecture_id")
    problems += _same_content(manifest.recordings)
    if problems:
        n = len(problems)
        raise InputError(f"{manifest.source}: {n} problem{'s' if n != 1 else ''}, nothing was started:\n  "
                         + "\n  ".join(problems))
    return replace(manifest, date=event_date, recordings=tuple(checked), problems=())


# The request fields a re-run compares: the same bytes published with these unchanged is not redone.
DETAIL_FIELDS = ("title", "language", "speaker", "event", "audio", "event_date", "recorded_date")


def published_unchanged(spec: RecordingSpec, sha256: str, opts: StorageOptions, client=None) -> str | None:
    """The lecture id when these bytes are already published with the same details; else None.

    Three small reads: the sha256 index (which lecture these bytes are), the publish
    record (what it was published from: the same sha256 and details?), and the bundle's
    master playlist (still published?). A change of settings (ladder, speech model) is
    not seen here: `medialib process` the recording to apply it.
    """
    client = client or storage.make_client(opts)
    index = storage.get_bytes(client, opts.archive_bucket, keys.sha256_index(sha256))
    if index is None:
        return None
    lecture_id = json.loads(index).get("lecture_id")
    if spec.lecture_id and spec.lecture_id != lecture_id:
        lecture_id = spec.lecture_id
    if not lecture_id:
        return None
    data = storage.get_bytes(client, opts.archive_bucket, keys.publish_record(lecture_id))
    if data is None:
        return None
    try:
        lecture = json.loads(data)["record"]["lecture"]
        request, published_sha = lecture["request"], lecture["ingested"]["sha256"]
    except (KeyError, TypeError, ValueError):
        return None
    if published_sha != sha256:
        return None
    wanted = spec.request()
    for name in DETAIL_FIELDS:
        have = request.get(name)
        want = getattr(wanted, name)
        if name == "audio":
            have, want = tuple(have or ()), tuple(want)
        if have != want:
            return None
    if storage.get_bytes(client, opts.publish_bucket, f"{keys.bundle_prefix(lecture_id)}/master.m3u8") is None:
        return None
    return lecture_id


STATUSES = ("published", "skipped", "failed")


@dataclass(frozen=True)
class RecordingOutcome:
    """What became of one recording in an event run; the summary table's row."""

    index: int
    file: str                       # as the manifest named it
    title: str
    status: str                     # published | skipped (already published, unchanged) | failed
    detail: str                     # the player URL, or why it failed / was skipped
    seconds: float
    lecture_id: str | None = None
    user_fault: bool = False        # failed for the recording's own reason (InputError): fix it, then retry

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")


@dataclass(frozen=True)
class EventSummary:
    event: str | None
    source: str                     # the manifest or folder
    outcomes: tuple[RecordingOutcome, ...]   # in manifest order

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> tuple[RecordingOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")


def failure_outcome(spec: RecordingSpec, exc: BaseException, seconds: float) -> RecordingOutcome:
    """A failed recording's row: the error's own message (it says what to do next)."""
    message = str(exc) if isinstance(exc, MedialibError) else f"{type(exc).__name__}: {exc}"
    return RecordingOutcome(index=spec.index, file=spec.label or spec.file.name, title=spec.title, status="failed",
                            detail=message, seconds=round(seconds, 1), lecture_id=spec.lecture_id,
                            user_fault=isinstance(exc, InputError))
