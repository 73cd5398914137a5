"""Package a lecture as an HLS bundle: master playlist, renditions, WebVTT, transcript, player.

ffmpeg writes the renditions; the master playlist, the subtitle playlists and the
EXT-X-MEDIA lines are written here, because ffmpeg's hls muxer cannot express
subtitle-only groups, AUTOSELECT, or cues that span segments (see DESIGN.md).

Bundle layout (mirrors lectures/<lecture-id>/ in the publish bucket):

    master.m3u8, manifest.json, index.html, transcript.json, poster.jpg, player assets
    video/<rendition>/index.m3u8, init_<n>.mp4, seg_<n>.m4s     (video/audio/ for the audio)
    subtitles/<lang>/index.m3u8, v<N>.vtt, v<N>.srt
"""

from __future__ import annotations

import json
import shutil
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
    subtitle_playlist,
    with_timestamp_map,
    write_master_playlist,
)
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


@dataclass(frozen=True)
class Bundle:
    """A packaged lecture on local disk, ready to publish."""

    lecture_id: str
    root: Path
    files: tuple[str, ...]          # paths relative to root, forward slashes
    languages: tuple[str, ...]      # subtitle languages in the master playlist
    notes: tuple[str, ...] = field(default=())


def package_bundle(out_dir: Path, meta: LectureMeta, info: MediaInfo, ladder: Ladder, ladder_dir: Path,
                   tracks: tuple[Track, ...] = (), transcript: Transcript | None = None,
                   poster: Path | None = None, notes: tuple[str, ...] = (), version: int = 1,
                   report: dict | None = None) -> Bundle:
    """Lay out everything learners need under out_dir; nothing is published here.

    Deterministic: the same inputs give the same bytes, so a re-publish uploads nothing.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "video").mkdir(parents=True)
    for r in ladder.renditions:
        shutil.copytree(ladder_dir / r.name, out_dir / "video" / r.name)
    timing_dir = ladder_dir / (ladder.video[0].name if ladder.video else ladder.audio.name)
    first_pts = first_pts_s(timing_dir)
    duration = info.duration_s

    main_lang = meta.language or (tracks[0].language if tracks else None)
    ordered = sorted(tracks, key=lambda t: (t.language != main_lang, t.language))
    subs_for_master, links = [], []
    for t in ordered:
        base = f"subtitles/{t.language}"
        (out_dir / base).mkdir(parents=True, exist_ok=True)
        vtt_name, srt_name = f"v{version}.vtt", f"v{version}.srt"
        (out_dir / base / vtt_name).write_text(with_timestamp_map(to_webvtt(t), first_pts), encoding="utf-8")
        (out_dir / base / srt_name).write_text(to_srt(t), encoding="utf-8")
        (out_dir / base / "index.m3u8").write_text(subtitle_playlist(vtt_name, duration), encoding="utf-8")
        default = t.language == main_lang
        subs_for_master.append((t.language, f"{base}/index.m3u8", default))
        links.append(SubtitleLink(language=t.language, name=language_name(t.language), vtt=f"{base}/{vtt_name}",
                                  srt=f"{base}/{srt_name}", default=default))

    (out_dir / "master.m3u8").write_text(write_master_playlist(ladder, ladder_dir, subs_for_master, main_lang),
                                         encoding="utf-8")
    if poster and Path(poster).exists():
        shutil.copyfile(poster, out_dir / "poster.jpg")
    transcript_doc = {
        "lecture_id": meta.lecture_id,
        "language": transcript.language if transcript else main_lang,
        "model": transcript.model if transcript else None,
        "words": [{"start_ms": w.start_ms, "end_ms": w.end_ms, "text": w.text, "confidence": round(w.probability, 3)}
                  for w in (transcript.words if transcript else ())],
        # every cue with its provenance, so reviewers can rank risky cues
        "tracks": [{"language": t.language, "origin": t.origin, "model": t.model,
                    "cues": [{"start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text,
                              "origin": t.origin, "model": t.model,
                              "confidence": None if c.confidence is None else round(c.confidence, 3)}
                             for c in t.cues]} for t in ordered],
    }
    (out_dir / "transcript.json").write_text(json.dumps(transcript_doc, ensure_ascii=False, indent=1), encoding="utf-8")

    page = PageInfo(title=meta.title, speaker=meta.speaker, event=meta.event, language=main_lang,
                    duration_s=duration, master="master.m3u8",
                    poster="poster.jpg" if (out_dir / "poster.jpg").exists() else None,
                    transcript="transcript.json", subtitles=tuple(links), audio_only=not ladder.video,
                    notes=tuple(notes))
    (out_dir / "index.html").write_text(render_player_page(page), encoding="utf-8")
    for asset in player_assets():
        shutil.copyfile(asset, out_dir / asset.name)

    manifest = {
        "id": meta.lecture_id,
        "title": meta.title,
        "speaker": meta.speaker,
        "event": meta.event,
        "language": main_lang,
        "duration_s": round(duration, 3),
        "sha256": meta.sha256,
        "source": {"name": info.name, "size_bytes": info.size_bytes, "container": info.container,
                   "video": asdict(info.video) if info.video else None, "audio": [asdict(a) for a in info.audio]},
        "renditions": [asdict(r) for r in ladder.renditions],
        "frame_rate": ladder.frame_rate,
        "audio": [{"name": a.name, "language": a.language, "role": a.role,
                   "label": audio_rendition_name(a.role, a.language)} for a in ladder.audio_renditions],
        "subtitles": [{"language": t.language, "name": language_name(t.language), "origin": t.origin,
                       "model": t.model, "cues": len(t.cues), "version": version,
                       "vtt": f"subtitles/{t.language}/v{version}.vtt"} for t in ordered],
        "notes": list(notes),
        "report": report or {},
        "master": "master.m3u8",
        "player": "index.html",
        "poster": page.poster,
        "medialib": __version__,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    files = tuple(sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()))
    return Bundle(lecture_id=meta.lecture_id, root=out_dir, files=files,
                  languages=tuple(t.language for t in ordered), notes=tuple(notes))
