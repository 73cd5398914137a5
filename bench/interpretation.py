"""Benchmark: interpreter alignment on a fixture with a known, varying lag and paraphrase.

Target: the mean absolute offset of cue starts from the truth is <= 300 ms, and no cue
starts before the floor speech it interprets.

The fixture (tests/interpretation_fixture.py): 12 English sentences from a lecture on
investigative interviewing (espeak-ng, audio stream 0) and a Russian interpreter
(festival, audio stream 1) who paraphrases them (shorter, longer, other word order) and
starts each 1.5-3.5 s after the floor sentence starts. Both streams go through the
product's path: extract_audio, Whisper base (language given), align_interpretation.

Truth: for sentence pair i, the ideal start of its first interpretation cue is the start
of floor sentence i (from the synthesised sample counts, not from Whisper). A cue belongs
to the pair whose interpreted sentence contains the middle of its first word on the
interpreter's own timeline, so a wrong match shows up as a large offset. "Before the
floor speech" counts every cue (not only the first of a pair) that starts before the
floor sentence its words interpret.

    .venv/bin/python bench/interpretation.py [--fresh]

Fixture and transcripts are cached in bench/out/interpretation/ (--fresh rebuilds them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import OUT, fresh_dir, table  # noqa: E402
from interpretation_fixture import (  # noqa: E402
    SentenceTruth,
    TwoTrackTruth,
    make_two_track_recording,
    sentence_of_cues,
)

from medialib.config import load_settings
from medialib.media.audio import extract_audio
from medialib.media.probe import probe_media
from medialib.speech.transcript import Transcript
from medialib.speech.whisper import transcribe_audio
from medialib.subtitles.segment import check_cues
from medialib.translate.interpret import align_interpretation

TARGET_MEAN_OFFSET_MS = 300

# (floor, interpretation): the interpreter shortens, expands and reorders, as they do.
PAIRS = (
    ("Good morning, and welcome to the course on investigative interviewing.",
     "Доброе утро! Добро пожаловать на курс по ведению допроса."),
    ("Today we look at how to plan an interview with a witness.",
     "Сегодня мы разберём, как планировать беседу со свидетелем."),
    ("Before you meet the witness, read the whole file carefully.",
     "Перед встречей внимательно прочитайте материалы дела."),
    ("Ask open questions.",
     "Задавайте открытые вопросы."),
    ("An open question lets the witness describe events in their own words.",
     "Открытый вопрос позволяет свидетелю рассказать о событиях своими словами."),
    ("Do not interrupt.",
     "Не перебивайте свидетеля, даже если пауза кажется долгой."),
    ("Silence is a powerful tool, because the witness is searching their memory.",
     "Молчание помогает: свидетель вспоминает."),
    ("Write down names, times and places.",
     "Записывайте имена, время и место."),
    ("Be careful with leading questions.",
     "Осторожно с наводящими вопросами."),
    ("A leading question can change what the witness remembers.",
     "Наводящий вопрос может изменить воспоминания свидетеля."),
    ("At the end, summarise the account and check it with the witness.",
     "В конце кратко перескажите показания и проверьте их вместе со свидетелем."),
    ("Thank you, and see you after the break.",
     "Спасибо, увидимся после перерыва."),
)
LAGS_S = (2.0, 1.5, 3.0, 2.5, 3.5, 1.8, 2.8, 1.5, 3.2, 2.2, 3.5, 2.0)


def build(work: Path, fresh: bool) -> tuple[TwoTrackTruth, Transcript, Transcript, dict]:
    """The fixture and both transcripts, cached (Whisper on ~1.5 min of audio takes a minute here)."""
    cache = work / "cache.json"
    key = {"pairs": PAIRS, "lags_s": LAGS_S}
    if not fresh and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] == json.loads(json.dumps(key)):
            truth = TwoTrackTruth(path=Path(data["path"]), duration_ms=data["duration_ms"],
                                  sentences=tuple(SentenceTruth(**s) for s in data["sentences"]))
            return (truth, Transcript.from_json(data["floor"]), Transcript.from_json(data["interp"]),
                    data["timings"])
    fresh_dir(work)
    t0 = time.perf_counter()
    truth = make_two_track_recording(work / "two-track.mp4", PAIRS, lags_s=LAGS_S)
    timings = {"fixture_s": time.perf_counter() - t0}
    info = probe_media(truth.path)
    speech = load_settings().speech
    transcripts = []
    for stream, lang in ((0, "en"), (1, "ru")):
        wav = extract_audio(truth.path, info, work / f"stream{stream}.wav", audio_stream=stream)
        t0 = time.perf_counter()
        transcripts.append(transcribe_audio(wav, speech, language=lang))
        timings[f"transcribe_{lang}_s"] = time.perf_counter() - t0
    floor, interp = transcripts
    cache.write_text(json.dumps({
        "key": key, "path": str(truth.path), "duration_ms": truth.duration_ms,
        "sentences": [s.__dict__ for s in truth.sentences],
        "floor": floor.to_json(), "interp": interp.to_json(), "timings": timings,
    }, ensure_ascii=False), encoding="utf-8")
    return truth, floor, interp, timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fresh", action="store_true", help="rebuild the fixture and the transcripts")
    args = ap.parse_args()
    rules = load_settings().subtitles
    max_lag_ms = load_settings().translation.max_interpreter_lag_ms
    truth, floor, interp, timings = build(OUT / "interpretation", args.fresh)

    t0 = time.perf_counter()
    track, alignment = align_interpretation(floor, interp, rules, max_lag_ms=max_lag_ms, model=interp.model)
    align_s = time.perf_counter() - t0

    first_cue: dict[int, int] = {}
    early = 0  # any cue, not only the first of a pair, that starts before its floor sentence
    for cue, pair in zip(track.cues, sentence_of_cues(track.cues, interp.words, truth)):
        first_cue.setdefault(pair, cue.start_ms)
        early += cue.start_ms < truth.sentences[pair].floor_start_ms

    rows, offsets = [], []
    for i, s in enumerate(truth.sentences):
        start = first_cue.get(i)
        if start is None:
            rows.append((i + 1, s.floor_start_ms, s.lag_ms, "-", "-", "no cue", s.interp_text[:34]))
            continue
        offset = start - s.floor_start_ms
        offsets.append(abs(offset))
        rows.append((i + 1, s.floor_start_ms, s.lag_ms, start, offset, "EARLY" if offset < 0 else "ok",
                     s.interp_text[:34]))
    print(table(("pair", "floor start ms", "true lag ms", "cue start ms", "offset ms", "", "interpretation"), rows))
    problems = check_cues(track.cues, rules)
    print(f"\n{len(track.cues)} cues; check_cues: {len(problems)} problems" + "".join(f"\n  {p}" for p in problems))
    print(f"alignment: {len(alignment.pairs)} unit pairs, confidence {alignment.confidence:.2f}; "
          f"align {align_s * 1000:.0f} ms; transcription en {timings['transcribe_en_s']:.1f} s, "
          f"ru {timings['transcribe_ru_s']:.1f} s (cached after the first run)")
    missing = len(truth.sentences) - len(offsets)
    mean = sum(offsets) / len(offsets) if offsets else float("nan")
    true_lag = statistics.median(s.lag_ms for s in truth.sentences)
    print(f"interpretation: mean |offset| {mean:.0f} ms over {len(offsets)} sentences "
          f"(target <= {TARGET_MEAN_OFFSET_MS} ms); lag estimate {alignment.lag_ms} ms "
          f"(truth: median {true_lag:.0f} ms); "
          f"cues before their floor speech: {early} (target 0)"
          + (f"; sentences without a cue: {missing}" if missing else ""))
    return 0 if offsets and mean <= TARGET_MEAN_OFFSET_MS and early == 0 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
