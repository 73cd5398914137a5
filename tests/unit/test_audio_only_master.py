"""The low-data master: only the audio-only variant, with the master's audio and subtitle groups."""

from __future__ import annotations

import m3u8

from medialib.publish.playlists import audio_only_master, patch_master_subtitles

MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="video/audio/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subtitles/en/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,FRAME-RATE=25.000,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
video/360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1800000,RESOLUTION=1280x720,FRAME-RATE=25.000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
video/720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
video/audio/index.m3u8
"""


def test_keeps_only_the_audio_variant_and_the_groups():
    text = audio_only_master(MASTER)
    parsed = m3u8.loads(text)
    assert [p.uri for p in parsed.playlists] == ["video/audio/index.m3u8"]
    assert "RESOLUTION=" not in text and "video/360p" not in text and "video/720p" not in text
    assert [(m.type, m.uri) for m in parsed.media] == [("AUDIO", "video/audio/index.m3u8"),
                                                       ("SUBTITLES", "subtitles/en/index.m3u8")]


def test_follows_a_subtitles_only_patch_of_the_master():
    patched = patch_master_subtitles(MASTER, [("en", "subtitles/en/index.m3u8", True),
                                              ("ru", "subtitles/ru/index.m3u8", False)])
    text = audio_only_master(patched)
    assert text.count("TYPE=SUBTITLES") == 2 and 'SUBTITLES="subs"' in text
    gone = audio_only_master(patch_master_subtitles(MASTER, []))
    assert "SUBTITLES" not in gone


def test_a_master_without_an_audio_only_variant_gives_none():
    video_only = "\n".join(line for line in MASTER.splitlines()[:-2]) + "\n"
    assert audio_only_master(video_only) is None
