"""The recordings people bring, one row each: it publishes a correct bundle, or probing gives its exact one-line error.

Every input is made with ffmpeg at test time (2-4 s at small sizes; 1-2 s where the case
needs the size: 4K, 1080i), once per session, on first use. "Publishes" is checked at the
library level, without Whisper or S3, through the same calls the pipeline makes:
probe_media -> transcode_ladder (two small rungs, 2 s segments) -> make_poster ->
package_bundle (one cue, so the WebVTT carries its X-TIMESTAMP-MAP), then the renditions
are read back: sizes, segments that start on keyframes aligned across rungs, durations,
first frame time, poster size and range.

A row whose encoder this ffmpeg lacks is skipped, with the encoder named.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import clips
import pytest

from medialib.config import Rung, load_settings
from medialib.errors import InputError
from medialib.media.audio import extract_audio
from medialib.media.ffmpeg import find_ffmpeg
from medialib.media.ladder import make_poster, transcode_ladder
from medialib.media.probe import probe_media
from medialib.media.readback import first_pts_s, keyframe_times, segment_durations
from medialib.publish.bundle import LectureMeta, package_bundle
from medialib.subtitles.cues import Cue, Track

_SETTINGS = load_settings().ladder
# Two small rungs and 2 s segments: several segments per clip, alignment checked across rungs.
OPTS = _SETTINGS.model_copy(update={"segment_s": 2.0, "rungs": (Rung(height=360, video_bitrate_kbps=650),
                                                                  Rung(height=240, video_bitrate_kbps=350))})


def _encoders() -> frozenset[str]:
    out = subprocess.run([find_ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=30).stdout
    return frozenset(line.split()[1] for line in out.splitlines() if len(line.split()) > 1 and line[:1] == " ")


ENCODERS = _encoders()

# ffmpeg inputs
PICTURE = ("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25")   # moving, so the encoders work for real
TONE = ("-f", "lavfi", "-i", "sine=f=440")
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


def _opus() -> tuple[str, ...]:
    if "libopus" in ENCODERS:
        return ("-c:a", "libopus")
    return ("-c:a", "opus", "-strict", "experimental")  # ffmpeg's own Opus encoder is marked experimental


@dataclass(frozen=True)
class Case:
    name: str                                   # file name, extension included: it picks the muxer
    args: tuple[str, ...] = ()                  # ffmpeg inputs and options, before the output path
    make: Callable[[Path, Path], None] | None = None  # (path, corpus folder), instead of args
    needs: tuple[str, ...] = ()                 # encoders; the row is skipped without them
    display: tuple[int, int] | None = (320, 180)  # displayed video size; None: audio only
    audio_streams: int = 1
    field_order: str = "progressive"
    interpretations: tuple[tuple[int, str], ...] = ()
    short_s: float = 0.0                        # how much a rendition may fall short of the probed duration
    grey: int | None = None                     # the picture's grey level (0-255), kept through ladder and poster
    error: str | None = None                    # probe_media's exact message
    error_re: str | None = None                 # ... as a regular expression, where it holds sizes
    transcribe_error: str | None = None         # extract_audio's exact message


def _subtitled_mkv(path: Path, folder: Path) -> None:
    srt = folder / "slides.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nSlide one\n", encoding="utf-8")
    clips.ff(*PICTURE, *TONE, "-i", str(srt), "-t", "3", "-map", "0", "-map", "1", "-map", "2", *X264,
             "-c:a", "aac", "-c:s", "srt", str(path))


def _cut(source: str, fraction: float) -> Callable[[Path, Path], None]:
    def make(path: Path, folder: Path) -> None:
        clips.truncated(path, _corpus_file(folder, CASES[source]), fraction)
    return make


def _cover_art_mp3(path: Path, folder: Path) -> None:
    cover = folder / "cover.png"
    clips.ff("-f", "lavfi", "-i", "testsrc2=s=200x200", "-frames:v", "1", str(cover))
    clips.ff(*TONE, "-i", str(cover), "-t", "3", "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "png",
             "-disposition:v", "attached_pic",  # cover art: a one-frame "video" stream, not a picture track
             "-id3v2_version", "3",  # ID3v2.3, what most taggers write
             str(path))


ROWS = [
    Case("lecture.mp4", (*PICTURE, *TONE, "-t", "3", *X264, "-c:a", "aac")),
    Case("phone-hevc10.mov", (*PICTURE, *TONE, "-t", "3", "-c:v", "libx265", "-preset", "ultrafast",
                              "-x265-params", "log-level=error",  # x265 logs to stderr itself otherwise
                              "-pix_fmt", "yuv420p10le",  # 10-bit HDR-capable phones record
                              "-tag:v", "hvc1",  # the tag iPhones write (QuickTime needs it over hev1)
                              "-c:a", "aac"), needs=("libx265",)),
    Case("subtitled.mkv", make=_subtitled_mkv),
    Case("screen.webm", (*PICTURE, *TONE, "-t", "3", "-c:v", "libvpx-vp9",
                         "-deadline", "realtime", "-cpu-used", "8",  # libvpx's fastest: test time, not quality
                         *_opus()), needs=("libvpx-vp9",)),
    # x264's default GOP (250 frames) is longer than the clip: the poster seek lands after the only keyframe.
    Case("obs.ts", (*PICTURE, *TONE, "-t", "3", *X264, "-c:a", "aac", "-f", "mpegts")),
    Case("camcorder.m2ts", make=lambda p, _: clips.interlaced(
        p, seconds=2, extra=("-c:a", "ac3", "-f", "mpegts", "-mpegts_m2ts_mode", "1")),  # AVCHD: 192-byte packets
         needs=("ac3",), display=(1920, 1080), field_order="tff"),
    Case("capture.avi", (*PICTURE, *TONE, "-t", "3", "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"),
         needs=("mjpeg",)),
    Case("talk.mp3", (*TONE, "-t", "3", "-c:a", "libmp3lame"), needs=("libmp3lame",), display=None),
    Case("talk-cover.mp3", make=_cover_art_mp3, needs=("libmp3lame", "png"), display=None),
    Case("talk.m4a", (*TONE, "-t", "3", "-c:a", "aac"), display=None),
    Case("talk.wav", (*TONE, "-t", "3", "-c:a", "pcm_s16le"), display=None),
    Case("talk.flac", (*TONE, "-t", "3", "-c:a", "flac"), display=None),
    Case("talk.ogg", (*TONE, "-t", "3", "-c:a", "libvorbis"), needs=("libvorbis",), display=None),
    # Grey 16 of 255: limited-range video read as full range would come out 30, full read as limited 0.
    Case("limited-range.mp4", ("-f", "lavfi", "-i", "color=0x101010:s=320x180:r=25,format=yuv420p", *TONE, "-t", "2",
                               *X264, "-color_range", "tv", "-c:a", "aac"), grey=16),
    Case("full-range.mp4", ("-f", "lavfi", "-i", "color=0x101010:s=320x180:r=25,format=yuvj420p", *TONE, "-t", "2",
                            "-c:v", "libx264", "-preset", "ultrafast", "-color_range", "pc", "-c:a", "aac"), grey=16),
    Case("vfr.mp4", make=lambda p, _: clips.variable_frame_rate(p, seconds=4), display=(640, 360)),
    Case("rotated.mp4", make=lambda p, f: clips.rotated(p, _corpus_file(f, CASES["lecture.mp4"]), 90),
         display=(180, 320)),
    Case("uhd.mp4", ("-f", "lavfi", "-i", "testsrc2=s=3840x2160:r=25", *TONE, "-t", "1", *X264, "-c:a", "aac"),
         display=(3840, 2160)),
    # A browser's window recording: VP9 codes odd sizes in 4:2:0 (testsrc: testsrc2 rounds to even).
    Case("window.webm", ("-f", "lavfi", "-i", "testsrc=s=641x361:r=25", *TONE, "-t", "2", "-c:v", "libvpx-vp9",
                         "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p", *_opus()),
         needs=("libvpx-vp9",), display=(641, 361)),
    Case("interpreted.mp4", (*PICTURE, *TONE, "-f", "lavfi", "-i", "sine=f=660", "-t", "3",
                             "-map", "0", "-map", "1", "-map", "2", *X264, "-c:a", "aac",
                             "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=rus"),
         audio_streams=2, interpretations=((1, "ru"),)),
    Case("silent.mp4", (*PICTURE, "-t", "3", *X264), audio_streams=0,
         transcribe_error="silent.mp4: no audio stream to transcribe"),
    Case("empty.mp4", make=lambda p, _: p.write_bytes(b""),
         error="empty.mp4: the file is empty (0 bytes); upload the recording again"),
    Case("cut.mp4", make=_cut("lecture.mp4", 0.5),
         error="cut.mp4: the MP4 file is truncated or damaged (no moov atom); upload the complete recording, "
               "or repair it with the camera's or editor's recovery tool"),
    Case("cut-faststart.mp4", make=lambda p, f: clips.truncated(p, clips.ff_out(
        f / "faststart.mp4", *PICTURE, *TONE, "-t", "3", *X264, "-c:a", "aac", "-movflags", "+faststart"), 0.5),
         error_re=r"cut-faststart\.mp4: the file is truncated \(\d+ of \d+ bytes\); upload the complete recording"),
    # A camcorder card pulled mid-write: TS has no index to miss, so the part that is there publishes.
    # TS muxers send audio a little behind the video, so the cut leaves less audio than video.
    Case("cut.ts", make=_cut("obs.ts", 0.6), short_s=0.5),
]
CASES = {c.name: c for c in ROWS}


def _param(case: Case):
    missing = [e for e in case.needs if e not in ENCODERS]
    return pytest.param(case, id=case.name, marks=pytest.mark.skipif(
        bool(missing), reason=f"{find_ffmpeg()} has no {', '.join(missing)} encoder to make this input"))


def _corpus_file(folder: Path, case: Case) -> Path:
    """The case's input in the session's corpus folder, made on first use."""
    path = folder / case.name
    if not path.exists():
        if case.make:
            case.make(path, folder)
        else:
            clips.ff(*case.args, str(path))
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("case", [_param(c) for c in ROWS])
def test_recording_publishes_or_says_why(case: Case, corpus: Path, tmp_path: Path):
    src = _corpus_file(corpus, case)
    if case.error or case.error_re:
        with pytest.raises(InputError) as e:
            probe_media(src)
        assert str(e.value) == case.error if case.error else re.fullmatch(case.error_re, str(e.value))
        return

    info = probe_media(src)
    assert (info.video.display_width, info.video.display_height) == case.display if case.display else not info.video
    assert len(info.audio) == case.audio_streams
    if info.video:
        assert info.video.field_order == case.field_order
    if case.transcribe_error:
        with pytest.raises(InputError) as e:
            extract_audio(src, info, tmp_path / "speech.wav")
        assert str(e.value) == case.transcribe_error

    ladder_dir = tmp_path / "ladder"
    ladder = transcode_ladder(src, info, OPTS, ladder_dir, interpretations=case.interpretations)
    _check_video(info, ladder, ladder_dir)
    assert [a.audio_stream for a in ladder.audio_renditions] == (
        [0, *(s for s, _ in case.interpretations)] if info.has_audio else [])
    for r in ladder.renditions:
        durations = segment_durations(ladder_dir / r.name / "index.m3u8")
        assert all(x <= OPTS.segment_s + 0.05 for x in durations), (r.name, durations)
        assert -0.25 - case.short_s < sum(durations) - info.duration_s < 0.25, (r.name, durations, info.duration_s)

    poster = make_poster(src, info, tmp_path / "poster.jpg")
    _check_poster(case, info, poster)
    if case.grey is not None:
        assert abs(_grey(poster) - case.grey) <= 3
        assert abs(_grey(_whole(ladder_dir / ladder.video[0].name)) - case.grey) <= 3

    timing = ladder_dir / (ladder.video[0].name if ladder.video else ladder.audio.name)
    first = first_pts_s(timing)
    assert 0 <= first < 0.5
    track = Track(language="en", origin="asr", cues=(Cue(0, 1000, "Hello."),))
    bundle = package_bundle(tmp_path / "bundle", LectureMeta("lecture", "Lecture", "0" * 64), info, ladder, ladder_dir,
                            tracks=(track,), poster=poster)
    vtt = (bundle.root / "subtitles" / "en" / "v1.vtt").read_text(encoding="utf-8")
    assert vtt.splitlines()[1] == f"X-TIMESTAMP-MAP=MPEGTS:{round(first * 90000)},LOCAL:00:00:00.000"
    master = (bundle.root / "master.m3u8").read_text(encoding="utf-8")
    assert all(f"video/{r.name}/index.m3u8" in master for r in ladder.renditions)
    assert ("poster.jpg" in bundle.files) == info.has_video


def _check_video(info, ladder, ladder_dir: Path) -> None:
    if not info.has_video:
        assert ladder.video == ()
        return
    dw, dh = info.video.display_width, info.video.display_height
    assert [r.height for r in ladder.video] == ([h for h in (360, 240) if h <= dh] or [_even(dh)])
    for r in ladder.video:
        assert r.width % 2 == 0 and r.height % 2 == 0
        assert abs(r.width - r.height * dw / dh) <= 2  # the source's aspect ratio
        with av.open(str(next((ladder_dir / r.name).glob("init*.mp4")))) as c:
            cc = c.streams.video[0].codec_context
            assert (cc.width, cc.height) == (r.width, r.height)
    keyframes = [keyframe_times(ladder_dir / r.name) for r in ladder.video]
    assert all(k == keyframes[0] for k in keyframes)
    assert {round(b - a, 2) for a, b in zip(keyframes[0], keyframes[0][1:])} <= {OPTS.gop_s}
    start = keyframes[0][0]
    for x in segment_durations(ladder_dir / ladder.video[0].name / "index.m3u8"):
        assert min(abs(start - k) for k in keyframes[0]) < 0.02, (start, keyframes[0])  # each segment opens on one
        start += x


def _check_poster(case: Case, info, poster: Path | None) -> None:
    if not info.has_video:
        assert poster is None
        return
    with av.open(str(poster)) as c:
        frame = next(c.decode(video=0))
    dw, dh = info.video.display_width, info.video.display_height
    assert frame.height == _even(min(720, dh)) and abs(frame.width - frame.height * dw / dh) <= 2
    assert frame.format.name == "yuvj420p" or frame.color_range == 2  # JPEG is full range


def _even(x: float) -> int:
    return 2 * round(x / 2)


def _grey(path: Path) -> float:
    with av.open(str(path)) as c:
        return float(next(c.decode(video=0)).to_ndarray(format="gray").mean())


def _whole(rendition_dir: Path) -> Path:
    whole = rendition_dir / "whole.mp4"
    whole.write_bytes(b"".join(p.read_bytes() for p in [*sorted(rendition_dir.glob("init*.mp4")),
                                                        *sorted(rendition_dir.glob("seg_*.m4s"))]))
    return whole
