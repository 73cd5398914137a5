"""Russian <-> English end to end: an interpreter's track, Whisper speech translation, and the Argos MT path.

Each test runs process_lecture once on its own small recording, under the session's
Prefect harness and SeaweedFS server (see conftest.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request

import clips
import m3u8
import pytest
from argos_fixture import build_argos_package, make_argosmodel
from interpretation_fixture import make_two_track_recording

from medialib.translate import install
from medialib.config import load_settings
from medialib.subtitles.formats import parse_subtitles
from medialib.subtitles.segment import check_cues

pytestmark = pytest.mark.e2e

PAIRS = [
    ("Good morning, colleagues.", "Доброе утро, коллеги."),
    ("Today we discuss witness protection.", "Сегодня мы обсуждаем защиту свидетелей."),
    ("Ask open questions and listen carefully.", "Задавайте открытые вопросы и внимательно слушайте."),
    ("Write down what the witness says.", "Записывайте то, что говорит свидетель."),
]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def bundle(published, name: str) -> bytes:
    return fetch(f"{published.master_url.rsplit('/', 1)[0]}/{name}")


@pytest.fixture(scope="module")
def two_track(tmp_path_factory):
    return make_two_track_recording(tmp_path_factory.mktemp("interp") / "session.mp4", PAIRS, lag_s=2.0)


@pytest.fixture(scope="module")
def interpreted(flow_harness, two_track):
    from medialib_flows.process_lecture import process_lecture

    return process_lecture(source=str(two_track.path), title="Witness protection (floor + interpreter)",
                           audio=["0:floor:en", "1:interpretation:ru"])


def test_interpreted_lecture_has_both_subtitle_languages_and_the_russian_audio(interpreted):
    assert set(interpreted.languages) == {"en", "ru"} and interpreted.missing == ()
    master = m3u8.parse(bundle(interpreted, "master.m3u8").decode(), strict=True)
    audio = {m["language"]: m for m in master["media"] if m["type"] == "AUDIO"}
    assert audio["ru"]["name"] == "Русский (синхронный перевод)" and audio["ru"]["default"] == "NO"
    assert audio["en"]["default"] == "YES"
    subs = {m["language"]: m for m in master["media"] if m["type"] == "SUBTITLES"}
    assert (subs["en"]["name"], subs["en"]["default"], subs["en"]["autoselect"]) == ("English (machine)", "YES", "YES")
    assert (subs["ru"]["name"], subs["ru"]["default"], subs["ru"]["autoselect"]) == ("Русский (machine)", "NO", "YES")
    m3u8.parse(bundle(interpreted, audio["ru"]["uri"]).decode(), strict=True)


def test_interpretation_cues_follow_the_rules_and_never_precede_the_floor(interpreted, two_track):
    rules = load_settings().subtitles
    ru = parse_subtitles(bundle(interpreted, "subtitles/ru/v1.vtt").decode(), "ru", "interpretation")
    en = parse_subtitles(bundle(interpreted, "subtitles/en/v1.vtt").decode(), "en", "asr")
    assert check_cues(ru.cues, rules) == [] and check_cues(en.cues, rules) == []
    first_floor = two_track.sentences[0].floor_start_ms
    assert ru.cues[0].start_ms >= first_floor - 100
    # every Russian cue sits inside some floor sentence's span, extended to the next one's start
    starts = [s.floor_start_ms for s in two_track.sentences]
    for cue in ru.cues:
        assert any(cue.start_ms >= s - 100 for s in starts)
    transcript = json.loads(bundle(interpreted, "transcript.json"))
    origins = {t["language"]: t["origin"] for t in transcript["tracks"]}
    assert origins == {"en": "asr", "ru": "interpretation"}
    ru_cue = next(t for t in transcript["tracks"] if t["language"] == "ru")["cues"][0]
    assert ru_cue["origin"] == "interpretation" and ru_cue["model"].startswith("whisper-base")
    manifest = json.loads(bundle(interpreted, "manifest.json"))
    assert "interpreter lag" in next(t for t in manifest["report"]["tracks"] if t["language"] == "ru")["detail"]


@pytest.mark.browser
def test_learner_switches_to_the_interpreter_with_the_keyboard_and_playback_continues(interpreted):
    from browser import chromium_available, choose_audio

    if not chromium_available():
        pytest.fail("Debian's chromium is missing: run the tests through `./run test`, which installs it")
    choice = choose_audio(interpreted.player_url, "ru", play_s=4.0)
    assert choice.errors == ()
    # offered once hls.js knows the tracks, labelled, each option in its own language
    assert choice.label == "Audio"
    assert choice.options == choice.hls_tracks == ("en:English", "ru:Русский (синхронный перевод)")
    assert choice.playing_before == "en:English"
    # the keyboard choice reached hls.js, and the page shows what plays
    assert choice.playing_after == choice.selected_after == "ru:Русский (синхронный перевод)"
    master = m3u8.parse(bundle(interpreted, "master.m3u8").decode(), strict=True)
    ru_folder = next(m for m in master["media"] if m["type"] == "AUDIO" and m["language"] == "ru")["uri"]
    ru_folder = ru_folder.rsplit("/", 1)[0] + "/"
    assert any(ru_folder + "seg_" in u for u in choice.requests), "no Russian audio segment was loaded"
    # and the lecture went on playing in Russian
    assert not choice.paused_after
    assert choice.media_time_after_s - choice.media_time_at_switch_s >= 2.5


def test_russian_only_lecture_gets_english_from_speech_translation(flow_harness, tmp_path):
    from medialib_flows.process_lecture import process_lecture

    text = tmp_path / "ru.txt"
    text.write_text("Добрый день. Сегодня мы говорим о защите свидетелей. "
                    "Задавайте открытые вопросы и внимательно слушайте ответы.", encoding="utf-8")
    wav = tmp_path / "ru.wav"
    subprocess.run(["text2wave", "-eval", "(voice_msu_ru_nsh_clunits)", str(text), "-o", str(wav)], check=True)
    src = clips.lecture_clip(tmp_path / "ru.mp4", wav, size="320x180")
    published = process_lecture(source=str(src), title="Защита свидетелей", language="ru")
    assert set(published.languages) == {"ru", "en"}
    manifest = json.loads(bundle(published, "manifest.json"))
    by_lang = {s["language"]: s for s in manifest["subtitles"]}
    assert by_lang["ru"]["origin"] == "asr"
    assert by_lang["en"]["origin"] == "speech-translation"
    assert "speech translation from ru" in by_lang["en"]["model"]
    en = parse_subtitles(bundle(published, "subtitles/en/v1.vtt").decode(), "en", "speech-translation")
    assert en.cues and check_cues(en.cues, load_settings().subtitles) == []
    master = bundle(published, "master.m3u8").decode()
    assert 'LANGUAGE="ru",DEFAULT=YES' in master and 'LANGUAGE="en",DEFAULT=NO' in master


def test_installed_argos_package_translates_through_the_real_path(flow_harness, tmp_path):
    """A tiny random-weight en->ru package, installed by the real install code, used by the real MT path."""
    from medialib_flows.process_lecture import process_lecture, settings

    folder = build_argos_package(tmp_path / "pkg", "en", "ru")
    info = install.install_argos_file(make_argosmodel(folder), settings().translation, pair=("en", "ru"))
    try:
        wav = clips.speech_wav(tmp_path / "mt.wav", "Listen to the witness. Then write down the answer. "
                                                    "Finally, check the account with the witness.")
        src = clips.lecture_clip(tmp_path / "mt.mp4", wav, size="320x180")
        published = process_lecture(source=str(src), title="Machine translation path")
        assert set(published.languages) == {"en", "ru"} and published.missing == ()
        manifest = json.loads(bundle(published, "manifest.json"))
        ru_meta = next(s for s in manifest["subtitles"] if s["language"] == "ru")
        assert ru_meta["origin"] == "machine-translation" and ru_meta["model"].startswith("argos:")
        transcript = json.loads(bundle(published, "transcript.json"))
        en_cues = next(t for t in transcript["tracks"] if t["language"] == "en")["cues"]
        ru = parse_subtitles(bundle(published, "subtitles/ru/v1.vtt").decode(), "ru", "machine-translation")
        # structure, not wording (random weights): cues inside the English speech, ordered, no overlaps
        assert ru.cues
        assert ru.cues[0].start_ms >= en_cues[0]["start_ms"] - 50
        assert ru.cues[-1].end_ms <= en_cues[-1]["end_ms"] + load_settings().subtitles.max_duration_ms
    finally:
        shutil.rmtree(info.path, ignore_errors=True)
