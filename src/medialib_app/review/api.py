"""The JSON API the editor uses (/api/...), as /work/review-plan.md fixes it.

All routes need a session (401 JSON otherwise); state changes need X-CSRF-Token (app.py).
Versions are written through medialib.review.store (via tracks.py), whose conditional create
is the stale-base check (409 with the newer version); the database keeps locks, drafts,
workflow states, comments and the audit log. Handlers are plain `def`s: they run in
the server's thread pool, since S3 and the database are blocking calls.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medialib.errors import ConflictError, InputError, NotFoundError
from medialib.ids import check_lecture_id
from medialib.review import TrackVersion, VersionConflict, next_state
from medialib.subtitles import cue_to_dict, track_to_dict

from . import tracks as lib
from .context import CurrentUser, ReviewState, current_user, review_state
from .db import transaction, utcnow
from .models import Audit, Comment, Draft, Lock, TrackState

router = APIRouter(prefix="/api")

MAX_CUES = 20_000
MAX_UPLOAD_BYTES = 5 << 20
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
CUE_ID = r"^[A-Za-z0-9_-]{0,32}$"   # "" = the whole track; ids are "c00001" (machine) or "n" + hex (the editor's)


class LockHeld(InputError):
    """Someone else is editing: 423 with the holder; the page opens read-only."""

    http_status = 423

    def __init__(self, holder: str, expires_at: str):
        super().__init__(f"being edited by {holder}; opened read-only until the lock is released or expires")
        self.body = {"holder": holder, "expires_at": expires_at}


class VersionConflictResponse(InputError):
    http_status = 409

    def __init__(self, conflict: VersionConflict):
        super().__init__(str(conflict))
        v = conflict.latest
        self.body = {"latest": {"version": v.number, "author": v.author, "created_at": v.created_at,
                                "track": track_to_dict(v.track)} if v else None}


class DraftBody(BaseModel):
    base_version: int | None = None
    cues: list[dict] = Field(max_length=MAX_CUES)


class SaveBody(DraftBody):
    message: str = Field("", max_length=2000)


class CuesBody(BaseModel):
    cues: list[dict] = Field(max_length=MAX_CUES)


class ActionBody(BaseModel):
    base_version: int | None = None
    comment: str = Field("", max_length=5000)
    cue_id: str = Field("", pattern=CUE_ID)   # the cue the comment is about ("" = the whole track)


class CommentBody(BaseModel):
    cue_id: str = Field("", pattern=CUE_ID)
    text: str = Field(min_length=1, max_length=5000)


def check_ids(lecture_id: str, lang: str) -> None:
    check_lecture_id(lecture_id)
    if not _LANG.fullmatch(lang):
        raise InputError(f"language {lang!r}: use a tag like 'en' or 'ru'")


def audit(db: Session, actor: str, action: str, lecture: str = "", lang: str = "", version: int | None = None,
          detail: str = "") -> None:
    db.add(Audit(at=utcnow(), actor=actor, action=action, lecture=lecture, lang=lang, version=version,
                 detail=detail))


# --- locks -------------------------------------------------------------------------------------------------

def _lock_dict(lock: Lock | None, me: str) -> dict | None:
    if lock is None or lock.expires <= utcnow():
        return None
    out = {"holder": lock.holder, "expires_at": lock.expires.isoformat(timespec="seconds"), "mine": lock.holder == me}
    if out["mine"]:   # which take of the lock this is: a release names it (see lock_release)
        out["token"] = lock.heartbeat.isoformat(timespec="microseconds")
    return out


def take_lock(db: Session, lecture: str, lang: str, user: str, ttl_s: int) -> Lock:
    """Take the lock or renew it (heartbeat); LockHeld when someone else's has not expired."""
    now = utcnow()
    lock = db.scalar(select(Lock).where(Lock.lecture == lecture, Lock.lang == lang).with_for_update())
    if lock is not None and lock.holder != user and lock.expires > now:
        raise LockHeld(lock.holder, lock.expires.isoformat(timespec="seconds"))
    if lock is None:
        lock = Lock(lecture=lecture, lang=lang, holder=user, heartbeat=now, expires=now)
        db.add(lock)
    lock.holder, lock.heartbeat, lock.expires = user, now, now + timedelta(seconds=ttl_s)
    db.flush()
    return lock


def _require_no_other_lock(db: Session, lecture: str, lang: str, user: str) -> None:
    lock = db.scalar(select(Lock).where(Lock.lecture == lecture, Lock.lang == lang))
    if lock is not None and lock.holder != user and lock.expires > utcnow():
        raise LockHeld(lock.holder, lock.expires.isoformat(timespec="seconds"))


@router.post("/lectures/{lecture_id}/{lang}/lock")
def lock_take(lecture_id: str, lang: str, user: CurrentUser = Depends(current_user),
              st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    for attempt in range(3):
        try:
            with transaction(st.db) as db:
                fresh = _lock_dict(db.scalar(select(Lock).where(Lock.lecture == lecture_id, Lock.lang == lang)),
                                   user.name)
                lock = take_lock(db, lecture_id, lang, user.name, st.settings.review.lock_ttl_s)
                if not fresh or not fresh["mine"]:
                    audit(db, user.name, "lock", lecture_id, lang)
                return _lock_dict(lock, user.name)
        except (StaleDataError, OperationalError):
            # a release of the same row committed between our read and our write (a reloaded
            # editor's old page releasing while the new one takes it): read again
            if attempt == 2:
                raise


@router.delete("/lectures/{lecture_id}/{lang}/lock")
def lock_release(lecture_id: str, lang: str, token: str = "", user: CurrentUser = Depends(current_user),
                 st: ReviewState = Depends(review_state)):
    """Release the user's lock; with token, only if no later take or heartbeat renewed it.

    A reloaded editor takes the lock again while the old page's release (sent as it
    unloads) may still be on its way; the token keeps that late release from freeing it.
    """
    check_ids(lecture_id, lang)
    with transaction(st.db) as db:
        lock = db.scalar(select(Lock).where(Lock.lecture == lecture_id, Lock.lang == lang, Lock.holder == user.name))
        n = 0
        if lock is not None and (not token or token == lock.heartbeat.isoformat(timespec="microseconds")):
            # one statement: a take that renewed the lock since the read above keeps it
            n = db.execute(delete(Lock).where(Lock.id == lock.id, Lock.holder == user.name,
                                              Lock.heartbeat == lock.heartbeat)).rowcount
        if n:
            audit(db, user.name, "unlock", lecture_id, lang)
    return {"released": bool(n)}


# --- reading -----------------------------------------------------------------------------------------------

def _state_row(db: Session, lecture: str, lang: str) -> TrackState | None:
    return db.scalar(select(TrackState).where(TrackState.lecture == lecture, TrackState.lang == lang))


def _sync_state(db: Session, lecture: str, lang: str, latest: TrackVersion | None, actor: str) -> TrackState:
    """The workflow row, caught up with versions written elsewhere (the pipeline's machine versions, the CLI)."""
    row = _state_row(db, lecture, lang)
    if row is None:
        row = TrackState(lecture=lecture, lang=lang, state="machine", version=None, last_author="", risky_count=0,
                         updated_by=actor, updated=utcnow())
        db.add(row)
    if latest is not None and (row.version or 0) < latest.number:
        row.version, row.last_author = latest.number, latest.author
        row.risky_count = lib.risky_count(latest.track)
        if latest.kind == "human" and row.state == "machine":
            row.state = "draft"
    db.flush()
    return row


@router.get("/lectures/{lecture_id}/peaks")
def get_peaks(lecture_id: str, user: CurrentUser = Depends(current_user), st: ReviewState = Depends(review_state)):
    check_lecture_id(lecture_id)
    data = lib.peaks(st.storage, lecture_id)
    if data is None:
        raise NotFoundError(f"{lecture_id}: no waveform peaks stored; process the lecture again to make them")
    return Response(data, media_type="application/json", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/lectures/{lecture_id}/{lang}")
def open_track(lecture_id: str, lang: str, user: CurrentUser = Depends(current_user),
               st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    opts = st.storage
    summary = lib.lecture_summary(lecture_id, opts)
    if lang not in summary["languages"]:
        raise NotFoundError(f"{lecture_id} has no {lang} subtitles; it has {', '.join(summary['languages']) or 'none'}")
    lib.ensure_machine_version(opts, lecture_id, lang)
    versions = lib.list_versions(opts, lecture_id, lang)
    head_n = lib.head_number(versions)
    latest = lib.load_version(opts, lecture_id, lang, head_n) if head_n else None
    track = latest.track if latest else lib.machine_track(lecture_id, lang, opts)
    src = lib.source_track(opts, lecture_id, lang)
    source = {"language": src.language, "cues": [cue_to_dict(c) for c in src.cues]} if src else None
    with transaction(st.db) as db:
        row = _sync_state(db, lecture_id, lang, latest, user.name)
        draft = db.scalar(select(Draft).where(Draft.user == user.name, Draft.lecture == lecture_id,
                                              Draft.lang == lang))
        lock = db.scalar(select(Lock).where(Lock.lecture == lecture_id, Lock.lang == lang))
        comments = [_comment_dict(c) for c in db.scalars(
            select(Comment).where(Comment.lecture == lecture_id, Comment.lang == lang).order_by(Comment.id))]
        return _json({
            "lecture": {k: summary[k] for k in ("id", "title", "master_url", "duration_ms", "languages")},
            "version": latest.number if latest else None,
            "state": row.state,
            "track": track_to_dict(track) if track else None,
            "source": source,
            "draft": {"base_version": draft.base_version, "cues": draft.cues,
                      "updated_at": draft.updated.isoformat(timespec="seconds")} if draft else None,
            "lock": _lock_dict(lock, user.name),
            "rules": lib.qc_rules(st.settings, lang),
            "peaks_url": f"/api/lectures/{lecture_id}/peaks",
            "comments": comments,
            "machine_version": lib.machine_version_number(versions),
            "user": {"name": user.name, "role": user.role},
        })


@router.get("/lectures/{lecture_id}/{lang}/versions")
def versions_list(lecture_id: str, lang: str, user: CurrentUser = Depends(current_user),
                  st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    return lib.list_versions(st.storage, lecture_id, lang)


@router.get("/lectures/{lecture_id}/{lang}/versions/{n}")
def version_get(lecture_id: str, lang: str, n: int, user: CurrentUser = Depends(current_user),
                st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    v = lib.load_version(st.storage, lecture_id, lang, n)
    return _json({**lib.version_meta(v), "lecture_id": lecture_id, "language": lang,
                  "track": track_to_dict(v.track)})


# --- drafts and versions -----------------------------------------------------------------------------------

@router.put("/lectures/{lecture_id}/{lang}/draft")
def draft_save(lecture_id: str, lang: str, body: DraftBody, user: CurrentUser = Depends(current_user),
               st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    now = utcnow()
    with transaction(st.db) as db:
        d = db.scalar(select(Draft).where(Draft.user == user.name, Draft.lecture == lecture_id, Draft.lang == lang))
        if d is None:
            d = Draft(user=user.name, lecture=lecture_id, lang=lang, cues=[], updated=now)
            db.add(d)
        d.base_version, d.cues, d.updated = body.base_version, body.cues, now
    return {"saved_at": now.isoformat(timespec="milliseconds")}


def save_version(st: ReviewState, db_factory, lecture_id: str, lang: str, cues: list[dict], *, base: int | None,
                 user: CurrentUser, message: str = "", action: str = "save", force: bool = False,
                 check_lock: bool = True) -> TrackVersion:
    """Write the next version from the editor's (or a file's) cues; the web app and the CLI share it.

    force: write on top of the newest version whatever base says (the CLI's --force).
    """
    opts = st.storage
    with transaction(db_factory) as db:
        if check_lock:
            _require_no_other_lock(db, lecture_id, lang, user.name)
        row = _state_row(db, lecture_id, lang)
        next_state(row.state if row else "machine", "save", role=user.role, actor=user.name)
    if force:
        base = lib.head_number(lib.list_versions(opts, lecture_id, lang))
    like = lib.load_version(opts, lecture_id, lang, base).track if base else None
    try:   # per-cue provenance (who changed which cue, in which version) is the library's
        v = lib.create_version(opts, lecture_id, lang, lib.track_from_cues(cues, lang, like), base=base,
                               author=user.name, kind="human", message=message)
    except VersionConflict as e:
        with transaction(db_factory) as db:
            audit(db, user.name, "conflict", lecture_id, lang, base, str(e))
        raise VersionConflictResponse(e) from None
    with transaction(db_factory) as db:
        row = _sync_state(db, lecture_id, lang, None, user.name)
        if (row.version or 0) < v.number:
            row.version, row.last_author, row.risky_count = v.number, v.author, lib.risky_count(v.track)
        # a save during review stays in review (a reviewer's own fixes); otherwise it is a draft
        row.state = next_state(row.state, "save", role=user.role, actor=user.name)
        row.updated_by, row.updated = user.name, utcnow()
        audit(db, user.name, action, lecture_id, lang, v.number, message)
        db.execute(delete(Draft).where(Draft.user == user.name, Draft.lecture == lecture_id, Draft.lang == lang))
    return v


@router.post("/lectures/{lecture_id}/{lang}/versions")
def version_create(lecture_id: str, lang: str, body: SaveBody, user: CurrentUser = Depends(current_user),
                   st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    v = save_version(st, st.db, lecture_id, lang, body.cues, base=body.base_version, user=user, message=body.message)
    # Only the cues this version stamped (new or changed: their provenance is new); the editor holds
    # the rest already, and repeating a 1,500-cue track on every save cost more than the save.
    changed = [cue_to_dict(c) for c in v.track.cues if c.version == v.number]
    return _json({"version": v.number, "changed": changed})


def _json(data, status: int = 200) -> Response:
    """Plain json.dumps for big cue lists: FastAPI's jsonable_encoder walks every value first (~10x slower)."""
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), status_code=status,
                    media_type="application/json")


@router.post("/lectures/{lecture_id}/{lang}/qc")
def qc(lecture_id: str, lang: str, body: CuesBody, user: CurrentUser = Depends(current_user),
       st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    source = lib.source_track(st.storage, lecture_id, lang)
    return {"issues": lib.check_cues(body.cues, st.settings, lang, source=source)}


# --- workflow ----------------------------------------------------------------------------------------------

def do_action(st: ReviewState, lecture_id: str, lang: str, action: str, *, user: CurrentUser,
              base: int | None, comment: str = "", cue_id: str = "") -> dict:
    """send | approve | return | publish | publish_unreviewed on the head version; audited.

    A comment with send, approve or return is kept as a comment on cue_id ("" = the whole track)
    and comes back in the answer's "comment".
    """
    opts = st.storage
    versions = lib.list_versions(opts, lecture_id, lang)
    latest_n = lib.head_number(versions)
    if base is not None and base != latest_n:
        latest = lib.load_version(opts, lecture_id, lang, latest_n) if latest_n else None
        raise VersionConflictResponse(VersionConflict(
            f"{lecture_id} {lang}: you acted on version {base}, but the one in review is {latest_n}"
            + (f" ({latest.author}, {latest.created_at})" if latest else "") + "; reload and try again", latest))
    if latest_n is None:
        raise InputError(f"{lecture_id} {lang}: no version to {action}; save one first")
    with transaction(st.db) as db:
        if action == "send":
            _require_no_other_lock(db, lecture_id, lang, user.name)
        row = _sync_state(db, lecture_id, lang, None, user.name)
        observed = row.state
        new_state = next_state(row.state, action, role=user.role, actor=user.name,
                               last_author=lib.last_human_author(versions))
    if action in ("approve", "publish", "publish_unreviewed"):   # only overlaps and bad times block
        problems = lib.blocking(lib.load_version(opts, lecture_id, lang, latest_n).track, st.settings)
        if problems:
            raise InputError(f"cannot {action.replace('_', ' ')}: {len(problems)} blocking problems, e.g. cue "
                             f"{problems[0].cue_id}: {problems[0].message}")
        published = lib.publish(opts, st.settings, st.home, lecture_id, lang, latest_n,
                                approved=action == "publish", by=user.name)
        detail = (f"{'published without a second review' if action == 'publish_unreviewed' else 'published'}; "
                  f"{published.uploaded_count} files sent ({published.uploaded_bytes} bytes, "
                  f"{published.video_bytes} of them video)")
    else:
        detail = comment
    with transaction(st.db) as db:
        # compare-and-set: two reviewers pressing approve and return at once cannot both win
        changed = db.execute(update(TrackState).where(TrackState.lecture == lecture_id, TrackState.lang == lang,
                                                      TrackState.state == observed)
                             .values(state=new_state, updated_by=user.name, updated=utcnow())).rowcount
        if not changed:
            raise ConflictError(f"{lecture_id} {lang}: someone changed its state while you acted; reload and try again")
        added = None
        if comment.strip() and action in ("return", "approve", "send"):
            added = Comment(lecture=lecture_id, lang=lang, cue_id=cue_id, author=user.name, text=comment,
                            created=utcnow(), resolved=False)
            db.add(added)
            db.flush()
            detail = f"cue {cue_id or '-'}: {comment}"
        audit(db, user.name, action, lecture_id, lang, latest_n, detail)
        return {"state": new_state, "version": latest_n, "comment": _comment_dict(added) if added else None}


@router.post("/lectures/{lecture_id}/{lang}/actions/{action}")
def action(lecture_id: str, lang: str, action: str, body: ActionBody, user: CurrentUser = Depends(current_user),
           st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    if action not in ("send", "approve", "return", "publish"):
        raise NotFoundError(f"no action {action!r}; use send, approve, return or publish")
    return do_action(st, lecture_id, lang, action, user=user, base=body.base_version, comment=body.comment,
                     cue_id=body.cue_id)


# --- files -------------------------------------------------------------------------------------------------

@router.get("/lectures/{lecture_id}/{lang}/export")
def export(lecture_id: str, lang: str, format: str = "srt", version: int | None = None,
           user: CurrentUser = Depends(current_user), st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    if format not in ("srt", "vtt"):
        raise InputError(f"format {format!r}: use srt or vtt")
    v = lib.load_version(st.storage, lecture_id, lang, version) if version else \
        lib.head_version(st.storage, lecture_id, lang)
    if v is None:
        raise NotFoundError(f"{lecture_id} {lang}: no versions yet; open it in the editor first")
    text = lib.encode_file(v.track, format, note=version_note(lecture_id, lang, v.number))
    name = f"{lecture_id}.{lang}.v{v.number}.{format}"
    return Response(text.encode("utf-8"), media_type="text/vtt; charset=utf-8" if format == "vtt"
                    else "application/x-subrip; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\"",
                             "X-Medialib-Version": str(v.number)})


def version_note(lecture_id: str, lang: str, n: int) -> str:
    """The NOTE line a pulled VTT carries, read back by a push: which version the file was made from."""
    return f"medialib lecture={lecture_id} language={lang} version={n}"


@router.post("/lectures/{lecture_id}/{lang}/import")
def import_file(lecture_id: str, lang: str, file: UploadFile = File(...), encoding: str = Form(""),
                user: CurrentUser = Depends(current_user), st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{file.filename}: over {MAX_UPLOAD_BYTES >> 20} MB; is it a subtitle file?")
    summary = lib.lecture_summary(lecture_id, st.storage)
    track, _ = lib.read_file(data, file.filename or "upload", lang, st.settings, encoding=encoding or None,
                             duration_ms=summary["duration_ms"])
    head = lib.head_number(lib.list_versions(st.storage, lecture_id, lang))
    cues = [cue_to_dict(c) for c in track.cues]
    with transaction(st.db) as db:
        d = db.scalar(select(Draft).where(Draft.user == user.name, Draft.lecture == lecture_id, Draft.lang == lang))
        if d is None:
            d = Draft(user=user.name, lecture=lecture_id, lang=lang, cues=[], updated=utcnow())
            db.add(d)
        d.base_version, d.cues, d.updated = head, cues, utcnow()
        audit(db, user.name, "import", lecture_id, lang, None, f"{file.filename}: {len(cues)} cues into the draft")
    return {"cues": cues, "base_version": head}


# --- comments ----------------------------------------------------------------------------------------------

def _comment_dict(c: Comment) -> dict:
    return {"id": c.id, "cue_id": c.cue_id, "author": c.author, "text": c.text,
            "created_at": c.created.isoformat(timespec="seconds"), "resolved": c.resolved}


@router.post("/lectures/{lecture_id}/{lang}/comments/{comment_id}/resolve")
def comment_resolve(lecture_id: str, lang: str, comment_id: int, user: CurrentUser = Depends(current_user),
                    st: ReviewState = Depends(review_state)):
    """Mark a comment resolved (anyone may: the translator who fixed the cue, or the reviewer); audited once."""
    check_ids(lecture_id, lang)
    with transaction(st.db) as db:
        c = db.scalar(select(Comment).where(Comment.id == comment_id, Comment.lecture == lecture_id,
                                            Comment.lang == lang))
        if c is None:
            raise NotFoundError(f"{lecture_id} {lang}: no comment {comment_id}; reload the page")
        if not c.resolved:
            c.resolved = True
            audit(db, user.name, "resolve", lecture_id, lang, None, f"comment {c.id} on cue {c.cue_id or '-'}")
        return _comment_dict(c)


@router.get("/lectures/{lecture_id}/{lang}/comments")
def comments_list(lecture_id: str, lang: str, user: CurrentUser = Depends(current_user),
                  st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    with transaction(st.db) as db:
        return [_comment_dict(c) for c in db.scalars(
            select(Comment).where(Comment.lecture == lecture_id, Comment.lang == lang).order_by(Comment.id))]


@router.post("/lectures/{lecture_id}/{lang}/comments")
def comments_add(lecture_id: str, lang: str, body: CommentBody, user: CurrentUser = Depends(current_user),
                 st: ReviewState = Depends(review_state)):
    check_ids(lecture_id, lang)
    with transaction(st.db) as db:
        c = Comment(lecture=lecture_id, lang=lang, cue_id=body.cue_id, author=user.name, text=body.text,
                    created=utcnow(), resolved=False)
        db.add(c)
        db.flush()
        audit(db, user.name, "comment", lecture_id, lang, None, f"cue {body.cue_id or '-'}")
        return JSONResponse(_comment_dict(c), status_code=201)
