"""Risk ranking of cues against cues that really hold an error, on speech whose text is known.

    .venv/bin/python bench/risk_rank.py            # held-out figures with the frozen weights
    .venv/bin/python bench/risk_rank.py --fit      # also refit the weights on the training clips

Fixtures: lecture-like English text spoken by espeak-ng with several voices and speeds,
some with noise (pink noise, or reversed speech as babble) mixed in at a given SNR, cached
in bench/out/risk/. Each clip is transcribed by the pipeline's own Whisper call
(`transcribe_audio`, the default settings, Whisper base) and cut into cues by
`segment_cues`, as the cues stage does. A cue is *wrong* when its words differ from the
reference: the whole clip's hypothesis is aligned with the reference (jiwer, on
normalised words: lower case, no punctuation, hyphens as spaces, -ise as -ize), and a cue
is wrong when one of its words is substituted or inserted, or reference words are missing
inside it or right after it.

Clips are split by text and condition into a training set (used only by --fit, which
refits the logistic weights of `subtitles/risk.py` and prints them) and a held-out test
set (the reported figures). Reported on the test set: ROC AUC of `score_track`'s risk
against wrong; the share of wrong cues among the 20% ranked riskiest; the same two for
the baseline, 1 - the cue's mean word confidence; and the share of wrong cues overall.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LECTURE_PARAGRAPHS, OUT, speech_paragraphs  # noqa: E402

RISK_OUT = OUT / "risk"

# Harder text: rare words and names, as police training has them (no numerals, one spelling).
HARD_PARAGRAPHS = (
    "The suspect's alibi relied on a pawnbroker in Ipswich and a chiropodist's receipt. "
    "Detective Sergeant Okonkwo noticed that the receipt was printed after the shop had closed.",
    "Under the Police and Criminal Evidence Act, the custody sergeant must record every decision. "
    "Inspector Wojcik reminded the trainees that an inaccurate custody record can undermine a prosecution.",
    "A forensic odontologist compared the bite mark with the impressions taken from the defendant. "
    "The defence instructed a second expert, who questioned the methodology and the chain of custody.",
    "Counterfeit banknotes were found in a lockup near the marina in Portishead. "
    "The serial numbers matched a consignment intercepted by customs officers at Felixstowe.",
    "Hearsay is admissible only in narrow circumstances, and the magistrates were sceptical of the "
    "anonymous informant. Corroboration from telephone records eventually persuaded the bench.",
    "The pathologist described petechial haemorrhages and a fractured hyoid bone, which suggested "
    "strangulation rather than an accidental fall down the cellar stairs.",
    "Kidnapping, blackmail and extortion often overlap. The negotiator kept the perpetrator talking "
    "while the tactical team surrounded the caravan on the outskirts of Aberystwyth.",
    "Surveillance logs must be contemporaneous. Constable Nakamura's notebook had an entry written "
    "in different ink, and the barrister asked her to explain the discrepancy to the jury.",
)


@dataclass(frozen=True)
class Clip:
    name: str
    paragraphs: tuple[str, ...]
    voice: str = "en-us"
    wpm: int = 150
    noise: str = ""          # "", "pink" or "babble" (reversed speech of other paragraphs)
    snr_db: float = 30.0
    split: str = "test"      # "train" (fit only) or "test" (reported)


# Conditions cycle over the clips of each split: (words a minute, noise, SNR dB). Moderate
# noise, so the share of wrong cues stays near what Whisper base gives on real lectures.
CONDITIONS = ((150, "", 30), (200, "pink", 15), (175, "babble", 12), (230, "", 30), (140, "pink", 9),
              (190, "babble", 9), (165, "", 30), (210, "pink", 12), (155, "babble", 15), (240, "pink", 18))
TRAIN_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb-x-rp")
TEST_VOICES = ("en-029", "en-us-nyc", "en+m3", "en-gb-x-gbclan", "en-us+f4")  # never heard in training


def _clips(split: str, voices: tuple[str, ...], lecture: tuple[str, ...], hard: tuple[str, ...]) -> tuple[Clip, ...]:
    """Ten clips of three paragraphs (lecture, hard, lecture text), rotating voices, texts and conditions."""
    out = []
    for n, (wpm, noise, snr) in enumerate(CONDITIONS):
        voice = voices[n % len(voices)]
        text = (lecture[n % len(lecture)], hard[n % len(hard)], lecture[(n + 2) % len(lecture)])
        out.append(Clip(f"{split}{n:02d}-{voice}-{wpm}{'-' + noise + str(snr) if noise else ''}", text, voice, wpm,
                        noise, snr, split))
    return tuple(out)


# Held out by text as well as by voice: training uses the first halves of both texts.
CLIPS = (_clips("train", TRAIN_VOICES, LECTURE_PARAGRAPHS[:5], HARD_PARAGRAPHS[:4])
         + _clips("test", TEST_VOICES, LECTURE_PARAGRAPHS[5:], HARD_PARAGRAPHS[4:]))


# ---------------------------------------------------------------- fixtures


def _read16(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)


def _write16(path: Path, x: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n).astype(np.float32)


def make_clip(clip: Clip) -> Path:
    """The clip's 16 kHz WAV (cached): clean speech, plus noise at clip.snr_db over the speech's power."""
    RISK_OUT.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(repr(clip).encode()).hexdigest()[:10]
    out = RISK_OUT / f"{clip.name}-{tag}.wav"
    if out.exists():
        return out
    clean_path = speech_paragraphs(clip.paragraphs, RISK_OUT / f".{clip.name}-{tag}-clean.wav", wpm=clip.wpm,
                                   gaps_s=(1.2, 0.8), voice=clip.voice)
    x = _read16(clean_path)
    if clip.noise:
        rng = np.random.default_rng(int(tag, 16) % 2**32)
        if clip.noise == "pink":
            noise = _pink(len(x), rng)
        else:  # babble: other text, another voice, reversed so it holds no words Whisper could take
            other = tuple(p for p in LECTURE_PARAGRAPHS if p not in clip.paragraphs)[:3]
            b = _read16(speech_paragraphs(other, RISK_OUT / f".babble-{tag}.wav", wpm=170, gaps_s=(0.3,),
                                          voice="en-us+f2"))[::-1]
            noise = np.resize(b, len(x))
        speech_power = float(np.mean(x[np.abs(x) > 300] ** 2))  # over the speech, not the pauses
        noise *= np.sqrt(speech_power / (float(np.mean(noise ** 2)) + 1e-9) / 10 ** (clip.snr_db / 10))
        x = x + noise
    _write16(out, x)
    clean_path.unlink()
    return out


def transcribe_clip(clip: Clip, opts):
    """The clip's transcript with the pipeline's Whisper call, cached as transcript JSON."""
    from medialib.speech import Transcript, transcribe_audio

    wav = make_clip(clip)
    cache = wav.with_suffix(f".{hashlib.sha256(repr(opts).encode()).hexdigest()[:8]}.json")
    if cache.exists():
        return Transcript.from_json(json.loads(cache.read_text()))
    t = transcribe_audio(wav, opts, language="en")
    cache.write_text(json.dumps(t.to_json()))
    return t


# ---------------------------------------------------------------- labels


_SPELLING = (("sceptic", "skeptic"), ("defence", "defense"), ("haemorrh", "hemorrh"))  # one convention


def normal_words(text: str) -> list[str]:
    """Words compared with the reference: lower case, no punctuation, hyphens as spaces, -ise as -ize."""
    text = text.lower().replace("-", " ").replace("’", "'")
    for british, american in _SPELLING:
        text = re.sub(rf"\b{british}", american, text)
    words = re.sub(r"[^\w\s']", " ", text).split()
    return [re.sub(r"is(e|es|ed|ing)$", r"iz\1", w.strip("'")) for w in words if w.strip("'")]


def wrong_cues(cue_words: list[list], reference: str) -> list[bool]:
    """Per cue (given as its transcript words), whether it differs from the reference text."""
    import jiwer

    owner, hyp = [], []
    for n, words in enumerate(cue_words):
        for w in words:
            for token in normal_words(w.text):
                hyp.append(token)
                owner.append(n)
    ref = normal_words(reference)
    wrong = [False] * len(cue_words)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            continue
        if chunk.type == "delete":  # reference words missing: blame the cue they fall in, or the one before
            at = chunk.hyp_start_idx
            n = owner[at - 1] if at > 0 else owner[0]
            wrong[n] = True
        else:
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                wrong[owner[i]] = True
    return wrong


# ---------------------------------------------------------------- measures


def roc_auc(scores, labels) -> float:
    """Probability that a random wrong cue outranks a random right one (ties count half)."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def top_precision(scores, labels, share: float = 0.2) -> float:
    """The share of wrong cues among the `share` ranked riskiest (stable order on ties)."""
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    k = max(1, int(round(share * len(order))))
    return float(np.asarray(labels, bool)[order[:k]].mean())


# ---------------------------------------------------------------- run


def collect(split: str, opts, rules):
    """(tracks scored, wrong labels, mean-confidence baselines, feature rows) of one split's clips."""
    from medialib.subtitles import Track, segment_cues
    from medialib.subtitles.risk import cue_features, cue_words, score_track

    rows = []
    for clip in (c for c in CLIPS if c.split == split):
        t0 = time.perf_counter()
        t = transcribe_clip(clip, opts)
        track = Track("en", "asr", segment_cues(t.words, rules), model=t.model)
        per_cue = cue_words(track, t.words)
        wrong = wrong_cues(per_cue, " ".join(clip.paragraphs))
        scored = score_track(track, transcript=t, rules=rules)
        feats = cue_features(track, transcript=t, rules=rules)
        for cue, words, bad, f in zip(scored.cues, per_cue, wrong, feats):
            base = 1.0 - (float(np.mean([w.probability for w in words])) if words else 0.0)
            rows.append((clip.name, cue, bad, base, f))
        import jiwer

        wer = jiwer.wer(" ".join(normal_words(" ".join(clip.paragraphs))), " ".join(normal_words(
            " ".join(w.text for w in t.words))))
        print(f"  {clip.name:<34} WER {wer:5.1%} {len(track.cues):3d} cues, {sum(wrong):3d} wrong "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return rows


def fit_weights(rows, names, l2: float = 0.01, steps: int = 4000) -> np.ndarray:
    """Logistic regression by projected gradient descent, every weight >= 0 (features standardised
    inside, weights returned raw): more evidence of trouble never lowers a cue's risk, which
    keeps the model explainable and stops it leaning on quirks of a few clips."""
    x = np.array([[f[n] for n in names] for *_, f in rows], float)
    y = np.array([bad for _, _, bad, _, _ in rows], float)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(len(names)), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w = np.maximum(0.0, w - 0.5 * (z.T @ (p - y) / len(y) + l2 * w))
        b -= 0.5 * float(np.mean(p - y))
    raw = w / sd
    return np.concatenate([[b - float(raw @ mu)], raw])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="refit the weights on the training clips and print them")
    a = ap.parse_args()
    from medialib.config import load_settings
    from medialib.subtitles import risk

    s = load_settings()
    opts, rules = s.speech, s.subtitles
    started = time.perf_counter()
    if a.fit:
        print("training clips:")
        train = collect("train", opts, rules)
        coef = fit_weights(train, risk.FEATURES)
        print("fitted: BIAS =", round(float(coef[0]), 3))
        print("WEIGHTS = {" + ", ".join(f'"{n}": {c:.3f}' for n, c in zip(risk.FEATURES, coef[1:])) + "}")
        ys = [r[2] for r in train]
        print(f"training fit: AUC risk {roc_auc([r[1].risk for r in train], ys):.3f} (frozen weights), "
              f"refit {roc_auc([float(coef[0] + sum(c * r[4][n] for c, n in zip(coef[1:], risk.FEATURES))) for r in train], ys):.3f}")
    print("held-out clips:")
    test = collect("test", opts, rules)
    y = [r[2] for r in test]
    risk_scores = [r[1].risk for r in test]
    base = [r[3] for r in test]
    print(f"\n{len(test)} held-out cues, {sum(y)} wrong ({np.mean(y):.0%})")
    print(f"{'':<28}{'ROC AUC':>9}{'top 20% wrong':>15}")
    print(f"{'risk (score_track)':<28}{roc_auc(risk_scores, y):9.3f}{top_precision(risk_scores, y):15.0%}")
    print(f"{'1 - mean word confidence':<28}{roc_auc(base, y):9.3f}{top_precision(base, y):15.0%}")
    print(f"targets: AUC >= 0.85, top 20% >= 80%   ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
