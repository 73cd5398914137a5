"""Audio roles and where each subtitle language comes from."""

from __future__ import annotations

import pytest

from medialib.errors import InputError
from medialib.media.records import AudioStream, MediaInfo
from medialib.pipeline.plan import AudioRole, parse_audio_roles, plan_languages


def info(n_audio: int) -> MediaInfo:
    return MediaInfo(name="session.mp4", size_bytes=1, duration_s=60, container="mp4", video=None,
                     audio=tuple(AudioStream(i, "aac", 2, 48000, None) for i in range(n_audio)))


def test_default_is_stream_0_as_floor():
    assert parse_audio_roles([], info(2), "en") == (AudioRole(0, "floor", "en"),)


def test_floor_and_interpretation():
    roles = parse_audio_roles(["1:interpretation:RU", "0:floor"], info(2))
    assert roles == (AudioRole(0, "floor", None), AudioRole(1, "interpretation", "ru"))


@pytest.mark.parametrize("specs, message", [
    (["0:speaker"], "--audio '0:speaker': expected STREAM:floor[:LANG] or STREAM:interpretation:LANG, "
                    "e.g. --audio 0:floor --audio 1:interpretation:ru"),
    (["0:floor", "2:interpretation:ru"], "--audio '2:interpretation:ru': session.mp4 has 2 audio streams (0..1); "
                                         "pick one of those"),
    (["0:floor", "1:interpretation"], "--audio '1:interpretation': say the interpretation's language, "
                                      "e.g. 1:interpretation:ru"),
    (["1:interpretation:ru"], "--audio: name exactly one floor stream (got 0), e.g. --audio 0:floor"),
    (["0:floor", "0:interpretation:ru"], "--audio: stream 0 is given two roles; give each one"),
])
def test_bad_specs_say_what_to_write(specs, message):
    with pytest.raises(InputError) as e:
        parse_audio_roles(specs, info(2))
    assert str(e.value) == message


def no_route(src, dst):
    return None


def test_interpreter_first_then_mt_then_speech_translation_then_missing():
    interp = [AudioRole(1, "interpretation", "ru")]
    plans = plan_languages("en", ["en", "ru"], interp, lambda s, d: "en->ru")
    assert [(p.language, p.source) for p in plans] == [("en", "asr"), ("ru", "interpretation")]
    plans = plan_languages("en", ["en", "ru"], [], lambda s, d: "en->ru (translate-en_ru 1.9)")
    assert [(p.language, p.source) for p in plans] == [("en", "asr"), ("ru", "machine-translation")]
    plans = plan_languages("ru", ["en", "ru"], [], no_route)
    assert [(p.language, p.source) for p in plans] == [("ru", "asr"), ("en", "speech-translation")]
    plans = plan_languages("en", ["en", "ru"], [], no_route)
    assert plans[1].source == "missing" and plans[1].fix == "medialib models install argos en ru"


def test_no_floor_language_no_plan():
    assert plan_languages(None, ["en", "ru"], [], no_route) == ()
