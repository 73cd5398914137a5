"""Staff browser uploads (/uploads): the page and the signing API @uppy/aws-s3 6.x calls.

    GET  /uploads                 the page (staff only)
    POST /api/uploads/prepare     {name, size_bytes, sha256, title, ...} -> {key, upload_id, complete, part_size_bytes}
    POST /api/uploads/sign        one S3 request {method, key, uploadId?, partNumber?} -> {url, key}
    POST /api/uploads/finish      {key} -> 202 {status: "verifying"}: the size and sha256 check runs in
                                  the background; a repeated call answers where it stands
    GET  /api/uploads/progress    ?key=K&key=... -> the inbox, the lecture runs, and where each K stands
                                  ("verifying", "ready", "mismatch" with what differs, "taken")

The browser talks to S3 itself (presigned URLs, no bytes through this server); the
library (medialib.ingest.uploads) names keys, signs and verifies. Every route needs a
staff session; state changes need the CSRF token (app.csrf_guard). Handlers are plain
`def`s: S3 calls block, so they run in the server's thread pool.

The check reads the whole object (tens of seconds for a multi-GB recording), so it runs
in a thread of this server (UploadChecks: one per key at a time, two at once), never in
a request. Its state lives in the sidecar, not here: a recording left "verifying" by a
server that stopped mid-check is checked again when the page next asks about it (a poll,
a repeated finish, the same file chosen again after a reload), or by
`medialib uploads cleanup` once no page is left to ask.
"""

from __future__ import annotations

import functools
import logging
import threading
import tomllib
from datetime import date
from pathlib import PurePosixPath

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from medialib import speech, storage
from medialib.errors import InputError, NotFoundError, PermissionDenied
from medialib.ingest import inbox, uploads
from medialib.pipeline.plan import check_audio_specs
from medialib.storage.serving import ensure_upload_cors

from .context import CurrentUser, ReviewState, current_user, review_state

log = logging.getLogger(__name__)

router = APIRouter()

STAFF = "staff"


def staff_user(user: CurrentUser = Depends(current_user)) -> CurrentUser:
    if user.role != STAFF:
        raise PermissionDenied(f"uploading recordings needs a staff account; {user.name} is a {user.role}")
    return user


class PrepareBody(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(min_length=64, max_length=64)
    title: str = Field("", max_length=300)
    speaker: str = Field("", max_length=300)
    language: str = Field("", max_length=16)
    audio: list[str] = Field(default_factory=list, max_length=16)
    event: str = Field("", max_length=300)
    event_date: date | None = None


class SignBody(BaseModel):
    method: str = Field(max_length=8)
    key: str = Field(max_length=400)
    uploadId: str | None = Field(None, max_length=1024)
    partNumber: int | None = None


class ManifestBody(BaseModel):
    text: str = Field(max_length=1 << 20)


class KeyBody(BaseModel):
    key: str = Field(max_length=400)


@functools.cache
def _presign_client(endpoint_url: str, opts_json: str):
    """A client whose endpoint is the address browsers reach (signatures name the host)."""
    from medialib.config import StorageOptions

    return storage.make_client(StorageOptions.model_validate_json(opts_json).model_copy(
        update={"endpoint_url": endpoint_url}))


def upload_endpoint(state: ReviewState) -> str:
    """Where browsers send upload requests: [uploads] public_endpoint_url, else the S3 endpoint."""
    return state.settings.uploads.public_endpoint_url or state.storage.endpoint_url


def _clients(state: ReviewState):
    opts = state.storage
    return storage.make_client(opts), _presign_client(upload_endpoint(state), opts.model_dump_json())


class UploadChecks:
    """The size and sha256 checks this server runs in background threads: one per key at a time.

    start() is cheap and may be called for every poll: a key already being checked is
    left alone. A check that fails for a passing reason (S3 unreachable) leaves the
    sidecar "verifying", and the next start() tries again.
    """

    def __init__(self, storage_opts, *, at_once: int = 2):
        self._opts = storage_opts
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._slots = threading.BoundedSemaphore(at_once)
        self.started = 0                     # checks started (tests count them)

    def running(self, key: str) -> bool:
        with self._lock:
            return key in self._running

    def start(self, key: str) -> bool:
        """Check key in the background unless that is under way; True when a check started."""
        with self._lock:
            if key in self._running:
                return False
            self._running.add(key)
            self.started += 1
        threading.Thread(target=self._run, args=(key,), name="medialib-upload-check", daemon=True).start()
        return True

    def _run(self, key: str) -> None:
        try:
            with self._slots:
                uploads.verify_upload(storage.make_client(self._opts), self._opts.archive_bucket, key)
        except InputError as e:              # a mismatch (recorded for the page), or the upload vanished
            log.info("upload check %s: %s", key, e)
        except Exception:                    # noqa: BLE001 - a thread's error would vanish; the next poll retries
            log.exception("upload check %s failed; it stays \"verifying\" and is tried again when asked", key)
        finally:
            with self._lock:
                self._running.discard(key)


def install(app, state: ReviewState) -> None:
    """Add the routes and the archive bucket's CORS rule for uploads."""
    ensure_upload_cors(storage.make_client(state.storage), state.storage.archive_bucket,
                       state.settings.uploads.cors_allowed_origins)
    app.state.upload_checks = UploadChecks(state.storage)
    app.include_router(router)


def _status(request: Request, client, key: str) -> dict:
    """Where key stands; a "verifying" one that no thread here checks (a restarted server) is checked again."""
    out = uploads.upload_status(client, review_state(request).storage.archive_bucket, key)
    if out["status"] == inbox.VERIFYING:
        request.app.state.upload_checks.start(key)
    return out


@router.get("/uploads", response_class=HTMLResponse)
def uploads_page(request: Request, user: CurrentUser = Depends(staff_user)):
    state = review_state(request)
    ul = state.settings.uploads
    return request.app.state.render(request, "uploads.html", user=user,
                                    part_size_bytes=ul.part_size_mb << 20, max_size_bytes=int(ul.max_size_gb * 1e9))


@router.get("/api/uploads/progress")
def uploads_progress(request: Request, key: list[str] = Query([], max_length=50),
                     user: CurrentUser = Depends(staff_user)) -> dict:
    """What happens to uploaded recordings: those still in the inbox, the lectures' runs in Prefect,
    and where each upload named by ?key= stands (the page asks for those it is waiting on)."""
    state = review_state(request)
    client = storage.make_client(state.storage)
    waiting, _ = inbox.list_inbox(client, state.storage.archive_bucket)
    return {"inbox": [{"name": PurePosixPath(c.key).name, "size_bytes": c.size_bytes,
                       "since": c.last_modified.isoformat()} for c in waiting],
            "uploads": {k: _status(request, client, k) for k in dict.fromkeys(key)},
            "runs": lecture_runs()}


def lecture_runs(limit: int = 30) -> list[dict] | None:
    """The newest lecture runs on Prefect's server (None when none is configured: runs are local)."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return None
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["medialib"])),
                                     sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
    out = []
    for r in runs:
        lecture = next((t.split(":", 1)[1] for t in r.tags if t.startswith("lecture:")), None)
        if lecture is None:
            continue
        out.append({"lecture": lecture, "run": r.name, "state": r.state.type.value if r.state else "PENDING",
                    "state_name": r.state.name if r.state else "", "message": (r.state.message or "") if r.state else "",
                    "started": r.start_time.isoformat() if r.start_time else None,
                    "seconds": round(r.total_run_time.total_seconds()) if r.total_run_time else 0})
    return out


class RunBody(BaseModel):
    lecture: str = Field(min_length=1, max_length=200)


@router.post("/api/uploads/cancel")
def cancel_runs(body: RunBody, request: Request, user: CurrentUser = Depends(staff_user)) -> dict:
    """Stop a lecture's waiting or running runs on the workers (as `medialib lectures cancel`)."""
    from medialib.ids import check_lecture_id

    check_lecture_id(body.lecture)
    _need_server()
    from medialib_flows.cluster import cancel_lecture

    return {"cancelled": cancel_lecture(body.lecture)}


@router.post("/api/uploads/retry")
def retry_run(body: RunBody, request: Request, user: CurrentUser = Depends(staff_user)) -> dict:
    """Run a lecture again on the workers with its last run's parameters (finished stages are reused)."""
    from medialib.ids import check_lecture_id

    check_lecture_id(body.lecture)
    _need_server()
    from medialib_flows.cluster import retry_lecture

    return {"run": retry_lecture(body.lecture)}


def _need_server() -> None:
    import os

    if not os.environ.get("PREFECT_API_URL"):
        raise InputError("no Prefect server is configured here: lectures run on this machine "
                         "(`medialib inbox watch`); stop or start them there")


@router.post("/api/uploads/prepare")
def prepare(body: PrepareBody, request: Request, user: CurrentUser = Depends(staff_user)):
    state = review_state(request)
    ul = state.settings.uploads
    title = body.title.strip() or inbox.title_from_name(body.name)
    language = speech.check_language(body.language.strip() or None)
    audio = tuple(a.strip() for a in body.audio if a.strip())
    check_audio_specs(audio)
    side = inbox.Sidecar(title=title, speaker=body.speaker.strip() or None, language=language, audio=audio,
                         event=body.event.strip() or None,
                         event_date=body.event_date.isoformat() if body.event_date else None, uploaded_by=user.name)
    client, _ = _clients(state)
    plan = uploads.prepare_upload(client, state.storage.archive_bucket, name=body.name, size_bytes=body.size_bytes,
                                  sha256=body.sha256, sidecar=side, max_size_bytes=int(ul.max_size_gb * 1e9))
    return {"key": plan.key, "upload_id": plan.upload_id, "complete": plan.complete,
            "part_size_bytes": ul.part_size_mb << 20}


@router.post("/api/uploads/sign")
def sign(body: SignBody, request: Request, user: CurrentUser = Depends(staff_user)):
    state = review_state(request)
    client, presign = _clients(state)
    bucket = state.storage.archive_bucket
    side = uploads.read_pending(client, bucket, body.key)     # only keys prepared here
    if side.status != inbox.UPLOADING:
        raise InputError(f"{uploads.display_name(body.key)}: already uploaded ({side.status}); nothing to send")
    return uploads.sign_request(presign, bucket, body.model_dump(exclude_none=True),
                                expires_s=state.settings.uploads.presign_expiry_s)


@router.post("/api/uploads/finish", status_code=202)
def finish(body: KeyBody, request: Request, response: Response, user: CurrentUser = Depends(staff_user)):
    """The page's upload is complete: mark it "verifying", start the check, answer at once (202).

    Repeated (a retried request, a reloaded page): where it stands, 200 once decided
    ("ready", or "mismatch" with what differed), 202 while still "verifying".
    """
    state = review_state(request)
    client, _ = _clients(state)
    try:
        uploads.begin_finish(client, state.storage.archive_bucket, body.key)
    except NotFoundError:
        out = uploads.upload_status(client, state.storage.archive_bucket, body.key)
        if out["status"] != "mismatch":      # never prepared, or not complete yet
            raise
        response.status_code = 200
        return out
    out = _status(request, client, body.key)
    if out["status"] != inbox.VERIFYING:
        response.status_code = 200
    return out


def read_manifest(text: str) -> dict:
    """An event manifest's details by recording file name, for the page to fill its rows.

    The issue's format: [event] name, date; [[recording]] file, title, speaker, language,
    audio. Only what the page shows is read; the whole event is validated where it runs.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"manifest: not valid TOML ({e}); fix it and choose it again") from None
    event = data.get("event") or {}
    if not isinstance(event, dict):
        raise InputError("manifest: [event] must be a table with name and date")
    recordings = {}
    for i, rec in enumerate(data.get("recording") or [], 1):
        if not isinstance(rec, dict) or not isinstance(rec.get("file"), str) or not rec["file"].strip():
            raise InputError(f"manifest: recording {i} has no file = \"...\"; name the recording's file")
        audio = rec.get("audio") or []
        audio = [audio] if isinstance(audio, str) else audio
        if not isinstance(audio, list) or not all(isinstance(a, str) for a in audio):
            raise InputError(f"manifest: recording {i} ({rec['file']}): audio must be a list like [\"0:floor\"]")
        check_audio_specs(audio)
        recordings[PurePosixPath(rec["file"].replace("\\", "/")).name] = {
            k: str(rec.get(k) or "") for k in ("title", "speaker", "language")} | {"audio": audio}
    day = event.get("date")
    return {"event": str(event.get("name") or ""), "event_date": day.isoformat() if hasattr(day, "isoformat")
            else str(day or ""), "recordings": recordings}


@router.post("/api/uploads/manifest")
def manifest(body: ManifestBody, user: CurrentUser = Depends(staff_user)):
    return read_manifest(body.text)
