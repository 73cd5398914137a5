"""HLS playlists written in Python: the master playlist with subtitle and audio groups, single-segment WebVTT playlists.

ffmpeg's hls muxer cannot express subtitle-only groups, AUTOSELECT, or cues that span
segments (see DESIGN.md), so these lines are written here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import m3u8

from medialib.languages import audio_rendition_name, language_name
from medialib.media.readback import segment_durations
from medialib.media.records import Ladder

AUDIO_GROUP = "aud"


SUBTITLE_GROUP = "subs"


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


SubtitleEntry = tuple  # (language, playlist URI, default) or (language, URI, default, NAME)


def subtitle_media_lines(subtitles: list[SubtitleEntry]) -> list[str]:
    """The EXT-X-MEDIA lines of the subtitle group; NAME defaults to the language's own name."""
    lines = []
    for entry in subtitles:
        lang, uri, default = entry[:3]
        name = entry[3] if len(entry) > 3 else language_name(lang)
        lines.append(f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME="{name}",'
                     f'LANGUAGE="{lang}",DEFAULT={"YES" if default else "NO"},AUTOSELECT=YES,FORCED=NO,URI="{uri}"')
    return lines


def patch_master_subtitles(master: str, subtitles: list[SubtitleEntry]) -> str:
    """A published master playlist with its subtitle group replaced; variants and audio untouched.

    For a subtitles-only republish: the variants' BANDWIDTH comes from the segments'
    sizes, which this need not read again; only the subtitle lines (and the SUBTITLES
    attribute, when the group appears or disappears) change.
    """
    out, inserted = [], False
    for line in master.splitlines():
        if line.startswith("#EXT-X-MEDIA:") and "TYPE=SUBTITLES" in line:
            continue
        if line.startswith("#EXT-X-STREAM-INF:"):
            if not inserted:
                out += subtitle_media_lines(subtitles)
                inserted = True
            line = re.sub(r',SUBTITLES="[^"]*"', "", line)
            if subtitles:
                line += f',SUBTITLES="{SUBTITLE_GROUP}"'
        out.append(line)
    if not inserted:
        raise ValueError("master playlist has no #EXT-X-STREAM-INF line to attach subtitles to")
    text = "\n".join(out) + "\n"
    m3u8.parse(text, strict=True)
    return text


def audio_only_master(master: str) -> str | None:
    """The low-data master (`audio.m3u8`): the master's audio-only variant alone, or None without one.

    hls.js ignores audio-only variants while video variants exist, so the player's
    low-data mode loads this instead. Derived from the master text, so it keeps the same
    audio group and the same subtitle group: a subtitles-only republish (which patches
    the master) rewrites it from the patched master and the two never disagree.
    """
    lines = master.splitlines()
    out, variant = [], None
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            if "RESOLUTION=" not in line and i + 1 < len(lines):
                variant = (line, lines[i + 1])
        elif line and not line.startswith("#") and i > 0 and lines[i - 1].startswith("#EXT-X-STREAM-INF:"):
            continue
        else:
            out.append(line)
    if variant is None:
        return None
    out = [line for line in out if line] + list(variant)
    text = "\n".join(out) + "\n"
    m3u8.parse(text, strict=True)
    return text


def write_master_playlist(ladder: Ladder, ladder_dir: Path, subtitles: list[SubtitleEntry],
                          audio_language: str | None) -> str:
    """The master playlist text. subtitles: (language, playlist URI, default[, NAME]) in display order."""
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
    lines += subtitle_media_lines(subtitles)
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
