"""Probe, validation and ladder on real (tiny) media with the real ffmpeg."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import av
import clips
import numpy as np
import pytest

from medialib.config import load_settings
from medialib.errors import InputError
from medialib.media.audio import extract_audio
from medialib.media.ffmpeg import find_ffmpeg
from medialib.media.ladder import deinterlace_filter, make_poster, plan_ladder, transcode_ladder
from medialib.media.probe import probe_media
from medialib.media.readback import first_pts_s, keyframe_times, segment_durations
from medialib.publish.bundle import LectureMeta, package_bundle
from medialib.subtitles.cues import Cue, Track


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def ladder_opts():
    return load_settings().ladder


def _message(path) -> str:
    with pytest.raises(InputError) as e:
        probe_media(path)
    return str(e.value)


# ------------------------------------------------------------------ bad input: exact messages


def test_zero_bytes(d):
    p = d / "empty.mp4"
    p.write_bytes(b"")
    assert _message(p) == "empty.mp4: the file is empty (0 bytes); upload the recording again"


def test_not_a_media_file(d):
    p = d / "notes.mp4"
    p.write_text("Minutes of the meeting\n" * 50)
    assert _message(p) == ("notes.mp4: not a media file ffmpeg can read; "
                           "upload a video or audio recording (MP4, MOV, MKV, WebM, MP3, WAV...)")


def test_truncated_mp4_without_index(d):
    src = clips.with_tone(d / "whole.mp4", seconds=4)
    p = clips.truncated(d / "cut.mp4", src, 0.5)
    assert _message(p) == ("cut.mp4: the MP4 file is truncated or damaged (no moov atom); upload the complete "
                           "recording, or repair it with the camera's or editor's recovery tool")


def test_truncated_mp4_with_index_first(d):
    src = clips.with_tone(d / "faststart.mp4", seconds=4, oextra=("-movflags", "+faststart"))
    p = clips.truncated(d / "cut-fs.mp4", src, 0.5)
    msg = _message(p)
    assert msg.startswith("cut-fs.mp4: the file is truncated (")
    assert msg.endswith("bytes); upload the complete recording")


def test_unreadable_codec(d):
    p = clips.unknown_codec_wav(d / "odd-codec.wav")
    assert _message(p) == ("odd-codec.wav: audio stream 0 uses a codec ffmpeg cannot decode; "
                           "re-export the recording as MP4 (H.264/AAC) or PCM WAV")


def test_missing_file(d):
    assert _message(d / "nope.mp4") == f"{d / 'nope.mp4'}: no such file; check the path"


# ------------------------------------------------------------------ sources that must work


def test_video_without_audio_probes_and_plans_video_only(d, ladder_opts):
    info = probe_media(clips.video_only(d / "silent-film.mp4"))
    assert info.has_video and not info.has_audio
    ladder = plan_ladder(info, ladder_opts)
    assert ladder.audio is None and [r.height for r in ladder.video] == [360]
    with pytest.raises(InputError, match="no audio stream to transcribe"):
        extract_audio(d / "silent-film.mp4", info, d / "x.wav")


def test_4k_source_is_capped_at_the_top_rung(d, ladder_opts):
    info = probe_media(clips.video_only(d / "uhd.mp4", seconds=1, size="3840x2160"))
    ladder = plan_ladder(info, ladder_opts)
    assert [(r.width, r.height) for r in ladder.video] == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]


def test_odd_dimensions_give_even_renditions(d, ladder_opts):
    # testsrc, not testsrc2 (which rounds to 640x360); 4:4:4, since x264 cannot code odd sizes in 4:2:0
    src = clips.ff_out(d / "odd.mp4", "-f", "lavfi", "-i", "testsrc=s=641x361:r=25", "-t", "3",
                       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p")
    info = probe_media(src)
    assert (info.video.width, info.video.height) == (641, 361)
    ladder = transcode_ladder(src, info, ladder_opts, d / "odd-out")
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in ladder.video)
    with av.open(str(next((d / "odd-out" / ladder.video[0].name).glob("init*.mp4")))) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (ladder.video[0].width, ladder.video[0].height)


def test_rotated_phone_video_comes_out_upright(d, ladder_opts):
    landscape = clips.with_tone(d / "phone-raw.mp4", seconds=3, size="640x360")
    src = clips.rotated(d / "phone.mp4", landscape, 90)
    info = probe_media(src)
    assert info.video.rotation_deg in (90, 270)
    assert (info.video.display_width, info.video.display_height) == (360, 640)
    ladder = transcode_ladder(src, info, ladder_opts, d / "phone-out")
    top = ladder.video[0]
    assert top.height > top.width  # portrait, as the phone showed it
    with av.open(str(next((d / "phone-out" / top.name).glob("init*.mp4")))) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.width, cc.height) == (top.width, top.height)


def test_variable_frame_rate_comes_out_constant_with_aligned_keyframes(d, ladder_opts):
    src = clips.variable_frame_rate(d / "vfr.mp4")
    info = probe_media(src)
    ladder = transcode_ladder(src, info, ladder_opts, d / "vfr-out")
    assert ladder.frame_rate > 0 and ladder.gop_frames == round(ladder.frame_rate * ladder_opts.gop_s)
    times = [keyframe_times(d / "vfr-out" / r.name) for r in ladder.video]
    assert all(t == times[0] for t in times)
    gaps = {round(b - a, 2) for a, b in zip(times[0], times[0][1:])}
    assert gaps == {ladder_opts.gop_s}


def test_audio_only_recording_gives_audio_only_ladder(d, ladder_opts):
    wav = clips.speech_wav(d / "talk.wav", "Short audio only test.")
    src = clips.audio_only(d / "talk.m4a", wav)
    info = probe_media(src)
    assert not info.has_video and info.has_audio
    ladder = transcode_ladder(src, info, ladder_opts, d / "talk-out")
    assert ladder.video == () and ladder.audio is not None
    assert segment_durations(d / "talk-out" / "audio" / "index.m3u8")


def test_audio_only_bundle_is_timed_by_its_audio(d, ladder_opts):
    # talk.mp3 crashed at packaging: the X-TIMESTAMP-MAP reader demuxed a video stream that is not there.
    src = clips.ff_out(d / "talk.mp3", "-f", "lavfi", "-i", "sine=f=220", "-t", "3", "-c:a", "libmp3lame")
    info = probe_media(src)
    ladder = transcode_ladder(src, info, ladder_opts, d / "mp3-out")
    first = first_pts_s(d / "mp3-out" / "audio")
    assert 0 <= first < 0.1
    track = Track(language="en", origin="asr", cues=(Cue(0, 1500, "Hello."),))
    bundle = package_bundle(d / "mp3-bundle", LectureMeta("talk", "Talk", "0" * 64), info, ladder, d / "mp3-out",
                            tracks=(track,))
    vtt = (bundle.root / "subtitles" / "en" / "v1.vtt").read_text(encoding="utf-8")
    assert vtt.splitlines()[1] == f"X-TIMESTAMP-MAP=MPEGTS:{round(first * 90000)},LOCAL:00:00:00.000"
    assert "video/audio/index.m3u8" in (bundle.root / "master.m3u8").read_text(encoding="utf-8")
    assert "poster.jpg" not in bundle.files


def test_poster_from_mpegts_whose_seek_lands_after_the_last_keyframe(d):
    # An MP4 that publishes fine, remuxed to MPEG-TS: TS has no keyframe index, so `-ss` before
    # `-i` lands between keyframes, and here no keyframe follows (x264's default GOP of 250
    # frames is longer than the clip): no picture reached the encoder and the poster failed.
    mp4 = clips.with_tone(d / "long-gop.mp4", seconds=6, size="320x180")
    ts = clips.ff_out(d / "long-gop.ts", "-i", str(mp4), "-c", "copy", "-f", "mpegts")
    info = probe_media(ts)
    poster = make_poster(ts, info, d / "long-gop.jpg")
    with av.open(str(poster)) as c:
        frame = next(c.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)
    # the picture from 10% in (0.6 s), not the first frame of the file
    with av.open(str(mp4)) as c:
        source = [f.to_ndarray(format="gray").astype(int) for f in c.decode(video=0)]
    at = min(range(len(source)), key=lambda i: abs(source[i] - frame.to_ndarray(format="gray")).mean())
    assert abs(at - 0.6 * 25) <= 1  # within a frame (TS start times shift the grid by 0.023 s)


def _interlace_counts(rendition_dir) -> dict[str, int]:
    """ffmpeg idet's multi-frame verdicts over a whole fMP4 rendition: combing shows as TFF/BFF frames."""
    whole = rendition_dir / "whole.mp4"
    whole.write_bytes(b"".join(p.read_bytes() for p in [*sorted(rendition_dir.glob("init*.mp4")),
                                                        *sorted(rendition_dir.glob("seg_*.m4s"))]))
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(whole), "-vf", "idet", "-f", "null", "-"]
    err = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=True).stderr
    line = [x for x in err.splitlines() if "Multi frame detection" in x][-1]
    return {k: int(v) for k, v in re.findall(r"(TFF|BFF|Progressive|Undetermined):\s*(\d+)", line)}


def _comb(jpeg) -> float:
    """Mean distance of each line from the mean of its neighbours (the other field): high when combed."""
    with av.open(str(jpeg)) as c:
        y = next(c.decode(video=0)).to_ndarray(format="gray").astype(float)
    return float(np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean())


def test_interlaced_1080i_is_deinterlaced_at_its_frame_rate(d, ladder_opts):
    src = clips.interlaced(d / "camcorder.mts", seconds=2, extra=("-f", "mpegts"))
    info = probe_media(src)
    assert info.video.field_order == "tff" and info.video.frame_rate == 25
    opts = ladder_opts.model_copy(update={"rungs": ladder_opts.rungs[:1]})  # 1080: no scaling to hide combing
    ladder = transcode_ladder(src, info, opts, d / "mts-out")
    assert ladder.frame_rate == 25  # frames, not fields: 50i gives 25p
    counts = _interlace_counts(d / "mts-out" / "1080p")
    # Scaled as progressive (before this fix), idet calls 50 of 50 frames TFF. Its multi-frame
    # verdict starts from the stream's flag, so it may still call the first few frames TFF.
    assert counts["Progressive"] >= 40 and counts["TFF"] + counts["BFF"] <= 5, counts
    as_progressive = dataclasses.replace(info, video=dataclasses.replace(info.video, field_order="progressive"))
    poster = make_poster(src, info, d / "mts.jpg", height=1080)
    combed = make_poster(src, as_progressive, d / "mts-combed.jpg", height=1080)
    assert _comb(poster) < 0.5 * _comb(combed)


def test_bottom_field_first_is_deinterlaced_with_bottom_parity(d):
    info = probe_media(clips.interlaced(d / "dv.mp4", seconds=1, size="720x576", field="bff"))
    assert info.video.field_order == "bff"
    assert deinterlace_filter(info) == "bwdif=mode=send_frame:parity=bff:deint=interlaced,"
    assert deinterlace_filter(probe_media(clips.video_only(d / "progressive.mp4", seconds=1))) == ""


def test_ladder_segments_and_keyframes_align_across_rungs(d, ladder_opts):
    src = clips.with_tone(d / "hd.mp4", seconds=14, size="1280x720")
    info = probe_media(src)
    ladder = transcode_ladder(src, info, ladder_opts, d / "hd-out")
    assert [r.height for r in ladder.video] == [720, 480, 360]
    durations = [segment_durations(d / "hd-out" / r.name / "index.m3u8") for r in ladder.renditions]
    for ds in durations:
        assert all(x <= ladder_opts.segment_s + 0.05 for x in ds)
        assert abs(sum(ds) - info.duration_s) < 0.2
    video_durations = durations[: len(ladder.video)]
    assert all(ds == video_durations[0] for ds in video_durations)
    keyframes = [keyframe_times(d / "hd-out" / r.name) for r in ladder.video]
    assert all(k == keyframes[0] for k in keyframes)


def test_extract_audio_is_16k_mono(d):
    src = clips.with_tone(d / "tone.mp4", seconds=2)
    info = probe_media(src)
    out = extract_audio(src, info, d / "tone.wav")
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert (a.codec_context.sample_rate, a.codec_context.channels) == (16000, 1)
