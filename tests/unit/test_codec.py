"""Subtitle files from translators: encodings, SRT and WebVTT variants, bad lines, round trips, ids."""

from __future__ import annotations

import codecs

import pytest

from medialib.errors import InputError
from medialib.subtitles import Cue, Track
from medialib.subtitles.codec import (
    SubtitleFileError,
    decode_subtitles,
    find_cue_problems,
    match_ids,
    parse_srt,
    parse_webvtt,
    read_subtitles,
    write_subtitles,
)

RU_SRT = "1\n00:00:01,000 --> 00:00:02,500\nЗадержание подозреваемого\n\n2\n00:00:03,000 --> 00:00:04,000\nДопрос свидетеля — «ёлки»\n"
RU_CUES = [(1000, 2500, "Задержание подозреваемого"), (3000, 4000, "Допрос свидетеля — «ёлки»")]


def cues_of(track: Track):
    return [(c.start_ms, c.end_ms, c.text) for c in track.cues]


def read(data: bytes, **kw):
    kw.setdefault("language", "ru")
    return read_subtitles(data, **kw)


# --- encodings -----------------------------------------------------------------------


@pytest.mark.parametrize(("data", "encoding"), [
    (RU_SRT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + RU_SRT.encode("utf-8"), "utf-8-sig"),
    (codecs.BOM_UTF16_LE + RU_SRT.encode("utf-16-le"), "utf-16-le"),
    (codecs.BOM_UTF16_BE + RU_SRT.encode("utf-16-be"), "utf-16-be"),
    (RU_SRT.encode("utf-16-le"), "utf-16-le"),  # no BOM: the NULs show it
    (RU_SRT.encode("utf-16-be"), "utf-16-be"),
    (RU_SRT.encode("cp1251"), "cp1251"),
    (RU_SRT.replace("\n", "\r\n").encode("cp1251"), "cp1251"),
])
def test_every_encoding_is_detected(data, encoding):
    track, used = read(data, name="lesson.srt")
    assert used == encoding
    assert cues_of(track) == RU_CUES
    assert (track.language, track.origin) == ("ru", "human")
    assert [c.id for c in track.cues] == ["c00001", "c00002"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_with_long_russian_cues(encoding):
    text = "".join(f"{n}\n00:00:{n:02d},000 --> 00:00:{n:02d},900\n{'Ещё один допрос свидетеля в Вене ' * 3}\n\n"
                   for n in range(1, 40))
    track, used = read(text.encode(encoding))
    assert used == encoding and len(track.cues) == 39


def test_python_utf16_with_its_bom_and_an_explicit_encoding():
    assert read(RU_SRT.encode("utf-16"))[1] in ("utf-16-le", "utf-16-be")
    srt = "1\n00:00:01,000 --> 00:00:02,500\nЗадержание подозреваемого\n"
    track, used = read(srt.encode("koi8-r"), encoding="koi8-r")  # detection would say cp1251; the caller knows
    assert (used, cues_of(track)) == ("koi8-r", RU_CUES[:1])
    assert cues_of(read(codecs.BOM_UTF8 + RU_SRT.encode(), encoding="utf-8")[0]) == RU_CUES  # BOM not in the text


def test_wrong_or_unknown_explicit_encoding():
    with pytest.raises(SubtitleFileError) as e:
        read(RU_SRT.encode("cp1251"), name="lesson.srt", encoding="utf-8")
    assert str(e.value) == ("lesson.srt line 3: byte 32 is not utf-8 (invalid continuation byte); "
                            "give the file's real encoding, or leave it out to detect it")
    assert e.value.line == 3 and e.value.http_status == 422
    with pytest.raises(SubtitleFileError, match="lesson.srt: unknown encoding 'latin-9x'; use e.g. utf-8"):
        read(b"x", name="lesson.srt", encoding="latin-9x")


@pytest.mark.parametrize("data", [b"", b"   \r\n\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")])
def test_empty_file(data):
    with pytest.raises(SubtitleFileError) as e:
        read(data, name="lesson.srt")
    assert str(e.value) == "lesson.srt: the file is empty; export the subtitles again"
    assert isinstance(e.value, InputError) and e.value.line is None


@pytest.mark.parametrize(("data", "offset"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 8),
    (b"\x1f\x8b\x08\x00\xa5\xe3\x9c\x65", 0),  # gzip
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", 2),
    (bytes(range(256)) * 4, 0),
])
def test_binary_data_is_refused(data, offset):
    with pytest.raises(SubtitleFileError) as e:
        read(data, name="lesson.srt")
    assert str(e.value) == (f"lesson.srt: not a text file (binary data at byte {offset}); "
                            "export the subtitles from your editor as SRT or WebVTT")


def test_text_that_is_not_subtitles_names_the_line():
    with pytest.raises(SubtitleFileError) as e:
        read(b"Dear colleagues,\nplease find the subtitles attached.\n", name="lesson.srt")
    assert str(e.value).startswith("lesson.srt line 1: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', "
                                   "found 'Dear colleagues,'")


# --- SRT -----------------------------------------------------------------------------


def test_srt_variants():
    srt = (
        "00:00:01.000 --> 00:00:02,000\n<i>No number</i>, a dot\r\n\r\n"  # numbers are optional, '.' accepted
        "7\r\n0:00:03,000 --> 0:00:04,000 X1:100 X2:200 Y1:10 Y2:20\r\n{\\an8}Top   line\r\n<font color=\"#ff0000\">red</font> <b>bold</b>\r\n\r\n"
        "8\n00:00:05,000 --> 00:00:06,000\n<script>alert(1)</script> & a < b\n\n"
        "9\n00:00:07,000 --> 00:00:08,000\n\n\n"  # no text: skipped
        "10\n00:00:09,000 --> 00:00:10,000\nno final newline"
    )
    assert cues_of(read(srt.encode(), language="en")[0]) == [
        (1000, 2000, "No number, a dot"),
        (3000, 4000, "Top line\nred bold"),
        (5000, 6000, "<script>alert(1)</script> & a < b"),  # SRT has no escapes: text as is
        (9000, 10000, "no final newline"),
    ]


def test_cues_out_of_order_are_sorted():
    srt = "2\n00:00:03,000 --> 00:00:04,000\nsecond\n\n1\n00:00:01,000 --> 00:00:02,000\nfirst\n"
    assert [c.text for c in read(srt.encode(), language="en")[0].cues] == ["first", "second"]


@pytest.mark.parametrize("timing", [
    "00:01:02.5 --> 00:01:04,000",  # milliseconds need three digits
    "00:01:02,500 -> 00:01:04,000",
    "00:01:02,500 --> 00:01:04",
    "-00:00:01,000 --> 00:01:04,000",  # negative
    "00:61:02,500 --> 00:62:04,000",
    "00:01:02,500 --> soon",
])
def test_bad_timestamp_names_file_and_line(timing):
    lines = ["1", "00:00:01,000 --> 00:00:02,000", "one", "", "2", "00:00:03,000 --> 00:00:04,000", "two", "three",
             "", "3", "00:00:05,000 --> 00:00:06,000", "", "4", timing, "four"]
    with pytest.raises(SubtitleFileError) as e:
        read("\r\n".join(lines).encode(), name="lesson.srt", language="en")
    assert str(e.value) == f"lesson.srt line 14: bad timestamp {timing!r}; write it as HH:MM:SS,mmm --> HH:MM:SS,mmm"
    assert e.value.line == 14


def test_missing_timing_line():
    with pytest.raises(SubtitleFileError) as e:
        parse_srt("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\nho\n", name="a.srt")
    assert e.value.line == 6
    assert str(e.value).startswith("a.srt line 6: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', found 'ho'")


# --- WebVTT --------------------------------------------------------------------------


def test_webvtt_variants():
    vtt = (
        "\ufeffWEBVTT - a lecture\r\nKind: captions\r\nLanguage: en\r\n\r\n"
        "STYLE\r\n::cue { color: yellow }\r\n\r\n"
        "REGION\nid:fred width:40%\n\n"
        "NOTE\nmade by hand\n\nNOTE one line\n\n"
        "intro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Anna>Hello <i>there</i></v>\n\n"
        "42\n01:00:03.000 --> 01:00:04.000\n&lt;script&gt; R&amp;D &gt; <c.yellow>x</c> &nbsp;y\n\n"
        "00:00:05.000 --> 00:00:06.000\n<00:00:05.500>karaoke\n"
    )
    track, used = read(vtt.encode(), language="en", name="lesson.vtt")
    assert used == "utf-8-sig"
    assert cues_of(track) == [(1000, 2500, "Hello there"), (5000, 6000, "karaoke"),
                              (3_603_000, 3_604_000, "<script> R&D > x y")]


def test_webvtt_without_blank_line_after_header():
    assert [c.text for c in parse_webvtt("WEBVTT\n00:01.000 --> 00:02.000\nhi")] == ["hi"]


def test_webvtt_bad_timestamp_and_missing_header():
    with pytest.raises(SubtitleFileError) as e:
        read(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n\n00:00:03.000 --> 00:00:04\nho\n", name="x.vtt", language="en")
    assert str(e.value) == "x.vtt line 6: bad timestamp '00:00:03.000 --> 00:00:04'; write it as HH:MM:SS.mmm --> HH:MM:SS.mmm"
    with pytest.raises(SubtitleFileError, match=r"x.vtt: the first line must start with 'WEBVTT', found 'WEBVTTX'"):
        read(b"WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nhi\n", name="x.vtt", language="en")


def test_format_is_detected_or_given():
    vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n"
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nhi\n"
    assert cues_of(read(vtt, language="en", name="x.srt")[0]) == cues_of(read(srt, language="en", name="x.vtt", fmt="srt")[0])
    with pytest.raises(SubtitleFileError, match="first line must start with 'WEBVTT'"):
        read(srt, language="en", name="x.vtt")  # the name says WebVTT, the text is SRT


# --- checks --------------------------------------------------------------------------


def test_inverted_overlapping_long_and_late_cues_are_all_reported():
    srt = (
        "1\n00:00:05,000 --> 00:00:04,000\ninverted\n\n"
        "2\n00:00:10,000 --> 00:00:12,000\nfirst\n\n"
        "3\n00:00:11,000 --> 00:00:13,000\noverlaps\n\n"
        "4\n00:00:20,000 --> 00:00:21,000\n" + "x" * 10_000 + "\n\n"
        "5\n00:10:00,000 --> 00:10:02,000\nanother lecture\n"
    )
    with pytest.raises(SubtitleFileError) as e:
        read(srt.encode(), name="lesson.srt", language="en", duration_ms=60_000)
    assert e.value.line == 2
    assert str(e.value) == ("lesson.srt line 2: cue 1 (00:00:05.000 --> 00:00:04.000) does not end after it starts; "
                            "fix its timings (3 more problems after it)")
    assert e.value.problems[1:] == (
        "lesson.srt line 10: cue 2 (00:00:10.000 --> 00:00:12.000) overlaps cue 3 (00:00:11.000 --> 00:00:13.000); "
        "end cue 2 by 00:00:11.000",
        "lesson.srt line 14: cue 4 has 10000 characters, more than 500; split it into shorter cues",
        "lesson.srt line 18: cue 5 (00:10:00.000 --> 00:10:02.000) ends after the lecture, which is 00:01:00.000 long; "
        "is this the file for another lecture?",
    )


def test_zero_length_cue_and_limits():
    srt = "1\n00:00:01,000 --> 00:00:01,000\nzero\n"
    with pytest.raises(SubtitleFileError, match=r"line 2: cue 1 .* does not end after it starts"):
        read(srt.encode(), language="en")
    ok = "1\n00:00:59,000 --> 00:01:00,900\nends a little late\n".encode()
    assert read(ok, language="en", duration_ms=60_000, max_cue_chars=18)[0].cues[0].end_ms == 60_900
    with pytest.raises(SubtitleFileError, match="has 18 characters, more than 17"):
        read(ok, language="en", max_cue_chars=17)


def test_find_cue_problems_takes_a_duration():
    cues = parse_srt("1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:05,000 --> 00:00:06,000\nb\n")
    assert find_cue_problems(cues, duration_ms=10_000) == []
    assert [line for line, _ in find_cue_problems(cues, duration_ms=3_000)] == [6]


def test_only_empty_cues():
    with pytest.raises(SubtitleFileError, match="lesson.vtt: no cues with text found"):
        read(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\n", name="lesson.vtt", language="en")


# --- writing -------------------------------------------------------------------------

TRACK = Track("en", "human", (Cue(0, 1, "First."), Cue(1234, 4567, "<script>alert('x')</script>\nR&D -> more"),
                              Cue(36_000_000, 36_001_001, "Ten hours in.")))


def test_webvtt_escapes_and_round_trips():
    data = write_subtitles(TRACK, "vtt")
    assert data.decode() == (
        "WEBVTT\nLanguage: en\n\n00:00:00.000 --> 00:00:00.001\nFirst.\n\n"
        "00:00:01.234 --> 00:00:04.567\n&lt;script&gt;alert('x')&lt;/script&gt;\nR&amp;D -&gt; more\n\n"
        "10:00:00.000 --> 10:00:01.001\nTen hours in.\n"
    )
    assert cues_of(read(data, language="en")[0]) == cues_of(TRACK)


def test_srt_is_written_as_is_and_round_trips():
    data = write_subtitles(TRACK, "srt")
    assert data.decode() == (
        "1\n00:00:00,000 --> 00:00:00,001\nFirst.\n\n"
        "2\n00:00:01,234 --> 00:00:04,567\n<script>alert('x')</script>\nR&D -> more\n\n"
        "3\n10:00:00,000 --> 10:00:01,001\nTen hours in.\n"
    )
    assert cues_of(read(data, language="en")[0]) == cues_of(TRACK)
    with pytest.raises(InputError, match="use 'vtt' or 'srt'"):
        write_subtitles(TRACK, "ass")


def test_russian_round_trip_through_cp1251():
    track = Track("ru", "asr", tuple(Cue(a, b, t) for a, b, t in RU_CUES))
    data = write_subtitles(track, "srt").decode().encode("cp1251")
    assert cues_of(read(data)[0]) == RU_CUES


# --- ids across a round trip ---------------------------------------------------------

BASE = Track("ru", "machine-translation", (
    Cue(1000, 2000, "один", id="c00001", risk=0.7, flags=("mt",)),
    Cue(3000, 5000, "два три", id="c00002", risk=0.2),
    Cue(6000, 7000, "четыре", id="c00003", origin="human", editor="anna", version=3, risk=0.0),
    Cue(8000, 9000, "пять", id="c00004"),
    Cue(10000, 11000, "шесть", id="c00005"),
))


def test_match_ids_keeps_untouched_cues_and_ids_of_changed_ones():
    edited = Track("ru", "human", (
        Cue(1000, 2000, "один"),  # untouched
        Cue(3000, 4000, "два"),  # split: the first half keeps the id
        Cue(4000, 5000, "три"),  # the second half is new
        Cue(6000, 7000, "четыре"),  # untouched, already human
        Cue(8000, 9200, "пять!"),  # changed in place
        # c00005 deleted
        Cue(12000, 13000, "семь"),  # inserted
    ))
    out = match_ids(edited, BASE)
    assert out.cues[0] == BASE.cues[0]
    assert out.cues[3] == BASE.cues[2]
    assert out.cues[1] == Cue(3000, 4000, "два", id="c00002")  # no provenance: the caller records the editor
    assert out.cues[4] == Cue(8000, 9200, "пять!", id="c00004")
    new = [out.cues[2].id, out.cues[5].id]
    assert all(i.startswith("n") and len(i) == 9 and int(i[1:], 16) >= 0 for i in new) and new[0] != new[1]
    assert (out.language, out.origin) == ("ru", "human")


def test_match_ids_after_a_file_round_trip_and_a_merge():
    data = write_subtitles(BASE, "srt")
    back, _ = read(data)
    assert match_ids(back, BASE).cues == BASE.cues  # nothing changed: everything kept
    merged = Track("ru", "human", (Cue(1000, 5000, "один два три"), *BASE.cues[2:]))
    out = match_ids(merged, BASE)
    assert out.cues[0].id == "c00002" and out.cues[0].risk is None  # the longest overlap wins
    assert out.cues[1:] == BASE.cues[2:]


def test_match_ids_tolerates_small_time_moves_and_repeated_text():
    base = Track("en", "asr", (Cue(0, 1000, "Yes."), Cue(2000, 3000, "Yes."), Cue(4000, 5000, "No.")))
    moved = Track("en", "human", (Cue(10, 990, "Yes."), Cue(2000, 3000, "Yes."), Cue(4000, 5000, "No.")))
    out = match_ids(moved, base)
    assert [c.id for c in out.cues] == ["c00001", "c00002", "c00003"]
    assert (out.cues[0].start_ms, out.cues[0].end_ms) == (10, 990)  # the file's times


def test_decode_normalises_line_ends():
    assert decode_subtitles(b"a\r\nb\rc\n") == ("a\nb\nc\n", "utf-8")
