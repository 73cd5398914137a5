"""flows/chunked.py on the real stack: a chunked ladder and windowed Whisper give what the one-piece stages give."""

from __future__ import annotations

from pathlib import Path

import av
import clips
import jiwer
import pytest

from medialib import storage
from medialib.media.readback import rendition_packets, segment_durations

SENTENCES = ("Good morning, and welcome to the second session.", "Today we talk about interviews with witnesses.",
             "Ask open questions and let the witness speak without interruption.",
             "Listen carefully, and write down what you hear.")


@pytest.fixture(scope="module")
def runs(flow_harness, tmp_path_factory):
    from prefect import flow

    from medialib.pipeline import stages
    from medialib.pipeline.records import LectureRequest
    from medialib_flows.chunked import chunked_ladder, use_chunked_ladder, use_windows, windowed_transcript
    from medialib_flows.process_lecture import settings

    d = tmp_path_factory.mktemp("chunked-flow")
    ssml = "<speak>" + "".join(f'{s} <break time="900ms"/> ' for s in SENTENCES) + "</speak>"
    clip = clips.lecture_clip(d / "talk.mp4", clips.speech_wav(d / "talk.wav", ssml, ssml=True), size="640x360")
    s = settings()
    chunk_opts = s.chunks.model_copy(update={"ladder_above_s": 5, "ladder_chunk_s": 6, "speech_above_s": 5,
                                             "speech_window_s": 12, "speech_search_s": 4})
    ladder_opts = s.ladder.model_copy(update={"rungs": s.ladder.rungs[-1:]})
    home = Path(d / "home")

    @flow
    def both():
        lecture = stages.start_lecture(LectureRequest(source=str(clip), title="chunked"), s.storage)
        ing = lecture.ingested
        assert use_chunked_ladder(ing.info, chunk_opts) and use_windows(ing.info.duration_s, chunk_opts)
        audio_key = stages.audio_stage(ing, s.storage, home)
        one = stages.transcribe_stage(audio_key, ing.lecture_id, s.storage, s.speech, home, language=None)
        one_json = storage.get_bytes(storage.make_client(s.storage), s.storage.archive_bucket, one.key)
        windowed = windowed_transcript(ing, audio_key, s.storage, s.speech, chunk_opts, home, None)
        chunked = chunked_ladder(ing, s.storage, ladder_opts, chunk_opts, home, lecture.roles, flow_opts=s.flow)
        return ing, (one, one_json), windowed, chunked

    return (*both(), s.storage, d)


def _frames(folder: Path) -> list[int]:
    return [pts for pts, _, _ in rendition_packets(folder)]


def test_windowed_transcript_is_stored_where_one_pass_stores_it_and_reads_alike(runs):
    ing, (one, one_json), windowed, _, opts, _ = runs
    assert windowed.key == one.key and windowed.language == one.language == "en"
    client = storage.make_client(opts)
    import json

    words = lambda data: " ".join(w[2] for w in json.loads(data)["words"])  # noqa: E731
    clean = lambda t: " ".join(t.lower().replace(".", " ").replace(",", " ").split())  # noqa: E731
    ref = clean(" ".join(SENTENCES))
    assert windowed.word_count > 0
    windowed_json = storage.get_bytes(client, opts.archive_bucket, windowed.key)
    assert jiwer.wer(ref, clean(words(windowed_json))) <= jiwer.wer(ref, clean(words(one_json))) + 0.01


def test_chunked_ladder_lands_in_the_ladder_layout(runs):
    ing, _, _, chunked, opts, d = runs
    local = d / "downloaded"
    storage.download_tree(storage.make_client(opts), opts.archive_bucket, chunked.prefix + "/", local)
    rung = chunked.ladder.video[0].name
    names = sorted(p.name for p in (local / rung).iterdir())
    assert names[0] == "index.m3u8" and "init_0.mp4" in names
    assert (local / "audio" / "init_1.mp4").exists() and (local / "poster.jpg").exists()
    assert (local / "ffmpeg-master.m3u8").exists()
    frames = _frames(local / rung)
    with av.open(ing.local_path) as c:
        assert len(frames) == sum(1 for p in c.demux(video=0) if p.size)  # the source's frames
    pts = sorted(frames)
    assert len(set(pts)) == len(pts) and {b - a for a, b in zip(pts, pts[1:])} == {512}  # 1/25 s at 1/12800
    assert all(abs(x - 6.0) < 1e-6 for x in segment_durations(local / rung / "index.m3u8")[:-1])


def test_process_lecture_takes_the_chunked_path_for_a_long_recording(runs, monkeypatch):
    """Above [chunks] thresholds process_lecture makes the ladder in chunks and the transcript in windows."""
    import urllib.request

    import medialib_flows.chunked as chunked_flows
    from medialib_flows.process_lecture import process_lecture

    _, _, _, _, _, d = runs
    for name, value in {"LADDER_ABOVE_S": "5", "LADDER_CHUNK_S": "6", "SPEECH_ABOVE_S": "5",
                        "SPEECH_WINDOW_S": "12", "SPEECH_SEARCH_S": "4"}.items():
        monkeypatch.setenv(f"MEDIALIB_CHUNKS__{name}", value)
    calls = []
    for name in ("chunked_ladder", "windowed_transcript"):
        real = getattr(chunked_flows, name)
        monkeypatch.setattr(chunked_flows, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name),
                                                                                          _real(*a, **k))[1])
    published = process_lecture(source=str(d / "talk.mp4"), title="Chunked lecture", language="en")
    assert sorted(calls) == ["chunked_ladder", "windowed_transcript"]
    assert published.languages == ("en",)
    with urllib.request.urlopen(published.master_url, timeout=30) as r:
        master = r.read().decode()
    assert "subtitles/en/index.m3u8" in master and "video/360p/index.m3u8" in master
