"""The learner's player page: rendered safely, and playing a real HLS bundle in chromium."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import imageio_ffmpeg
import pytest
from browser import chromium_available, open_player, player_session
from ladder_bundle import build_ladder_bundle, first_pts_s, synthetic_transcript

from medialib.errors import InputError
from medialib.publish.page import (
    PageInfo,
    SubtitleLink,
    page_data,
    player_assets,
    render_player_page,
)

HOSTILE = 'Допрос </script><script>alert("x")</script> & <b>'

EN = SubtitleLink("en", "English", "subtitles/en/v1.vtt", "subtitles/en/v1.srt", True)
RU = SubtitleLink("ru", "Русский", "subtitles/ru/v1.vtt", None, False)


def info(**changes) -> PageInfo:
    fields = dict(
        title=HOSTILE,
        speaker="Анна <Петрова>",
        event="Workshop & Co",
        language="ru",
        duration_s=3723.4,
        master="master.m3u8",
        poster="poster.jpg",
        transcript="transcript.json",
        subtitles=(EN, RU),
        audio_only=False,
        notes=("Subtitles are machine-made <draft>.",),
    )
    fields.update(changes)
    return PageInfo(**fields)


class _Collect(HTMLParser):
    """Start tags with their attributes, and the text of the title and each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.title = ""
        self._in: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "title"):
            self._in = (tag, dict(attrs))
            if tag == "script":
                self.scripts.append((dict(attrs), ""))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in and self._in[0] == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._in and self._in[0] == "title":
            self.title += data


def parse(page: str) -> _Collect:
    p = _Collect()
    p.feed(page)
    p.close()
    return p


# ---- rendering (no browser) -------------------------------------------------------


def test_hostile_title_is_escaped_everywhere():
    page = render_player_page(info())
    doc = parse(page)
    # The only scripts are the two files and the JSON block: the title added none.
    assert [a.get("src") or a.get("type") for a, _ in doc.scripts] == [
        "application/json",
        "hls.min.js",
        "player.js",
    ]
    assert "<b>" not in page and "<script>alert" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in page
    assert doc.title == HOSTILE  # the escaped text reads back as the original
    data = json.loads(doc.scripts[0][1])
    assert data["title"] == HOSTILE and data["subtitles"][0]["language"] == "en"
    assert "</" not in page_data(info())


def test_lang_attributes():
    doc = parse(render_player_page(info()))
    tags = doc.tags
    assert tags[0] == ("html", {"lang": "en"})  # the page's own words are English
    assert ("h1", {"lang": "ru"}) in tags  # the title is in the lecture's language
    options = {a["value"]: a for t, a in tags if t == "option"}
    assert options["ru"]["lang"] == "ru" and options["en"]["lang"] == "en"
    assert "selected" in options["en"] and "selected" not in options["ru"]
    assert "lang" not in options["off"]


def test_downloads_listed_per_language():
    page = render_player_page(info())
    hrefs = [a["href"] for t, a in parse(page).tags if t == "a"]
    assert hrefs == ["subtitles/en/v1.vtt", "subtitles/en/v1.srt", "subtitles/ru/v1.vtt", "transcript.json"]
    # the panel reads the same (content-hashed) file the page names
    assert json.loads(parse(page).scripts[0][1])["transcript"] == "transcript.json"
    assert '<time datetime="PT1H2M3S">1:02:03</time>' in page
    assert "Subtitles are machine-made &lt;draft&gt;." in page


def test_page_without_extras_hides_their_sections():
    page = render_player_page(
        info(speaker=None, event=None, language=None, poster=None, transcript=None, subtitles=(), notes=())
    )
    doc = parse(page)
    assert ("h1", {}) in doc.tags
    assert not any(t == "a" for t, _ in doc.tags)
    assert not any("poster" in a for t, a in doc.tags if t == "video")
    assert 'class="toolbar" hidden' in page and "aria-labelledby=\"downloads-heading\" hidden" in page


def test_renders_in_russian_with_no_english_word_of_its_own():
    from medialib.publish.bundle import MACHINE_NOTE
    from medialib.publish.strings import strings

    table = strings(("player_",))
    page = render_player_page(info(notes=(MACHINE_NOTE,)), lang="ru")
    doc = parse(page)
    assert doc.tags[0] == ("html", {"lang": "ru"})
    assert json.loads(doc.scripts[0][1])["strings"] == table   # both languages, for the switch
    markup = page.replace(doc.scripts[0][1], "")
    assert '<label for="subtitle-select" data-i18n="player_subtitles">Субтитры</label>' in markup
    assert table["ru"]["player_note_machine"] in markup
    # (the switch's "Русский" is also a subtitle language's own name)
    leftovers = [en for key, en in table["en"].items()
                 if key != "player_language_switch" and en != table["ru"][key] and html.escape(en) in markup]
    assert leftovers == []
    keys = set(re.findall(r'data-i18n(?:-aria)?="([a-z_]+)"', markup))
    assert keys and keys <= set(table["en"])


def test_a_page_language_outside_the_table_is_refused():
    with pytest.raises(InputError, match=re.escape("player page: language 'de' is not one of ['en', 'ru']")):
        render_player_page(info(), lang="de")


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(master="https://cdn.example/master.m3u8"), "master playlist URL 'https://cdn.example/master.m3u8'"),
        (dict(poster="javascript:alert(1)"), "poster URL 'javascript:alert(1)'"),
        (dict(transcript="../other/transcript.json"), "transcript URL '../other/transcript.json'"),
        (dict(subtitles=(EN, EN)), "subtitle languages repeat: ['en', 'en']"),
        (dict(subtitles=(EN, SubtitleLink("ru", "Русский", "r.vtt", None, True))), "several default"),
        (dict(duration_s=float("nan")), "duration_s=nan"),
        (dict(title="  "), "the lecture title is empty"),
    ],
)
def test_bad_page_info_is_refused(changes, message):
    with pytest.raises(InputError, match=re.escape(message)):
        info(**changes)


def test_assets_are_shipped_and_hls_js_is_the_documented_version():
    assets = player_assets()
    assert [p.name for p in assets] == ["hls.min.js", "player.js", "player.css"]
    assert all(p.is_file() for p in assets)
    readme = (assets[0].parent / "README.md").read_text(encoding="utf-8")
    version = re.search(r"version \*\*(\d+\.\d+\.\d+)\*\*", readme).group(1)
    assert f'"{version}"' in assets[0].read_text(encoding="utf-8")


# ---- in chromium ------------------------------------------------------------------

DURATION_S = 12
TRANSCRIPT = "transcript-0123456789ab.json"
RU_CUES = tuple(f"Субтитр {i} из 6" for i in range(1, 7))
CUES = tuple(f"Caption {i} of 6" for i in range(1, 7))  # one every 2 s


def _ffmpeg(*args: str, cwd: Path) -> None:
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    subprocess.run(argv, cwd=cwd, check=True, stdin=subprocess.DEVNULL, timeout=120)


def _ts(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A 12 s lecture bundle: one fMP4 rendition, English subtitles, page and assets."""
    root = tmp_path_factory.mktemp("bundle")
    rendition = root / "video" / "360p"
    rendition.mkdir(parents=True)
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={DURATION_S}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}",
        "-map", "0:v", "-map", "1:a",
        # main profile so the CODECS attribute below is exact; a keyframe every 2 s
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level:v", "3.0",
        "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments",
        "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", "video/360p/seg_%03d.m4s",
        "video/360p/index.m3u8",
        cwd=root,
    )  # fmt: skip
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360", "-frames:v", "1", "poster.jpg", cwd=root)

    mpegts = round(first_pts_s(rendition) * 90000)
    subs = root / "subtitles" / "en"
    subs.mkdir(parents=True)
    spans = [(2 * i, 2 * i + 2, text) for i, text in enumerate(CUES)]
    vtt = [f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n"]
    vtt += [f"{_ts(a, '.')} --> {_ts(b, '.')}\n{text}\n" for a, b, text in spans]
    (subs / "v1.vtt").write_text("\n".join(vtt), encoding="utf-8")
    srt = [f"{n}\n{_ts(a, ',')} --> {_ts(b, ',')}\n{text}\n" for n, (a, b, text) in enumerate(spans, 1)]
    (subs / "v1.srt").write_text("\n".join(srt), encoding="utf-8")
    (subs / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        f"#EXT-X-TARGETDURATION:{math.ceil(DURATION_S)}\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXTINF:{DURATION_S:.3f},\nv1.vtt\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    (root / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",'
        'DEFAULT=YES,AUTOSELECT=YES,URI="subtitles/en/index.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,'
        'CODECS="avc1.4d401e,mp4a.40.2",SUBTITLES="subs"\n'
        "video/360p/index.m3u8\n",
        encoding="utf-8",
    )
    (root / TRANSCRIPT).write_text(json.dumps({"lecture_id": "t", "tracks": [
        {"language": "en", "name": "English", "version": 1,
         "cues": [[a * 1000, b * 1000, text] for a, b, text in spans]},
        {"language": "ru", "name": "Русский", "version": 1,
         "cues": [[a * 1000, b * 1000, RU_CUES[i]] for i, (a, b, _) in enumerate(spans)]}]}), encoding="utf-8")

    page = PageInfo(
        title="Тестовая лекция <12 s>",
        speaker="Test Speaker",
        event="medialib tests",
        language="ru",
        duration_s=DURATION_S,
        master="master.m3u8",
        poster="poster.jpg",
        transcript=TRANSCRIPT,
        subtitles=(SubtitleLink("en", "English", "subtitles/en/v1.vtt", "subtitles/en/v1.srt", True),),
        audio_only=False,
    )
    (root / "index.html").write_text(render_player_page(page), encoding="utf-8")
    for asset in player_assets():
        shutil.copyfile(asset, root / asset.name)
    return root


class _BundleHandler(SimpleHTTPRequestHandler):
    """Serves the bundle with the Content-Types the publisher sets on S3 objects."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".m4s": "video/iso.segment",
        ".mp4": "video/mp4",
        ".ts": "video/mp2t",
        ".vtt": "text/vtt",
        ".srt": "application/x-subrip",
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".jpg": "image/jpeg",
    }

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def log_request(self, code="-", size="-"):
        self.server.log.append((self.path, int(code) if str(code).isdigit() else 0))


@contextmanager
def serve_bundle(root: Path, handler=None):
    """root served from 127.0.0.1 (a free port) in a thread; yields (base URL, the requests' log)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler or _BundleHandler, directory=str(root)))
    server.log = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server.log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def served(bundle):
    with serve_bundle(bundle) as served:
        yield served


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_bundle_plays_with_english_subtitles(served):
    base, log = served
    report = open_player(base + "index.html", play_s=6.0)

    assert report.errors == ()
    assert report.played_s >= 3.0
    assert report.subtitle_tracks == ("en:English",)
    assert report.selected_subtitle == "en:English"
    assert set(report.cues_seen) <= set(CUES) and CUES[0] in report.cues_seen
    # Everything came from the bundle's own server, and all of it was there.
    assert {urlsplit(u).netloc for u in report.requests if not u.startswith(("blob:", "data:"))} == {
        urlsplit(base).netloc
    }
    assert [entry for entry in log if entry[1] >= 400] == []
    requested = {path for path, _ in log}
    assert {"/subtitles/en/index.m3u8", "/subtitles/en/v1.vtt", "/poster.jpg"} <= requested


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_transcript_marks_the_current_cue_and_seeks_on_click_and_enter(served):
    base, log = served
    with player_session(base + "index.html", 30.0) as (page, errors, _requests):
        page.wait_for_selector("#transcript:not([hidden]) button.cue")
        texts = page.eval_on_selector_all("#transcript-cues .cue .text", "els => els.map(e => e.textContent)")
        assert texts == list(CUES)
        assert page.get_attribute("#transcript-cues", "lang") == "en"
        # while playing, the cue on screen is the one marked current
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 2.3")
        page.wait_for_selector("#transcript-cues .cue[aria-current='true']")
        marked = page.eval_on_selector_all("#transcript-cues .cue[aria-current]", "els => els.map(e => e.dataset.i)")
        assert len(marked) == 1
        # a click seeks to the cue's start
        page.evaluate("() => window.medialibPlayer.video.pause()")
        page.click("#transcript-cues .cue[data-i='4']")
        page.wait_for_function("() => Math.abs(window.medialibPlayer.video.currentTime - 8) < 0.5")
        page.wait_for_selector("#transcript-cues .cue[data-i='4'][aria-current='true']")
        # so does Enter on a focused cue (keyboard only)
        page.focus("#transcript-cues .cue[data-i='1']")
        page.keyboard.press("Enter")
        page.wait_for_function("() => Math.abs(window.medialibPlayer.video.currentTime - 2) < 0.5")
        page.wait_for_selector("#transcript-cues .cue[data-i='1'][aria-current='true']")
        assert page.locator("#transcript-cues .cue[aria-current]").count() == 1
        # search within the lecture: matches marked, the rest hidden, the count announced
        page.fill("#transcript-search", "caption 3")
        page.wait_for_function("() => document.getElementById('transcript-status').textContent === '1 match'")
        assert page.locator("#transcript-cues li:not([hidden])").count() == 1
        assert page.inner_text("#transcript-cues li:not([hidden]) mark") == "Caption 3"
        assert page.get_attribute("#transcript-status", "role") == "status"
        # download as text
        with page.expect_download() as download:
            page.click("#transcript-download")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert "[0:02] Caption 2 of 6" in text and text.startswith("Тестовая лекция")
        # a deep link beyond the end is clamped, with no script error
        page.evaluate("() => { window.location.hash = 't=9999'; }")
        page.wait_for_function(f"() => window.medialibPlayer.video.currentTime > {DURATION_S - 1}")
        page.evaluate("() => { window.location.hash = 't=0:05'; }")
        page.wait_for_function("() => Math.abs(window.medialibPlayer.video.currentTime - 5) < 0.5")
        state = page.evaluate("() => window.medialibPlayer.errors")
    assert errors == [] and state == []
    assert (f"/{TRANSCRIPT}", 200) in log


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_deep_link_beyond_the_end_starts_near_the_end_without_error(served):
    base, _ = served
    with player_session(base + "index.html#t=99999", 30.0) as (page, errors, _requests):
        page.wait_for_function(f"() => window.medialibPlayer.video.currentTime > {DURATION_S - 1}")
        assert page.evaluate("() => window.medialibPlayer.video.currentTime") <= DURATION_S
    assert errors == []


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_two_languages_show_one_ru_and_one_en_line_in_overlay_and_transcript(served):
    base, _ = served
    with player_session(base + "index.html", 30.0) as (page, errors, _requests):
        page.wait_for_selector("#dual-label:not([hidden])")
        page.check("#dual-toggle")
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 2.3")
        page.wait_for_selector("#dual-overlay:not([hidden]) p")
        lines = page.eval_on_selector_all("#dual-overlay p", "els => els.map(e => [e.lang, e.textContent])")
        assert [lang for lang, _ in lines] == ["ru", "en"]
        n = int(lines[1][1].split()[1])
        assert lines == [["ru", RU_CUES[n - 1]], ["en", CUES[n - 1]]]
        # the native rendering is off so the cue is not shown twice
        assert page.evaluate("() => window.medialibPlayer.hls.subtitleDisplay") is False
        second = page.eval_on_selector_all("#transcript-cues .cue[data-i='0'] .text",
                                           "els => els.map(e => [e.lang, e.textContent])")
        assert second == [["en", CUES[0]], ["ru", RU_CUES[0]]]
        # it persists over a reload
        page.reload(wait_until="load")
        page.wait_for_selector("#transcript-cues .cue .second")
        assert page.is_checked("#dual-toggle")
    assert errors == []


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_speed_caption_style_and_position_persist_over_a_reload(served):
    base, _ = served
    with player_session(base + "index.html", 30.0) as (page, errors, _requests):
        page.select_option("#speed-select", "1.5")
        page.select_option("#caption-size", "xl")
        page.select_option("#caption-colors", "yb")
        assert page.evaluate("() => window.medialibPlayer.video.playbackRate") == 1.5
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 7")
        page.evaluate("() => window.medialibPlayer.video.pause()")
        page.reload(wait_until="load")
        page.wait_for_function("() => window.medialibPlayer && window.medialibPlayer.video.readyState >= 1")
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 5")   # resumed
        assert page.input_value("#speed-select") == "1.5"
        assert page.evaluate("() => window.medialibPlayer.video.playbackRate") == 1.5
        assert page.input_value("#caption-size") == "xl" and page.input_value("#caption-colors") == "yb"
        assert page.evaluate("() => document.getElementById('video').className") == "cap-size-xl cap-colors-yb"
    assert errors == []


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_shortcuts_act_only_while_the_player_has_focus(served):
    base, _ = served
    with player_session(base + "index.html", 30.0) as (page, errors, _requests):
        page.evaluate("() => window.medialibPlayer.video.pause()")
        page.focus("#transcript-search")
        page.keyboard.press("l")                   # typed into the search, no seek
        assert page.input_value("#transcript-search") == "l"
        assert page.evaluate("() => window.medialibPlayer.video.currentTime") < 2
        page.focus("#video")
        page.keyboard.press("l")
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 9")
        page.keyboard.press(">")
        assert page.input_value("#speed-select") == "1.25"
        page.keyboard.press("c")
        assert page.input_value("#subtitle-select") == "off"
    assert errors == []


# ---- the page's language, a search hit's passage, axe -------------------------------

AXE = Path(__file__).with_name("vendor") / "axe.min.js"


@pytest.fixture(scope="module")
def passage_page(tmp_path_factory) -> str:
    """A 120 s lecture, a cue every 3 s in en and ru, so a search hit at 70-110 s has cues to mark and to play."""
    root = build_ladder_bundle(tmp_path_factory.mktemp("passage"), seconds=120, rungs=((144, 150),),
                               transcript=synthetic_transcript(40, 120, ("en", "ru")))
    shutil.copyfile(AXE, root / "axe.min.js")   # same origin: the page's CSP lets the test load it
    with serve_bundle(root) as (base, _log):
        yield base + "index.html"


def _marked(page) -> list[str]:
    return page.eval_on_selector_all("#transcript-cues .cue.passage", "els => els.map(e => e.dataset.i)")


def _go(page, fragment: str) -> None:
    page.evaluate("(h) => { window.location.hash = h; }", fragment)
    page.wait_for_function("(h) => decodeURIComponent(window.location.hash) === '#' + h", arg=fragment)
    page.wait_for_timeout(100)   # hashchange is a task of its own


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_a_search_hit_marks_its_passage_in_its_language_and_bad_links_do_no_harm(passage_page):
    with player_session(passage_page + "#t=70,110&lang=en", 30.0) as (page, errors, _requests):
        page.wait_for_selector("#transcript-cues .cue.passage")
        assert _marked(page) == [str(i) for i in range(24, 37)]   # the cues starting at 72 ... 108 s
        assert page.get_attribute("#transcript-cues", "lang") == "en"
        first = page.text_content(".cue.passage >> nth=0")   # told to screen readers, not shown
        assert first == "Found passage:1:12The next point of the lecture, number 25."
        inside = page.evaluate("""() => { const l = document.getElementById('transcript-cues'),
            b = l.querySelector('.cue.passage'); return b.offsetTop >= l.scrollTop &&
            b.offsetTop + b.offsetHeight <= l.scrollTop + l.clientHeight; }""")
        assert inside and page.evaluate("document.getElementById('transcript-cues').scrollTop") > 0
        # another hit on the same page, in Russian: the panel follows its language
        _go(page, "t=20,40&lang=ru")
        page.wait_for_function("() => document.getElementById('transcript-cues').lang === 'ru'")
        assert _marked(page) == [str(i) for i in range(7, 14)]
        # no end, an unknown language: the cue playing at the start, language kept
        _go(page, "t=50&lang=xx")
        assert _marked(page) == ["16"] and page.get_attribute("#transcript-cues", "lang") == "ru"
        _go(page, "t=90,30")                    # an end before the start: as if none
        assert _marked(page) == ["30"]
        _go(page, "t=9999,10020&lang=en")       # beyond the end: nothing to mark
        page.wait_for_function("() => document.getElementById('transcript-cues').lang === 'en'")
        assert _marked(page) == []
        _go(page, "t=junk,&lang=<b>")
        assert _marked(page) == []
        state = page.evaluate("() => window.medialibPlayer.errors")
    assert errors == [] and state == []


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
def test_the_language_switch_translates_the_page_and_persists_over_a_reload(served):
    from medialib.publish.strings import strings

    ru = strings(("player_",))["ru"]
    base, _ = served
    with player_session(base + "index.html", 30.0) as (page, errors, _requests):
        page.wait_for_selector("#transcript:not([hidden]) button.cue")
        assert page.text_content("label[for='subtitle-select']") == "Subtitles"
        page.click("#lang-switch")
        page.fill("#transcript-search", "caption")
        for _ in range(2):                      # switched, then reloaded
            assert page.evaluate("document.documentElement.lang") == "ru"
            texts = page.eval_on_selector_all("[data-i18n]", "els => els.map(e => [e.dataset.i18n, e.textContent])")
            assert texts and all(text == ru[key] for key, text in texts)
            assert page.get_attribute("#player", "aria-label") == ru["player_player"]
            assert page.get_attribute("#video", "aria-label") == "Видео: Тестовая лекция <12 s>"
            assert page.text_content("#lang-switch") == "English" and page.get_attribute("#lang-switch", "lang") == "en"
            page.wait_for_function("() => document.getElementById('transcript-status').textContent"
                                   " === 'Совпадений: 6'")
            page.reload(wait_until="load")
            page.wait_for_selector("#transcript:not([hidden]) button.cue")
            page.fill("#transcript-search", "caption")
        page.click("#lang-switch")              # and back
        assert page.text_content("label[for='subtitle-select']") == "Subtitles"
        page.wait_for_function("() => document.getElementById('transcript-status').textContent === '6 matches'")
    assert errors == []


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")
@pytest.mark.parametrize("width, lang", [(1024, "en"), (1024, "ru"), (320, "en"), (320, "ru")])
def test_axe_finds_no_violations(passage_page, width, lang):
    with player_session(passage_page + "#t=70,110&lang=en", 30.0) as (page, errors, _requests):
        page.set_viewport_size({"width": width, "height": 800})
        if lang == "ru":
            page.click("#lang-switch")
        page.wait_for_selector("#transcript-cues .cue.passage")
        page.fill("#transcript-search", "cue")   # marks in the list, a status message
        page.wait_for_function("() => document.getElementById('transcript-status').textContent !== ''")
        assert page.evaluate("document.documentElement.lang") == lang
        page.add_script_tag(url="/axe.min.js")
        violations = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values:
                ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }""")
        assert violations == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []
