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
import math
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import m3u8

from . import __version__
from .media import Ladder, MediaInfo, first_video_pts_s, segment_durations
from .page import PageInfo, SubtitleLink, player_assets, render_player_page
from .speech import Transcript
from .subtitles import Track, to_srt, to_webvtt

LANGUAGE_NAMES = {  # each language named in itself, as learners look for it
    "en": "English", "ru": "Русский", "uk": "Українська", "de": "Deutsch", "fr": "Français",
    "es": "Español", "it": "Italiano", "pl": "Polski", "tr": "Türkçe", "kk": "Қазақша",
    "ka": "ქართული", "hy": "Հայերեն", "az": "Azərbaycan", "ro": "Română", "sr": "Српски",
}

AUDIO_GROUP = "aud"
SUBTITLE_GROUP = "subs"


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


INTERPRETATION_LABEL = {"ru": "синхронный перевод", "en": "interpretation", "uk": "синхронний переклад",
                        "de": "Verdolmetschung", "fr": "interprétation"}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def audio_rendition_name(role: str, language: str | None) -> str:
    """'English' for the floor; 'Русский (синхронный перевод)' for an interpreter's channel."""
    if not language:
        return "Audio" if role == "floor" else "Interpretation"
    name = language_name(language)
    if role == "interpretation":
        return f"{name} ({INTERPRETATION_LABEL.get(language, 'interpretation')})"
    return name


def _rendition_stats(rendition_dir: Path) -> tuple[int, int]:
    """(peak, average) bits per second over the segments, init segment counted in the first."""
    durations = segment_durations(rendition_dir / "index.m3u8")
    segments = sorted(rendition_dir.glob("seg_*.m4s"))
    init = next(iter(sorted(rendition_dir.glob("init*.mp4"))), None)
    init_bytes = init.stat().st_size if init else 0
    peak, total_bits, total_s = 0, 0, 0.0
    for i, (seg, d) in enumerate(zip(segments, durations)):
        bits = (seg.stat().st_size + (init_bytes if i == 0 else 0)) * 8
        if d > 0.5:  # a very short last segment would overstate the peak
            peak = max(peak, int(bits / d))
        total_bits += bits
        total_s += d
    avg = int(total_bits / total_s) if total_s else 0
    return max(peak, avg), avg


def _ffmpeg_codecs(ladder_dir: Path) -> dict[str, str]:
    """CODECS per rendition folder, read from the master playlist ffmpeg wrote."""
    out: dict[str, str] = {}
    master = ladder_dir / "ffmpeg-master.m3u8"
    if not master.exists():
        return out
    lines = master.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines):
            m = re.search(r'CODECS="([^"]+)"', line)
            if m:
                out[lines[i + 1].split("/")[0]] = m.group(1)
    return out


def write_master_playlist(ladder: Ladder, ladder_dir: Path, subtitles: list[tuple[str, str, bool]],
                          audio_language: str | None) -> str:
    """The master playlist text. subtitles: (language, playlist URI, default) in display order."""
    codecs = _ffmpeg_codecs(ladder_dir)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_peak = audio_avg = 0
    audio_codec = "mp4a.40.2"
    for a in ladder.audio_renditions:
        peak, avg = _rendition_stats(ladder_dir / a.name)
        # a variant must be playable with the heaviest audio of its group (RFC 8216 4.3.4.2)
        audio_peak, audio_avg = max(audio_peak, peak), max(audio_avg, avg)
        lang = a.language or (audio_language if a is ladder.audio else None)
        name = audio_rendition_name(a.role, lang)
        lang_attr = f',LANGUAGE="{lang}"' if lang else ""
        default = "YES" if a is ladder.audio else "NO"
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="{name}"{lang_attr},'
                     f'DEFAULT={default},AUTOSELECT=YES,CHANNELS="2",URI="video/{a.name}/index.m3u8"')
    for lang, uri, default in subtitles:
        lines.append(f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME="{language_name(lang)}",'
                     f'LANGUAGE="{lang}",DEFAULT={"YES" if default else "NO"},AUTOSELECT=YES,FORCED=NO,URI="{uri}"')
    subs_attr = f',SUBTITLES="{SUBTITLE_GROUP}"' if subtitles else ""
    audio_attr = f',AUDIO="{AUDIO_GROUP}"' if ladder.audio else ""
    for r in ladder.video:
        peak, avg = _rendition_stats(ladder_dir / r.name)
        codec = codecs.get(r.name, "avc1.640028")
        video_codec = codec.split(",")[0]
        all_codecs = f"{video_codec},{audio_codec}" if ladder.audio else video_codec
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={peak + audio_peak},AVERAGE-BANDWIDTH={avg + audio_avg},"
                     f'RESOLUTION={r.width}x{r.height},FRAME-RATE={ladder.frame_rate:.3f},CODECS="{all_codecs}"'
                     f"{audio_attr}{subs_attr}")
        lines.append(f"video/{r.name}/index.m3u8")
    if ladder.audio:
        # An audio-only variant: the lowest rung for very slow links (and the only one for audio recordings).
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={audio_peak},AVERAGE-BANDWIDTH={audio_avg},CODECS="{audio_codec}"'
                     f"{audio_attr}{subs_attr}")
        lines.append(f"video/{ladder.audio.name}/index.m3u8")
    text = "\n".join(lines) + "\n"
    m3u8.parse(text, strict=True)  # refuse to publish a playlist a strict parser rejects
    return text


def subtitle_playlist(vtt_name: str, duration_s: float) -> str:
    """A single-segment WebVTT media playlist: valid HLS, and cues never cut at segment edges."""
    return ("#EXTM3U\n#EXT-X-VERSION:3\n"
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration_s))}\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            f"#EXTINF:{duration_s:.3f},\n{vtt_name}\n#EXT-X-ENDLIST\n")


def with_timestamp_map(vtt: str, first_pts_s: float) -> str:
    """Add X-TIMESTAMP-MAP so players line cue time 0 up with the media's first frame."""
    mpegts = int(round(first_pts_s * 90000))
    header, sep, rest = vtt.partition("\n")
    return f"{header}\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000{sep}{rest}"


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
    first_pts = first_video_pts_s(timing_dir)
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
