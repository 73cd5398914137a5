"""End-to-end and memory benchmarks of process_lecture on the embedded default.

    .venv/bin/python bench/pipeline.py e2e --minutes 10      # wall, CPU-s per stage, efficiency, Prefect share
    .venv/bin/python bench/pipeline.py memory --minutes 60   # peak RSS of the whole process tree, low ladder
    .venv/bin/python bench/pipeline.py growth                # peak MB per duration-dependent step, 10 vs 30 min

Runs the real path a user runs: a real SeaweedFS (on a free loopback port, temporary
data), Prefect in ephemeral mode, real ffmpeg and Whisper base. The input is a
synthetic lecture (slides and espeak-ng speech) cached in bench/out/.

Definitions
- stage CPU-s: ffmpeg stages (ladder, audio) count the ffmpeg processes' own CPU (wait4);
  Python stages (ingest, transcribe, cues, publish) count this process's CPU while the
  stage ran.
- efficiency = (sum of stage CPU-s / cores) / wall: how busy the stages kept the machine.
- Prefect share = (wall - critical path of stage walls) / wall, where the critical path
  is ingest + max(ladder, audio + transcribe + cues) + publish: the time spent in
  Prefect itself (ephemeral server start, task orchestration, result persistence).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parents[1]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

PARAGRAPHS = [
    "Good morning, everyone. Today we continue our course on investigative interviewing, "
    "and we start with planning. Before any interview, read the case file, write down what you "
    "already know, and decide what you still need to learn from the witness.",
    "The second step is engage and explain. Introduce yourself, explain the purpose of the interview, "
    "and make sure the witness understands their rights. A calm room and a clear explanation help "
    "the witness remember more.",
    "Then comes the account. Ask the witness to tell everything, in their own words, from the beginning. "
    "Do not interrupt. Use open questions, such as: what happened next, or describe the person you saw.",
    "When the free account is finished, probe the topics one by one. Summarise each topic and check it "
    "with the witness. Avoid leading questions, because they can change what the witness remembers.",
    "Closure matters as much as the opening. Thank the witness, explain what happens next, and give "
    "them a way to contact you if they remember something new.",
    "Finally, evaluate the interview. What did you learn, what is still missing, and how could you "
    "improve your own technique next time? Write it down while it is fresh.",
]


def ffmpeg() -> str:
    from medialib.media.ffmpeg import find_ffmpeg

    return find_ffmpeg()


def make_lecture(minutes: float, height: int) -> Path:
    """A slides-and-speech lecture of the given length, cached by its parameters."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"lecture-{minutes:g}min-{height}p.mp4"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wavs = []
        for i, text in enumerate(PARAGRAPHS):
            w = tmp / f"p{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(w), text], check=True)
            wavs.append(w)
        # one pass of all paragraphs with 1.5 s pauses, looped to the length asked for
        concat = tmp / "list.txt"
        silence = tmp / "pause.wav"
        subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1.5",
                        str(silence)], check=True)
        concat.write_text("".join(f"file '{w}'\nfile '{silence}'\n" for w in wavs))
        one = tmp / "one.wav"
        subprocess.run([ffmpeg(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(concat), "-c", "copy",
                        str(one)], check=True)
        seconds = minutes * 60
        width = int(round(height * 16 / 9 / 2)) * 2
        vf = (f"drawtext=fontfile={FONT}:text='Investigative interviewing':fontcolor=white:fontsize={height // 14}"
              f":x=(w-text_w)/2:y=h/4,drawtext=fontfile={FONT}:text='Slide %{{eif\\:floor(t/20)+1\\:d}}'"
              f":fontcolor=white:fontsize={height // 20}:x=(w-text_w)/2:y=h/2")
        subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", f"color=c=0x1d3557:s={width}x{height}:r=25",
                        "-f", "lavfi", "-i", f"testsrc2=s={width // 4}x{height // 4}:r=25",
                        "-stream_loop", "-1", "-i", str(one),
                        "-filter_complex", f"[0:v]{vf}[bg];[bg][1:v]overlay=W-w-20:H-h-20[v]",
                        "-map", "[v]", "-map", "2:a", "-t", str(seconds),
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "96k", str(out)], check=True)
    return out


def proc_cpu_s(pid: int | str = "self") -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(root: int, exclude: set[int]) -> float:
    """Resident memory of root and all its descendants (minus excluded pids), in MB."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in exclude:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total / 1024


def run(kind: str, minutes: float, height: int) -> None:
    src = make_lecture(minutes, height)
    work = Path(tempfile.mkdtemp(prefix="medialib-bench-"))
    os.environ.update({"MEDIALIB_HOME": str(work / "home"), "PREFECT_LOGGING_LEVEL": "WARNING"})
    if kind == "memory":  # a low ladder: the memory target is about long recordings, not many rungs
        os.environ["MEDIALIB_LADDER__RUNGS"] = "[{height = 360, video_bitrate_kbps = 650}]"
    from medialib import media
    from medialib.config import load_settings
    from medialib.pipeline import stages
    from medialib.storage import embedded

    settings = load_settings()
    data_dir = work / "seaweedfs"
    # a SIGTERM (someone stopping the benchmark) still runs the finally below and stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = embedded.start_server(settings.embedded.model_copy(update={"s3_port": 0}), data_dir, detach=False)
    os.environ.update({
        "MEDIALIB_STORAGE__ENDPOINT_URL": server.endpoint_url,
        "MEDIALIB_STORAGE__ACCESS_KEY_ID": server.access_key_id,
        "MEDIALIB_STORAGE__SECRET_ACCESS_KEY": server.secret_access_key,
    })
    from medialib import storage

    opts = load_settings().storage
    storage.ensure_buckets(storage.make_client(opts), opts)
    stage_wall: dict[str, float] = {}
    stage_cpu: dict[str, float] = {}
    lock = threading.Lock()

    active: dict[str, int] = {}   # stages running now (a peak is charged to each of them)

    def timed(name: str, fn):
        def wrapper(*a, **k):
            t0, c0 = time.monotonic(), proc_cpu_s()
            with lock:
                active[name] = active.get(name, 0) + 1
            try:
                return fn(*a, **k)
            finally:
                with lock:
                    active[name] -= 1
                    stage_wall[name] = stage_wall.get(name, 0) + time.monotonic() - t0
                    stage_cpu[name] = stage_cpu.get(name, 0) + proc_cpu_s() - c0
        return wrapper

    tool_cpu: dict[str, float] = {}

    def on_tool(run):
        stage = "ladder" if ("ladder" in run.what or "poster" in run.what) else "audio"
        with lock:
            tool_cpu[stage] = tool_cpu.get(stage, 0) + run.cpu_s

    media.on_tool_run(on_tool)
    for name in ("ingest_recording", "ladder_stage", "audio_stage", "peaks_stage", "transcribe_stage", "cues_stage",
                 "publish_stage"):
        setattr(stages, name, timed(name.replace("_stage", "").replace("_recording", ""), getattr(stages, name)))
    from medialib.pipeline import chunked   # a long recording's chunks and windows (flows/chunked.py)

    for name in ("ladder_chunk_stage", "ladder_audio_stage", "join_ladder_stage", "transcribe_window_stage",
                 "merge_windows_stage"):
        setattr(chunked, name, timed(name.replace("_stage", ""), getattr(chunked, name)))

    peak = {"tree": 0.0}
    stage_peak: dict[str, float] = {}   # the tree's peak while the stage ran (shared with whatever overlapped)
    self_peak: dict[str, float] = {}    # this Python process alone, same attribution
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            tree = tree_rss_mb(os.getpid(), exclude={server.pid})
            me = int(next(ln for ln in open("/proc/self/status") if ln.startswith("VmRSS:")).split()[1]) / 1024
            peak["tree"] = max(peak["tree"], tree)
            with lock:
                for name, n in active.items():
                    if n:
                        stage_peak[name] = max(stage_peak.get(name, 0.0), tree)
                        self_peak[name] = max(self_peak.get(name, 0.0), me)
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    from medialib_flows.process_lecture import process_lecture

    t0, c0 = time.monotonic(), proc_cpu_s()
    try:
        published = process_lecture(source=str(src), title=f"Benchmark lecture {minutes:g} min", language="en")
    finally:
        wall = time.monotonic() - t0
        stop.set()
        sampler.join()
        embedded.stop_server(data_dir)
    cores = os.cpu_count() or 1
    # ffmpeg stages: the child's own CPU; Python stages: process CPU while they ran.
    cpu = {s: stage_cpu.get(s, 0.0) for s in ("ingest", "transcribe", "cues", "publish")}
    # ladder and audio overlap transcription, so their process CPU would count Whisper twice:
    # count only their ffmpeg processes (their uploads' CPU is left out: a conservative figure).
    cpu["ladder"] = tool_cpu.get("ladder", 0.0)
    cpu["audio"] = tool_cpu.get("audio", 0.0)
    critical = (stage_wall.get("ingest", 0) + max(stage_wall.get("ladder", 0), stage_wall.get("audio", 0)
                + stage_wall.get("transcribe", 0) + stage_wall.get("cues", 0)) + stage_wall.get("publish", 0))
    efficiency = (sum(cpu.values()) / cores) / wall
    prefect_share = max(0.0, wall - critical) / wall
    print(f"input: {src.name}, {minutes:g} min, {height}p; published {published.lecture_id}")
    print(f"{'stage':<11}{'wall s':>9}{'CPU s':>9}")
    for s in ("ingest", "ladder", "audio", "transcribe", "cues", "publish"):
        print(f"{s:<11}{stage_wall.get(s, 0):>9.1f}{cpu[s]:>9.1f}")
    print(f"{'whole run':<11}{wall:>9.1f}{proc_cpu_s() - c0 + sum(tool_cpu.values()):>9.1f}  (cores: {cores})")
    if kind == "e2e":
        print(f"e2e: wall {wall:.0f} s for {minutes:g} min ({wall / (minutes * 60):.2f}x realtime); "
              f"efficiency {efficiency:.2f} (target >= 0.85); Prefect share {prefect_share:.1%} (target <= 10%)")
    else:
        print("peak MB while each stage ran (tree / this process; overlapping stages share a peak):")
        for name in stage_peak:
            print(f"    {name:<11}{stage_peak[name]:>7.0f}{self_peak[name]:>7.0f}")
        print(f"memory: peak RSS of the process tree {peak['tree']:.0f} MB for a {minutes:g}-minute recording "
              f"(target <= 1000 MB; the S3 server excluded)")


GROWTH_CODE = r"""
import json, resource, sys, wave
from pathlib import Path
import numpy as np
from medialib.media.peaks import compute_peaks
from medialib.speech import whisper
from medialib.speech.transcript import Transcript, Word
what, wav, minutes = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) / 1024
base = rss_mb()
if what in ("windows-memmap", "windows"):
    if what == "windows-memmap":   # how transcription read the WAV before PcmFile
        with wave.open(str(wav)) as w:
            n = w.getnframes()
        audio = np.memmap(wav, dtype="<i2", mode="r", offset=44, shape=(n,))
    else:
        audio = whisper._open_audio(wav)
    for _, window in whisper._windows(audio):
        x = window.astype("float32") / 32768.0   # what transcribe_audio hands Whisper
        del x
elif what == "peaks":
    data = json.dumps(compute_peaks(wav).to_json(), separators=(",", ":")).encode()
elif what == "transcript":   # 150 words a minute, as transcribe_stage stores them
    words = tuple(Word(i * 400, i * 400 + 300, "word", 0.9) for i in range(int(minutes * 150)))
    t = Transcript("en", 0.99, int(minutes * 60000), words, "whisper-base")
    data = json.dumps(t.to_json(), ensure_ascii=False).encode()
    back = Transcript.from_json(json.loads(data))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{peak - base:.1f}")
"""


def memory_growth(minutes_list: list[float]) -> None:
    """Peak memory above the imports, per duration-dependent step, each in a fresh process (MB)."""
    import wave

    import numpy as np

    OUT.mkdir(parents=True, exist_ok=True)
    steps = ("windows-memmap", "windows", "peaks", "transcript")
    print(f"{'step':<16}" + "".join(f"{m:>9g} min" for m in minutes_list))
    rows: dict[str, list[str]] = {s: [] for s in steps}
    for minutes in minutes_list:
        wav = OUT / f"noise-{minutes:g}min-16k.wav"
        if not wav.exists():
            rng = np.random.default_rng(0)
            with wave.open(str(wav), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
                for _ in range(int(minutes)):
                    w.writeframes((rng.standard_normal(16000 * 60) * 3000).astype("<i2").tobytes())
        for step in steps:
            out = subprocess.run([sys.executable, "-c", GROWTH_CODE, step, str(wav), str(minutes)], check=True,
                                 capture_output=True, text=True).stdout.strip()
            rows[step].append(out)
    for step in steps:
        print(f"{step:<16}" + "".join(f"{v:>13}" for v in rows[step]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["e2e", "memory", "growth"],
                   help="growth: peak MB of each duration-dependent step at 10 and 30 minutes, no pipeline")
    p.add_argument("--minutes", type=float, default=None, help="length of the lecture (e2e: 10, memory: 60)")
    p.add_argument("--height", type=int, default=None, help="source height (e2e: 720, memory: 360)")
    a = p.parse_args()
    minutes = a.minutes or (10 if a.kind == "e2e" else 60)
    height = a.height or (720 if a.kind == "e2e" else 360)
    sys.path.insert(0, str(ROOT))
    if a.kind == "growth":
        memory_growth([a.minutes] if a.minutes else [10, 30])
        return
    run(a.kind, minutes, height)


if __name__ == "__main__":
    main()
