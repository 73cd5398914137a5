"""Playlist text helpers and the CLI's contract (documented commands, one-line errors)."""

from __future__ import annotations

import re
from pathlib import Path

import m3u8
import pytest

from medialib.languages import language_name
from medialib.publish.playlists import subtitle_playlist, with_timestamp_map
from medialib_app.cli import _parser, main

README = Path(__file__).resolve().parents[2] / "README.md"


def test_subtitle_playlist_is_one_segment_valid_hls():
    text = subtitle_playlist("v1.vtt", 95.25)
    parsed = m3u8.parse(text, strict=True)
    assert parsed["targetduration"] == 96 and parsed["is_endlist"]
    assert [(s["uri"], s["duration"]) for s in parsed["segments"]] == [("v1.vtt", 95.25)]


def test_timestamp_map_goes_in_the_header():
    vtt = "WEBVTT\nLanguage: en\n\n00:00:01.000 --> 00:00:02.000\nHello\n"
    out = with_timestamp_map(vtt, 0.066)
    assert out.splitlines()[:3] == ["WEBVTT", "X-TIMESTAMP-MAP=MPEGTS:5940,LOCAL:00:00:00.000", "Language: en"]


def test_languages_are_named_in_themselves():
    assert (language_name("ru"), language_name("en"), language_name("xx")) == ("Русский", "English", "xx")


def _commands():
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if a.dest == "action"]
        if nested:
            yield from (f"{name} {child}" for child in nested[0].choices)
        else:
            yield name


def test_every_cli_command_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for command in _commands():
        first, *rest = command.split()
        pattern = rf"medialib {first}\b" + (rf".*\b{rest[0]}\b" if rest else "")
        assert re.search(pattern, readme), f"`medialib {command}` is not in README.md"


def test_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["process", str(tmp_path / "nope.mp4"), "--title", "x"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"medialib: error: {tmp_path / 'nope.mp4'}: no such file; check the path\n"


def test_title_is_required(capsys):
    with pytest.raises(SystemExit) as e:
        main(["process", "x.mp4"])
    assert e.value.code == 2 and "--title" in capsys.readouterr().err


def test_patching_the_subtitle_group_of_a_master_playlist():
    from medialib.publish.playlists import patch_master_subtitles

    master = ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
              '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,'
              'CHANNELS="2",URI="video/audio/index.m3u8"\n'
              '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English (machine)",LANGUAGE="en",DEFAULT=YES,'
              'AUTOSELECT=YES,FORCED=NO,URI="subtitles/en/index.m3u8"\n'
              '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,FRAME-RATE=25.000,'
              'CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"\nvideo/360p/index.m3u8\n')
    approved = patch_master_subtitles(master, [("en", "subtitles/en/index.m3u8", True, "English")])
    assert approved == master.replace('NAME="English (machine)"', 'NAME="English"')
    assert patch_master_subtitles(approved, [("en", "subtitles/en/index.m3u8", True, "English (machine)")]) == master
    none = patch_master_subtitles(master, [])
    assert "TYPE=SUBTITLES" not in none and "SUBTITLES=" not in none
    assert patch_master_subtitles(none, [("en", "subtitles/en/index.m3u8", True, "English (machine)")]) == master
