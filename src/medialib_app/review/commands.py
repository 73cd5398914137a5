"""The CLI's review commands: accounts, `review serve`, and subtitle files out and in (pull / push).

Which version a pulled file was made from travels with it, so a push can tell a stale
file from a current one:
- a VTT carries it in a NOTE block after the header:
  ``NOTE medialib lecture=<id> language=<lang> version=<N>`` (Subtitle Edit keeps NOTEs);
- every pulled file also gets a sidecar ``<file>.medialib.json`` beside it
  ({"lecture_id", "language", "version", "format", "pulled_at"}): SRT has no comment
  syntax (a header line would show as a cue in players), so for SRT the sidecar is the record.
A push reads the NOTE, else the sidecar, else `--base N`. With none of them it is accepted
only while no person has saved a version yet; otherwise it must say its base, or `--force`.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from medialib.errors import InputError, NotFoundError

_NOTE = re.compile(r"^NOTE medialib lecture=(\S+) language=(\S+) version=(\d+)\s*$", re.M)


class PushConflict(InputError):
    """A stale push: exit 2 with who saved what."""


def _state(settings):
    from .app import build_state

    return build_state(settings)


def _read_password(name: str, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != password:
        raise InputError("the two passwords differ; run the command again")
    return password


def users_add(settings, name: str, role: str, *, password_stdin: bool) -> int:
    from .auth import add_user
    from .db import open_database, transaction

    password = _read_password(name, password_stdin)
    factory = open_database(settings.review.database())
    with transaction(factory) as db:
        add_user(db, name, role, password)
        from .api import audit

        audit(db, getpass.getuser(), "user_add", detail=f"{name} ({role})")
    print(f"added {name} ({role})")
    return 0


def users_passwd(settings, name: str, *, password_stdin: bool) -> int:
    """A new password; the user's sessions are revoked, so a copied cookie stops working now."""
    from .api import audit
    from .auth import get_user, set_password
    from .db import open_database, transaction

    factory = open_database(settings.review.database())
    with transaction(factory) as db:   # an unknown name fails before the password is asked
        if get_user(db, name) is None:
            raise NotFoundError(f"no user {name!r}; `medialib users list` shows the accounts")
    password = _read_password(name, password_stdin)
    with transaction(factory) as db:
        revoked = set_password(db, name, password)
        audit(db, getpass.getuser(), "user_passwd", detail=f"{name}: {revoked} sessions revoked")
    print(f"changed the password of {name}; {revoked} sessions logged out")
    return 0


def users_remove(settings, name: str) -> int:
    """Delete the account and revoke its sessions; its drafts, comments and audit history stay."""
    from .api import audit
    from .auth import remove_user
    from .db import open_database, transaction

    with transaction(open_database(settings.review.database())) as db:
        revoked = remove_user(db, name)
        audit(db, getpass.getuser(), "user_remove", detail=f"{name}: {revoked} sessions revoked")
    print(f"removed {name}; {revoked} sessions logged out")
    return 0


def users_list(settings) -> int:
    from sqlalchemy import select

    from .db import open_database, transaction
    from .models import User

    with transaction(open_database(settings.review.database())) as db:
        users = list(db.scalars(select(User).order_by(User.name)))
    if not users:
        print("no users yet; add one with `medialib users add NAME --role translator`")
    for u in users:
        print(f"{u.name}\t{u.role}\t{u.created_at:%Y-%m-%d}")
    return 0


def serve(settings, host: str, port: int) -> int:
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    scheme = "https" if settings.review.https else "http"
    print(f"medialib review: {scheme}://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    # Proxy headers are handled inside the app, from [review] trusted_proxies only.
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="warning", server_header=False)
    return 0


def pull(settings, lecture_id: str, lang: str, *, fmt: str, version: int | None, out: str | None) -> int:
    from . import tracks as lib
    from .api import check_ids, version_note

    check_ids(lecture_id, lang)
    st = _state(settings)
    if version is None:
        lib.ensure_machine_version(st.storage, lecture_id, lang)
        v = lib.head_version(st.storage, lecture_id, lang)
        if v is None:
            raise NotFoundError(f"{lecture_id} has no {lang} subtitles; `medialib lectures list` shows what there is")
    else:
        v = lib.load_version(st.storage, lecture_id, lang, version)
    text = lib.encode_file(v.track, fmt, note=version_note(lecture_id, lang, v.number))
    if out == "-":
        sys.stdout.write(text)
        return 0
    path = Path(out or f"{lecture_id}.{lang}.v{v.number}.{fmt}")
    path.write_text(text, encoding="utf-8")
    sidecar = Path(f"{path}.medialib.json")
    sidecar.write_text(json.dumps({"lecture_id": lecture_id, "language": lang, "version": v.number, "format": fmt,
                                   "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}) + "\n")
    print(f"{path}: version {v.number} ({v.kind}, {v.author}, {len(v.track.cues)} cues); "
          f"keep {sidecar.name} beside it for the push", file=sys.stderr)
    return 0


def _read_sidecar(sidecar: Path) -> tuple[str | None, str | None, int]:
    """(lecture_id, language, version) from a pull's sidecar; InputError naming the file when it is not one."""
    try:
        d = json.loads(sidecar.read_text(encoding="utf-8"))
        version = d["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError
        return d.get("lecture_id"), d.get("language"), version
    except (ValueError, KeyError, TypeError):   # bad JSON, not an object, no or a bad "version"
        raise InputError(f"{sidecar}: not a sidecar `medialib subtitles pull` wrote (it needs a \"version\" "
                         "number); delete it and pass --base N with the version the file was pulled at") from None


def _base_of(path: Path, text: str, lecture_id: str, lang: str) -> int | None:
    m = _NOTE.search(text)
    where = "its NOTE line"
    found = (m.group(1), m.group(2), int(m.group(3))) if m else None
    sidecar = Path(f"{path}.medialib.json")
    if found is None and sidecar.is_file():
        found, where = _read_sidecar(sidecar), sidecar.name
    if found is None:
        return None
    if (found[0], found[1]) != (lecture_id, lang):
        raise InputError(f"{path}: {where} says it was pulled from {found[0]} {found[1]}, not {lecture_id} {lang}; "
                         "push it to that track, or pass --force")
    return found[2]


def push(settings, lecture_id: str, lang: str, path: Path, *, encoding: str | None, force: bool, as_user: str | None,
         publish: bool, base: int | None) -> int:
    from sqlalchemy import select

    from . import tracks as lib
    from .api import VersionConflictResponse, check_ids, do_action, save_version
    from .context import CurrentUser
    from .db import transaction
    from .models import User

    check_ids(lecture_id, lang)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a folder; name the subtitle file") from None
    name = as_user or getpass.getuser()
    st = _state(settings)
    with transaction(st.db) as db:
        row = db.scalar(select(User).where(User.name == name))
        role = row.role if row else "translator"
    if publish and role not in ("reviewer", "staff"):
        raise InputError(f"--publish needs a reviewer or staff account; {name} is "
                         f"{'a ' + role if row else 'not an account'} (`medialib users list`)")
    summary = lib.lecture_summary(lecture_id, st.storage)
    if lang not in summary["languages"]:
        raise NotFoundError(f"{lecture_id} has no {lang} subtitles; it has {', '.join(summary['languages'])}")
    track, text = lib.read_file(data, path.name, lang, settings, encoding=encoding, duration_ms=summary["duration_ms"])
    lib.ensure_machine_version(st.storage, lecture_id, lang)
    if base is None:
        base = _base_of(path, text, lecture_id, lang)
    versions = lib.list_versions(st.storage, lecture_id, lang)
    head = lib.head_number(versions)
    head_author = next((v["author"] for v in versions if v["number"] == head), "")
    if base is None and not force:
        if any(v["kind"] == "human" for v in versions):
            raise PushConflict(f"{path}: cannot tell which version it was pulled at (no NOTE line, no "
                               f"{path.name}.medialib.json); pass --base N, or --force to save over version "
                               f"{head} by {head_author}")
        base = head
    base_track = lib.load_version(st.storage, lecture_id, lang, base).track if base else None
    if force and versions:
        base_track = lib.load_version(st.storage, lecture_id, lang, head).track
    track = lib.adopt_ids(base_track, track)
    from medialib.subtitles import cue_to_dict

    user = CurrentUser(name, role)
    try:
        v = save_version(st, st.db, lecture_id, lang, [cue_to_dict(c) for c in track.cues], base=base, user=user,
                         message=f"pushed from {path.name}", action="push", force=force, check_lock=not force)
    except VersionConflictResponse as e:
        latest = e.body.get("latest") or {}
        raise PushConflict(f"{path} was pulled at version {base}, but {latest.get('author', 'someone')} saved "
                           f"version {latest.get('version', '?')} at {latest.get('created_at', '?')}; pull it, "
                           "merge your changes, push again (or --force to save over it)") from None
    print(f"{lecture_id} {lang}: saved version {v.number} ({len(track.cues)} cues) as {name}")
    if publish:
        done = do_action(st, lecture_id, lang, "publish_unreviewed", user=user, base=v.number,
                         comment="pushed from the CLI")
        print(f"{lecture_id} {lang}: published version {done['version']} without a second review (audited)")
    return 0
