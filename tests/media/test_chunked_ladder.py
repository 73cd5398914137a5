"""The ladder in GOP-aligned time chunks, joined, against the single pass: the same stream, the same layout."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import av
import clips
import pytest

from medialib.config import Rung, load_settings
from medialib.errors import InputError
from medialib.media import chunks
from medialib.media.ladder import plan_ladder, transcode_ladder
from medialib.media.probe import probe_media
from medialib.media.readback import keyframe_times, rendition_packets, segment_durations
from medialib.publish.playlists import _ffmpeg_codecs

OPTS = load_settings().ladder.model_copy(update={"rungs": (Rung(height=360, video_bitrate_kbps=650),
                                                           Rung(height=240, video_bitrate_kbps=300))})


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    d = tmp_path_factory.mktemp("chunked")
    src = clips.with_tone(d / "src.mp4", seconds=18, size="640x360")
    info = probe_media(src)
    transcode_ladder(src, info, OPTS, d / "single")
    ladder = plan_ladder(info, OPTS)
    plan = chunks.plan_chunks(info.duration_s, ladder, OPTS.gop_s, chunk_s=6)
    parts = [chunks.encode_chunk(src, info, ladder, OPTS, c, d / f"chunk{c.index}") for c in plan]
    chunks.encode_audio(src, info, ladder, OPTS, d / "audio")
    chunks.join_chunks([Path(p.out_dir) for p in parts], d / "audio", ladder, d / "joined")
    return d, ladder, plan


def _packets(rendition: Path, kind: str) -> list[tuple[int, bool]]:
    return [(pts, key) for pts, key, _ in rendition_packets(rendition, kind)]


def _first_is_keyframe(rendition: Path, seg: Path) -> bool:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(next(rendition.glob("init*.mp4")).read_bytes() + seg.read_bytes())
        f.flush()
        with av.open(f.name) as c:
            return next(p for p in c.demux(video=0) if p.pts is not None).is_keyframe


def test_plan_cuts_whole_segments_and_folds_a_short_tail():
    ladder = plan_ladder(_fake_info(), OPTS)
    plan = chunks.plan_chunks(3 * 3600 + 100, ladder, OPTS.gop_s, chunk_s=300)
    assert [c.start_frame for c in plan] == [i * 7500 for i in range(36)]
    assert all(c.frame_count == 7500 for c in plan[:-1]) and plan[-1].last
    assert all(c.start_frame % chunks.segment_frames(ladder, OPTS.gop_s) == 0 for c in plan)
    assert len(chunks.plan_chunks(100, ladder, OPTS.gop_s, chunk_s=300)) == 1
    with pytest.raises(InputError, match="audio-only"):
        chunks.plan_chunks(100, dataclasses.replace(ladder, video=()), OPTS.gop_s, chunk_s=300)


def _fake_info():
    from medialib.media.records import AudioStream, MediaInfo, VideoStream

    return MediaInfo("x.mp4", 1, 10.0, "mp4", VideoStream(0, "h264", 1280, 720, 0, 25.0, False),
                     (AudioStream(0, "aac", 2, 48000, None),))


def test_joined_layout_is_the_single_pass_layout(encoded):
    d, ladder, plan = encoded
    assert len(plan) == 3
    names = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*"))  # noqa: E731
    assert names(d / "joined") == names(d / "single")
    assert _ffmpeg_codecs(d / "joined") == _ffmpeg_codecs(d / "single")


@pytest.mark.parametrize("rung", ["360p", "240p"])
def test_every_rung_has_the_single_pass_frames_times_and_segments(encoded, rung):
    d, ladder, _ = encoded
    single, joined = _packets(d / "single" / rung, "video"), _packets(d / "joined" / rung, "video")
    assert len(joined) == 18 * 25  # the source's frames
    assert joined == single  # every presentation time, every keyframe flag
    assert segment_durations(d / "joined" / rung / "index.m3u8") == segment_durations(d / "single" / rung / "index.m3u8")
    assert keyframe_times(d / "joined" / rung) == keyframe_times(d / "single" / rung)
    assert all(_first_is_keyframe(d / "joined" / rung, s) for s in sorted((d / "joined" / rung).glob("seg_*.m4s")))


def test_audio_encoded_once_is_timed_as_in_the_single_pass(encoded):
    d, _, _ = encoded
    audio = _packets(d / "joined" / "audio", "audio")
    assert audio == _packets(d / "single" / "audio", "audio")
    video = _packets(d / "joined" / "360p", "video")
    with av.open(str(d / "joined" / "360p" / "init_0.mp4")) as c:
        v_base = c.streams.video[0].time_base
    with av.open(str(d / "joined" / "audio" / "init_2.mp4")) as c:
        a_base = c.streams.audio[0].time_base
    # the end: last frame + 1/25 s against the last audio packet's end (1024 samples at most)
    v_end = float(video[-1][0] * v_base) + 1 / 25
    a_end = float(audio[-1][0] * a_base) + 1024 / 48000
    assert abs(v_end - a_end) < 0.04
    gaps = [float((b[0] - a[0]) * a_base) for a, b in zip(audio, audio[1:])]
    assert max(gaps) <= 1024 / 48000 + 0.001  # no audio gap over one AAC frame (21 ms)


def test_chunks_with_different_settings_do_not_join(encoded, tmp_path):
    d, ladder, _ = encoded
    import shutil

    for i in (0, 1):
        shutil.copytree(d / f"chunk{i}", tmp_path / f"c{i}")
    (tmp_path / "c1" / "360p" / "init.mp4").write_bytes(b"\0\0\0\x08free")
    for p in (tmp_path / "c1" / "360p").glob("init_*.mp4"):
        p.unlink()
    with pytest.raises(InputError, match="init segments differ"):
        chunks.join_chunks([tmp_path / "c0", tmp_path / "c1"], None, ladder, tmp_path / "out")


def _luma(path: Path) -> list:
    with av.open(str(path)) as c:
        return [fr.to_ndarray(format="gray").astype("int16") for fr in c.decode(video=0)]


def test_ntsc_rate_chunks_hold_the_source_pictures(tmp_path):
    # 30000/1001 is planned as 29.97: seeking to a chunk's exact time can drop its first
    # frame, which the fps filter replaces with the next picture (same count, one wrong frame)
    # 4 chunks of 180 frames: the exact time of frame 540 (18.018018 s as 540/29.97) rounds
    # up past the source's frame in its 1/30000 time base, those of 180 and 360 round down
    src = clips.with_tone(tmp_path / "ntsc.mp4", seconds=24.5, size="320x180", rate="30000/1001")
    info = probe_media(src)
    opts = OPTS.model_copy(update={"rungs": (Rung(height=180, video_bitrate_kbps=400),)})
    ladder = plan_ladder(info, opts)
    plan = chunks.plan_chunks(info.duration_s, ladder, opts.gop_s, chunk_s=6)
    assert [c.start_frame for c in plan] == [0, 180, 360, 540]
    parts = [chunks.encode_chunk(src, info, ladder, opts, c, tmp_path / f"c{c.index}") for c in plan]
    chunks.join_chunks([Path(p.out_dir) for p in parts], None, ladder, tmp_path / "joined")
    joined = tmp_path / "joined" / "180p"
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(next(joined.glob("init*.mp4")).read_bytes())
        for seg in sorted(joined.glob("seg_*.m4s")):
            f.write(seg.read_bytes())
        f.flush()
        out = _luma(Path(f.name))
    source = _luma(src)
    assert len(out) == len(source)
    second = range(1, len(out) - 1)
    diff = lambda i, j: float(abs(out[i] - source[j]).mean())  # noqa: E731
    right = sum(diff(i, i) < min(diff(i, i - 1), diff(i, i + 1)) for i in second)
    assert right == len(second)
