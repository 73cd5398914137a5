"""One long recording across machines, for real: its ladder chunks and Whisper windows run on both workers.

The cluster of test_cluster.py (Prefect's server, the embedded S3, two workers, the second
in its own network and mount namespace when root), its fixture reused. `medialib worker
start` runs Prefect task workers beside each process worker; a recording above the
(shrunk) [chunks] thresholds sends every chunk and window to them with `.delay()`, its
parameters and results through the archive bucket. The published ladder is checked as
tests/e2e/test_chunked_flow.py checks a chunked one: every source frame once, evenly
spaced, every segment whole.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import av
import clips
import jiwer
import pytest
from test_cluster import MEDIALIB, _public_url, _run, cluster, netns  # noqa: F401  (fixtures reused)

from medialib.media.readback import rendition_packets, segment_durations

pytestmark = [pytest.mark.cluster]

SENTENCES = ("Good morning, and welcome to the second session.", "Today we talk about interviews with witnesses.",
             "Ask open questions and let the witness speak without interruption.",
             "Listen carefully, and write down what you hear.",
             "After the interview, read your notes back to the witness.",
             "Then ask the witness to sign each page of the statement.",
             "Finally, file the statement with the case papers the same day.")
CHUNKS = {"LADDER_ABOVE_S": "5", "LADDER_CHUNK_S": "12", "SPEECH_ABOVE_S": "5", "SPEECH_WINDOW_S": "15",
          "SPEECH_SEARCH_S": "4"}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def _frames(folder: Path) -> list[int]:
    return [pts for pts, _, _ in rendition_packets(folder)]


def _received(log: Path) -> dict[str, int]:
    """Task runs a worker's task workers received, by task name (Prefect's task worker logs each)."""
    names = re.findall(r"Received task run: \S+ - (ladder-chunk|ladder-audio|transcribe-window)-",
                       log.read_text(errors="replace"))
    return {n: names.count(n) for n in set(names)}


def test_a_long_recording_is_encoded_and_transcribed_on_both_machines(cluster):
    ssml = "<speak>" + "".join(f'{s} <break time="900ms"/> ' for s in SENTENCES) + "</speak>"
    wav = clips.speech_wav(cluster.recordings / "long.wav", ssml, ssml=True)
    clip = clips.lecture_clip(cluster.recordings / "long.mp4", wav, size="640x360")
    manifest = cluster.recordings / "long.toml"
    manifest.write_text(f'[event]\nname = "Long day"\n[[recording]]\nfile = "{clip.name}"\n'
                        'title = "Long session"\nlanguage = "en"\n', encoding="utf-8")
    env = {**cluster.env, **{f"MEDIALIB_CHUNKS__{k}": v for k, v in CHUNKS.items()}}   # travel with the run
    done = _run(MEDIALIB, "event", "process", str(manifest), env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + "".join(p.read_text()[-3000:]
                                                                     for p in cluster.logs.values())

    # Both machines took chunks or windows; together all of them, each once.
    got = {name: _received(log) for name, log in cluster.logs.items()}
    total = lambda task: sum(g.get(task, 0) for g in got.values())  # noqa: E731
    with av.open(str(clip)) as c:
        duration = float(c.duration) / 1e6
    with av.open(str(clip)) as c:
        source_frames = sum(1 for p in c.demux(video=0) if p.size)
    assert total("ladder-chunk") >= 3 and duration > 25, (got, duration)
    assert total("ladder-audio") == 1 and total("transcribe-window") >= 2, got
    assert all(sum(g.values()) > 0 for g in got.values()), got
    print("task runs received per worker:", got)
    # Each ran under its machine's slots, in its own home (the second machine cannot see the first's).
    for name in cluster.logs:
        assert any((cluster.root / f"worker-{name}" / "slots").glob("*.lock")), name

    # The published ladder: every source frame once, 1/25 s apart, whole 6 s segments.
    catalog = json.loads(_get(_public_url(cluster)))
    entry = next(e for e in catalog if e["title"] == "Long session")
    base = _public_url(cluster).removesuffix("catalog.json") + entry["master"].rsplit("/", 1)[0] + "/"
    master = _get(base + "master.m3u8").decode()
    rung = re.search(r"^video/([^/]+)/index\.m3u8$", master, re.M).group(1)
    local = cluster.root / "long-published" / rung
    local.mkdir(parents=True)
    playlist = _get(base + f"video/{rung}/index.m3u8").decode()
    (local / "index.m3u8").write_text(playlist)
    names = re.findall(r'URI="([^"]+)"', playlist) + [ln for ln in playlist.splitlines() if ln.endswith(".m4s")]
    for n in names:
        (local / n).write_bytes(_get(base + f"video/{rung}/{n}"))
    frames = _frames(local)
    assert len(frames) == source_frames
    pts = sorted(frames)
    assert len(set(pts)) == len(pts) and {b - a for a, b in zip(pts, pts[1:])} == {512}   # 1/25 s at 1/12800
    assert all(abs(x - 6.0) < 1e-6 for x in segment_durations(local / "index.m3u8")[:-1])

    # The transcript, merged from windows decoded on two machines, reads like the speech.
    assert "subtitles/en/index.m3u8" in master
    text = " ".join(w["text"] for w in json.loads(_get(base + "transcript.json"))["words"])
    clean = lambda t: " ".join(re.sub(r"[^a-z' ]", " ", t.lower()).split())  # noqa: E731
    assert jiwer.wer(clean(" ".join(SENTENCES)), clean(text)) < 0.3, text


def test_runs_find_the_task_workers_and_distribute_false_keeps_chunks_home(cluster):
    """A run distributes only when task workers serve chunks and [chunks] distribute is on."""
    probe = ("import os, json; from medialib_app import cluster; cluster.apply_join(None); "
             "from medialib.config import load_settings; from medialib_flows import chunked; "
             "s = load_settings(); print(json.dumps([chunked.task_workers_serving(s.chunks), "
             "chunked.task_workers_serving(s.chunks.model_copy(update={'distribute': False}))]))")
    out = subprocess.run([str(Path(MEDIALIB).with_name("python")), "-c", probe], env=cluster.env,
                         capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, False], out.stderr


def test_a_chunk_whose_task_worker_dies_is_handed_to_another(cluster):
    """The task worker that takes the first chunk or audio is killed (as a machine running only
    `medialib worker tasks` would die): the lecture's run hands what it held out again and completes.

    Only the task-serving process dies, not the lecture's run, wherever that runs. Last in
    this module: it leaves one worker serving tasks.
    """
    text = "<speak>" + "".join(f'{s} <break time="700ms"/> ' for s in reversed(SENTENCES[:5])) + "</speak>"
    wav = clips.speech_wav(cluster.recordings / "dies.wav", text, ssml=True)
    clip = clips.lecture_clip(cluster.recordings / "dies.mp4", wav, size="640x360")
    manifest = cluster.recordings / "dies.toml"
    manifest.write_text(f'[event]\nname = "Dies"\n[[recording]]\nfile = "{clip.name}"\n'
                        'title = "Dies session"\nlanguage = "en"\n', encoding="utf-8")
    env = {**cluster.env, "MEDIALIB_CHUNKS__LADDER_ABOVE_S": "5", "MEDIALIB_CHUNKS__LADDER_CHUNK_S": "6",
           "MEDIALIB_CHUNKS__TASK_TIMEOUT_S": "150"}   # a run never handed out again fails, not hangs
    seen = {name: len(_received_lines(log)) for name, log in cluster.logs.items()}
    log = cluster.root / "dies.log"
    with open(log, "wb") as out:
        event = subprocess.Popen([MEDIALIB, "event", "process", str(manifest)], env=env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        victim = None
        while victim is None:
            assert time.monotonic() < deadline and event.poll() is None, log.read_text()
            victim = next((n for n, f in cluster.logs.items() if _received_lines(f)[seen[n]:]), None)
            time.sleep(0.1)
        server = _task_server(cluster, victim)
        os.killpg(server, signal.SIGKILL)   # it and its ffmpeg
        assert event.wait(timeout=300) == 0, log.read_text()
    finally:
        if event.poll() is None:
            os.killpg(event.pid, signal.SIGKILL)
    assert "went away; handed out again" in "".join(f.read_text() for f in cluster.logs.values())
    catalog = json.loads(_get(_public_url(cluster)))
    assert "Dies session" in {e["title"] for e in catalog}


def _task_server(cluster, name: str) -> int:
    """PID of the `worker tasks` process that `worker start` runs beside a worker's process worker."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat, cmdline = (entry / "stat").read_text(), (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == cluster.workers[name].pid \
                    and b"worker\x00tasks" in cmdline:
                return int(entry.name)
    raise AssertionError(f"no task server beside worker {name}")


def _received_lines(log: Path) -> list[str]:
    return [ln for ln in log.read_text(errors="replace").splitlines() if "Received task run:" in ln]
