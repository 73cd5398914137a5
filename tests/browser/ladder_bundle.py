"""A player bundle with a real ladder: video-only rungs, one audio rendition, audio.m3u8.

Laid out as medialib's bundles are (video/<rung>/, video/audio/, master.m3u8 with an audio
group and an audio-only variant, audio.m3u8 derived from it), without the pipeline, so
the browser tests and bench/player_page.py build one in seconds:

    root = build_ladder_bundle(tmp, seconds=12, rungs=((360, 600),))
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import av
import imageio_ffmpeg

from medialib.publish.page import (
    PageInfo,
    SubtitleLink,
    player_assets,
    render_player_page,
)
from medialib.publish.playlists import audio_only_master

CODEC = "avc1.4d401f"   # main profile, level 3.1: exact for every rung up to 720p


def _ffmpeg(*args: str, cwd: Path) -> None:
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    subprocess.run(argv, cwd=cwd, check=True, stdin=subprocess.DEVNULL, timeout=600)


def _hls(out: str) -> tuple[str, ...]:
    return ("-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", f"{out}/seg_%03d.m4s", f"{out}/index.m3u8")


def first_pts_s(rendition: Path) -> float:
    """Presentation time of the first frame (AAC priming and B-frames move it off 0)."""
    probe = rendition / "first.mp4"
    probe.write_bytes((rendition / "init.mp4").read_bytes() + (rendition / "seg_000.m4s").read_bytes())
    try:
        with av.open(str(probe)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(stream))
            return float(frame.pts * stream.time_base)
    finally:
        probe.unlink()


def _bits_per_s(rendition: Path, seconds: float) -> int:
    return int(sum(p.stat().st_size for p in rendition.iterdir()) * 8 / seconds)


def _clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def synthetic_transcript(cues: int, span_s: float, languages=("ru", "en")) -> dict:
    """`cues` cues per language spread evenly over span_s: the panel's transcript document."""
    step = span_s * 1000 / cues
    words = {"ru": "Следующая мысль лекции о вопросах, номер", "en": "The next point of the lecture, number"}
    return {"lecture_id": "synthetic", "tracks": [
        {"language": lang, "name": lang, "version": 1,
         "cues": [[round(i * step), round((i + 1) * step) - 1, f"{words.get(lang, lang)} {i + 1}."]
                  for i in range(cues)]} for lang in languages]}


def build_ladder_bundle(root: Path, *, seconds: float = 12, rungs=((360, 600),),
                        transcript: dict | None = None, cue_text=lambda i: f"Caption {i + 1}") -> Path:
    """rungs: (height, video kbit/s), 16:9; 64 kbit/s AAC audio; English subtitles, one cue per 2 s."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    variants = []
    for height, kbps in rungs:
        width = math.ceil(height * 16 / 9 / 2) * 2
        name = f"{height}p"
        (root / "video" / name).mkdir(parents=True)
        _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration={seconds}", "-an",
                "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level:v", "3.1",
                "-pix_fmt", "yuv420p", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
                "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", *_hls(f"video/{name}"), cwd=root)
        variants.append((name, width, height))
    (root / "video" / "audio").mkdir(parents=True)
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-vn",
            "-c:a", "aac", "-b:a", "64k", "-ac", "2", *_hls("video/audio"), cwd=root)
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360", "-frames:v", "1", "poster.jpg", cwd=root)

    mpegts = round(first_pts_s(root / "video" / variants[0][0]) * 90000)
    subs = root / "subtitles" / "en"
    subs.mkdir(parents=True)
    spans = [(2 * i, min(seconds, 2 * i + 2)) for i in range(int(seconds // 2))]
    vtt = [f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n"]
    vtt += [f"{_clock(a * 1000)} --> {_clock(b * 1000)}\n{cue_text(i)}\n" for i, (a, b) in enumerate(spans)]
    (subs / "v1.vtt").write_text("\n".join(vtt), encoding="utf-8")
    (subs / "index.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{math.ceil(seconds)}\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXTINF:{seconds:.3f},\nv1.vtt\n#EXT-X-ENDLIST\n", encoding="utf-8")

    audio_bps = _bits_per_s(root / "video" / "audio", seconds)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
             ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,'
              'CHANNELS="2",URI="video/audio/index.m3u8"'),
             ('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,'
              'AUTOSELECT=YES,FORCED=NO,URI="subtitles/en/index.m3u8"')]
    for name, width, height in variants:
        bps = int(_bits_per_s(root / "video" / name, seconds) * 1.2) + audio_bps
        lines += [(f'#EXT-X-STREAM-INF:BANDWIDTH={bps},RESOLUTION={width}x{height},FRAME-RATE=25.000,'
                   f'CODECS="{CODEC},mp4a.40.2",AUDIO="aud",SUBTITLES="subs"'), f"video/{name}/index.m3u8"]
    lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={audio_bps},CODECS="mp4a.40.2",AUDIO="aud",SUBTITLES="subs"',
              "video/audio/index.m3u8"]
    master = "\n".join(lines) + "\n"
    (root / "master.m3u8").write_text(master, encoding="utf-8")
    (root / "audio.m3u8").write_text(audio_only_master(master), encoding="utf-8")

    doc = transcript or {"lecture_id": "t", "tracks": [
        {"language": "en", "name": "English", "version": 1,
         "cues": [[a * 1000, b * 1000, cue_text(i)] for i, (a, b) in enumerate(spans)]}]}
    (root / "transcript-ladder.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (root / "index.html").write_text(render_player_page(ladder_page(seconds)), encoding="utf-8")
    for asset in player_assets():
        shutil.copyfile(asset, root / asset.name)
    return root


def ladder_page(seconds: float) -> PageInfo:
    """The page build_ladder_bundle writes (render it again with other asset URLs)."""
    return PageInfo(title="Ladder lecture", speaker="Test Speaker", event=None, language="en",
                    duration_s=seconds, master="master.m3u8", poster="poster.jpg",
                    transcript="transcript-ladder.json",
                    subtitles=(SubtitleLink("en", "English", "subtitles/en/v1.vtt", None, True),),
                    audio_only=False, audio_master="audio.m3u8")
