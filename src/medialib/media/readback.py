"""Reading encoded renditions back: first frame time, segment durations, keyframes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av


def first_pts_s(rendition_dir: Path) -> float:
    """Presentation time (s) of the first frame of a fMP4 rendition, video or audio-only; for X-TIMESTAMP-MAP.

    A video rendition is timed by its first video frame (AAC priming and B-frames move it
    to ~0.07 s). An audio-only rendition has no video stream: it is timed by its first
    audio frame. hls.js takes its initPTS from the first fragment of the variant it plays
    (for an audio-only lecture, the audio rendition), and RFC 8216 3.5 maps cue times onto
    that media timeline; so the audio's first pts is the right MPEGTS there. Never below 0:
    MPEGTS is an unsigned 33-bit timestamp.
    """
    init = _init_segment(rendition_dir)
    first = sorted(rendition_dir.glob("seg_*.m4s"))
    if init is None or not first:
        return 0.0
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(init.read_bytes())
        f.write(first[0].read_bytes())
        f.flush()
        with av.open(f.name) as c:
            streams = c.streams.video or c.streams.audio
            if not streams:
                return 0.0
            for packet in c.demux(streams[0]):
                if packet.pts is not None:
                    return max(0.0, float(packet.pts * packet.time_base))
    return 0.0


def _init_segment(rendition_dir: Path) -> Path | None:
    # ffmpeg names it init_<n>.mp4 when one process writes several renditions
    return next(iter(sorted(rendition_dir.glob("init*.mp4"))), None)


def segment_durations(playlist: Path) -> list[float]:
    """EXTINF durations of a media playlist, in seconds."""
    out = []
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            out.append(float(line[len("#EXTINF:"):].split(",")[0]))
    return out


def rendition_packets(rendition_dir: Path, kind: str = "video") -> list[tuple[int, bool, float]]:
    """(pts, keyframe?, seconds) of every video (or audio) packet of a fMP4 rendition: init + segments read as one file."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(_init_segment(rendition_dir).read_bytes())
        for seg in sorted(rendition_dir.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
        f.flush()
        with av.open(f.name) as c:
            stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
            return [(int(p.pts), p.is_keyframe, float(p.pts * p.time_base)) for p in c.demux(stream)
                    if p.pts is not None]


def keyframe_times(rendition_dir: Path) -> list[float]:
    """Times (s) of every keyframe in a fMP4 rendition: used to check alignment across rungs."""
    return [round(t, 3) for _, key, t in rendition_packets(rendition_dir) if key]
