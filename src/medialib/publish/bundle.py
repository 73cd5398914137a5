"""Package a lecture as an HLS bundle: master playlist, renditions, WebVTT, transcript, player.

ffmpeg writes the renditions; the master playlist, the subtitle playlists and the
EXT-X-MEDIA lines are written here, because ffmpeg's hls muxer cannot express
subtitle-only groups, AUTOSELECT, or cues that span segments (see DESIGN.md).

Bundle layout (mirrors lectures/<lecture-id>/ in the publish bucket):

    master.m3u8, manifest.json, index.html, transcript.json, poster.jpg, player assets
    audio.m3u8                         (the audio-only master for low-data mode, from master.m3u8)
    transcript-<sha256-12>.json                                  (the player's transcript panel)
    video/<rendition>/index.m3u8, init_<n>.mp4, seg_<n>.m4s     (video/audio/ for the audio)
    subtitles/<lang>/index.m3u8, v<N>.vtt, v<N>.srt              (N: the track version)

`package_subtitles` writes everything but the renditions, for a subtitles-only republish.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medialib import __version__
from medialib.languages import audio_rendition_name, language_name
from medialib.media.readback import first_pts_s
from medialib.media.records import Ladder, MediaInfo
from medialib.publish.page import (
    PageInfo,
    SubtitleLink,
    player_assets,
    render_player_page,
)
from medialib.publish.playlists import (
    audio_only_master,
    subtitle_playlist,
    with_timestamp_map,
    write_master_playlist,
)
from medialib.publish.strings import LANGUAGES as UI_LANGUAGES
from medialib.speech.transcript import Transcript
from medialib.subtitles.cues import Track
from medialib.subtitles.formats import to_srt, to_webvtt


@dataclass(frozen=True)
class LectureMeta:
    lecture_id: str
    title: str
    sha256: str
    speaker: str | None = None
    event: str | None = None
    language: str | None = None   # the lecture's main (floor) language


AUDIO_MASTER = "audio.m3u8"   # the audio-only master for the player's low-data mode

MACHINE_LABEL = "machine"   # "English (machine)": what learners see on unapproved machine subtitles
MACHINE_NOTE = ("Subtitles marked \u201c(machine)\u201d were made by speech recognition or machine translation "
                "and have not been checked by a translator yet.")


@dataclass(frozen=True)
class PublishedTrack:
    """One subtitle language as published: the track, its version, and whether it is unapproved machine output."""

    track: Track
    version: int = 1            # names the files: subtitles/<lang>/v<version>.vtt
    machine_made: bool = False  # labelled "(machine)" on the page and in the master playlist

    @property
    def name(self) -> str:
        name = language_name(self.track.language)
        return f"{name} ({MACHINE_LABEL})" if self.machine_made else name


@dataclass(frozen=True)
class Bundle:
    """A packaged lecture on local disk, ready to publish."""

    lecture_id: str
    root: Path
    files: tuple[str, ...]          # paths relative to root, forward slashes
    languages: tuple[str, ...]      # subtitle languages in the master playlist
    notes: tuple[str, ...] = field(default=())


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:   # another file system
        shutil.copy2(src, dst)


def package_bundle(out_dir: Path, meta: LectureMeta, info: MediaInfo, ladder: Ladder, ladder_dir: Path,
                   tracks: tuple[Track | PublishedTrack, ...] = (), transcript: Transcript | None = None,
                   poster: Path | None = None, notes: tuple[str, ...] = (), version: int = 1,
                   report: dict | None = None, shared_assets: Mapping[str, str] | None = None) -> Bundle:
    """Lay out everything learners need under out_dir; nothing is published here.

    tracks: plain Tracks are published as version `version`, not labelled.
    shared_assets: {name: URL} of the player files published apart (publish.assets); None
    copies them beside index.html so the folder plays alone.
    Deterministic: the same inputs give the same bytes, so a re-publish uploads nothing.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "video").mkdir(parents=True)
    for r in ladder.renditions:
        # Hard links: a 3-hour ladder is gigabytes, and nothing writes into video/ afterwards.
        shutil.copytree(ladder_dir / r.name, out_dir / "video" / r.name, copy_function=_link_or_copy)
    timing_dir = ladder_dir / (ladder.video[0].name if ladder.video else ladder.audio.name)
    main_lang = meta.language or (_track(tracks[0]).language if tracks else None)
    if poster and Path(poster).exists():
        shutil.copyfile(poster, out_dir / "poster.jpg")
    editions = tuple(t if isinstance(t, PublishedTrack) else PublishedTrack(t, version) for t in tracks)
    return package_subtitles(out_dir, meta, info, ladder, editions, transcript,
                             master=lambda subs: write_master_playlist(ladder, ladder_dir, subs, main_lang),
                             first_pts_s=first_pts_s(timing_dir), poster=(out_dir / "poster.jpg").exists(),
                             notes=notes, report=report, shared_assets=shared_assets)


def _track(t: Track | PublishedTrack) -> Track:
    return t.track if isinstance(t, PublishedTrack) else t


def transcript_cue(c, t: Track) -> dict:
    """A cue in transcript.json: its id, times, text, risk with reasons, and who made it (origin, editor, version)."""
    human = c.origin == "human"
    return {"id": c.id, "start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text,
            "origin": c.origin or t.origin, "model": None if human else t.model,
            "editor": c.editor or None, "version": c.version,
            "confidence": None if c.confidence is None else round(c.confidence, 3),
            "risk": None if c.risk is None else round(c.risk, 3), "flags": list(c.flags)}


def learner_transcript(lecture_id: str, tracks: tuple[PublishedTrack, ...] | list[PublishedTrack]) -> bytes:
    """The player's transcript panel: every published language's cues as [start_ms, end_ms, text].

    Only what learners read (no words, risks or editors: those stay in transcript.json for
    reviewers), compact, so a 90-minute lecture's panel is one small request.
    """
    doc = {"lecture_id": lecture_id,
           "tracks": [{"language": e.track.language, "name": e.name, "version": e.version,
                       "cues": [[c.start_ms, c.end_ms, c.text] for c in e.track.cues]} for e in tracks]}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_learner_transcript(out_dir: Path, lecture_id: str, tracks) -> str:
    """Write `transcript-<sha256-12>.json` and return its name.

    Named by its content, so a subtitles-only republish gives the page a new name in the
    same PUT that changes index.html: the panel and the subtitles never disagree, and a
    cached old page keeps reading the old file (old names stay in the bucket).
    """
    data = learner_transcript(lecture_id, tracks)
    name = f"transcript-{hashlib.sha256(data).hexdigest()[:12]}.json"
    (Path(out_dir) / name).write_bytes(data)
    return name


def package_subtitles(out_dir: Path, meta: LectureMeta, info: MediaInfo, ladder: Ladder,
                      tracks: tuple[PublishedTrack, ...], transcript: Transcript | None, *,
                      master: Callable[[list[tuple]], str], first_pts_s: float, poster: bool,
                      notes: tuple[str, ...] = (), report: dict | None = None,
                      shared_assets: Mapping[str, str] | None = None) -> Bundle:
    """Write the subtitles, their playlists, transcript.json, the page, the manifest and the master playlist.

    Everything of a bundle but the renditions (and the poster): for a full package after
    the renditions are copied, and alone for a subtitles-only republish. master(subtitle
    entries) gives the master playlist text: written from the ladder, or the published one
    patched. first_pts_s: the media's first presentation time, for X-TIMESTAMP-MAP.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    duration = info.duration_s
    main_lang = meta.language or (tracks[0].track.language if tracks else None)
    ordered = sorted(tracks, key=lambda e: (e.track.language != main_lang, e.track.language))
    if any(e.machine_made for e in ordered):
        notes = (*notes, MACHINE_NOTE)
    subs_for_master, links = [], []
    for e in ordered:
        t = e.track
        base = f"subtitles/{t.language}"
        (out_dir / base).mkdir(parents=True, exist_ok=True)
        vtt_name, srt_name = f"v{e.version}.vtt", f"v{e.version}.srt"
        (out_dir / base / vtt_name).write_text(with_timestamp_map(to_webvtt(t), first_pts_s), encoding="utf-8")
        (out_dir / base / srt_name).write_text(to_srt(t), encoding="utf-8")
        (out_dir / base / "index.m3u8").write_text(subtitle_playlist(vtt_name, duration), encoding="utf-8")
        default = t.language == main_lang
        subs_for_master.append((t.language, f"{base}/index.m3u8", default, e.name))
        links.append(SubtitleLink(language=t.language, name=e.name, vtt=f"{base}/{vtt_name}",
                                  srt=f"{base}/{srt_name}", default=default))

    master_text = master(subs_for_master)
    (out_dir / "master.m3u8").write_text(master_text, encoding="utf-8")
    # low-data mode's audio-only master, derived from the master so their groups agree
    audio_master = audio_only_master(master_text) if ladder.video else None
    if audio_master:
        (out_dir / AUDIO_MASTER).write_text(audio_master, encoding="utf-8")
    transcript_doc = {
        "lecture_id": meta.lecture_id,
        "language": transcript.language if transcript else main_lang,
        "model": transcript.model if transcript else None,
        "words": [{"start_ms": w.start_ms, "end_ms": w.end_ms, "text": w.text, "confidence": round(w.probability, 3)}
                  for w in (transcript.words if transcript else ())],
        # every cue with its id, risk and provenance, so reviewers can rank risky cues and see who edited what
        "tracks": [{"language": e.track.language, "origin": e.track.origin, "model": e.track.model,
                    "version": e.version, "machine_made": e.machine_made,
                    "cues": [transcript_cue(c, e.track) for c in e.track.cues]} for e in ordered],
    }
    (out_dir / "transcript.json").write_text(json.dumps(transcript_doc, ensure_ascii=False, indent=1), encoding="utf-8")
    transcript_name = write_learner_transcript(out_dir, meta.lecture_id, ordered)

    page = PageInfo(title=meta.title, speaker=meta.speaker, event=meta.event, language=main_lang,
                    duration_s=duration, master="master.m3u8", poster="poster.jpg" if poster else None,
                    transcript=transcript_name, subtitles=tuple(links), audio_only=not ladder.video,
                    notes=tuple(notes), audio_master=AUDIO_MASTER if audio_master else None)
    # The page's own words start in the lecture's language (when the table has it); player.js
    # then follows the learner's choice or browser, so most learners see no switch.
    ui_lang = main_lang if main_lang in UI_LANGUAGES else "en"
    (out_dir / "index.html").write_text(render_player_page(page, shared_assets, lang=ui_lang), encoding="utf-8")
    if shared_assets is None:
        for asset in player_assets():
            shutil.copyfile(asset, out_dir / asset.name)

    manifest = {
        "id": meta.lecture_id,
        "title": meta.title,
        "speaker": meta.speaker,
        "event": meta.event,
        "language": main_lang,
        "duration_s": round(duration, 3),
        "first_pts_s": first_pts_s,
        "sha256": meta.sha256,
        "source": {"name": info.name, "size_bytes": info.size_bytes, "container": info.container,
                   "video": asdict(info.video) if info.video else None, "audio": [asdict(a) for a in info.audio]},
        "renditions": [asdict(r) for r in ladder.renditions],
        "frame_rate": ladder.frame_rate,
        "audio": [{"name": a.name, "language": a.language, "role": a.role,
                   "label": audio_rendition_name(a.role, a.language)} for a in ladder.audio_renditions],
        "subtitles": [{"language": e.track.language, "name": e.name, "origin": e.track.origin,
                       "model": e.track.model, "cues": len(e.track.cues), "version": e.version,
                       "machine_made": e.machine_made,
                       "vtt": f"subtitles/{e.track.language}/v{e.version}.vtt",
                       "srt": f"subtitles/{e.track.language}/v{e.version}.srt"} for e in ordered],
        "notes": list(notes),
        "report": report or {},
        "master": "master.m3u8",
        "audio_master": AUDIO_MASTER if audio_master else None,
        "player": "index.html",
        "transcript": transcript_name,
        "poster": page.poster,
        "medialib": __version__,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    files = tuple(sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()))
    return Bundle(lecture_id=meta.lecture_id, root=out_dir, files=files,
                  languages=tuple(e.track.language for e in ordered), notes=tuple(notes))
