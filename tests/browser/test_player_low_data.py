"""Low-data mode (audio.m3u8), the 320 px layout and keyboard-only use, in chromium."""

from __future__ import annotations


import pytest
from browser import chromium_available, player_session
from ladder_bundle import build_ladder_bundle
from test_player_page import serve_bundle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")]

# Resources fetched after a moment (performance.now() ms), by path: what the network saw.
_FETCHED_SINCE = """(t0) => performance.getEntriesByType("resource")
  .filter((e) => e.startTime >= t0).map((e) => new URL(e.name).pathname)"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = build_ladder_bundle(tmp_path_factory.mktemp("ladder"), seconds=16, rungs=((180, 250), (360, 600)))
    with serve_bundle(root) as (base, _log):
        yield base + "index.html"


def _video_fetches(paths) -> list[str]:
    return [p for p in paths if p.startswith("/video/") and not p.startswith("/video/audio/")]


def test_low_data_mode_fetches_no_video_and_keeps_playing_and_persists(served):
    with player_session(served, 30.0) as (page, errors, _requests):
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 2")
        assert page.is_visible("#lowdata-toggle")
        assert page.evaluate("() => window.medialibPlayer.hls.config.abrEwmaDefaultEstimate") == 500000
        # marked after player.js's own listener has destroyed the video hls.js: requests
        # already in flight before the switch do not count, any later one would
        at = page.evaluate("""() => {
          document.getElementById("lowdata-toggle").addEventListener("change", () => {
            window.__switchedAt = performance.now(); }, { once: true });
          return window.medialibPlayer.video.currentTime; }""")
        page.check("#lowdata-toggle")
        t0 = page.evaluate("() => window.__switchedAt")
        assert page.evaluate("() => window.medialibPlayer.hls.url").endswith("/audio.m3u8")
        page.wait_for_function(f"() => window.medialibPlayer.video.currentTime > {at + 3}")
        fetched = page.evaluate(_FETCHED_SINCE, t0)
        assert any(p.startswith("/video/audio/seg_") for p in fetched)   # audio.m3u8: requested in the handler
        assert _video_fetches(fetched) == []
        assert not page.evaluate("() => window.medialibPlayer.video.paused")

        page.reload(wait_until="load")                       # remembered: audio only from the start
        page.wait_for_function("() => window.medialibPlayer && window.medialibPlayer.hls")
        assert page.is_checked("#lowdata-toggle")
        page.evaluate("() => { const v = window.medialibPlayer.video; v.muted = true; v.play(); }")
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 1")
        assert _video_fetches(page.evaluate(_FETCHED_SINCE, 0)) == []
        page.uncheck("#lowdata-toggle")                      # and back to video
        page.wait_for_function("""() => performance.getEntriesByType("resource")
          .some((e) => /\\/video\\/\\d+p\\/seg_/.test(e.name))""")
    assert errors == []


def test_320_px_wide_has_no_horizontal_scroll(served):
    with player_session(served, 30.0) as (page, errors, _requests):
        page.set_viewport_size({"width": 320, "height": 640})
        page.wait_for_function("() => !document.getElementById('transcript').hidden")
        page.wait_for_timeout(300)
        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
    assert errors == []


def test_every_control_is_reached_by_tab_with_a_visible_focus(served):
    with player_session(served, 30.0) as (page, errors, _requests):
        page.wait_for_function("() => !document.getElementById('transcript').hidden")
        page.evaluate("() => window.medialibPlayer.video.pause()")
        controls = page.evaluate("""() => Array.from(document.querySelectorAll(
            'video, select, input, button:not(.cue), a[href]'))
          .filter((el) => el.offsetParent !== null || el.tagName === 'VIDEO')
          .map((el) => el.id || el.getAttribute('href'))""")
        reached, styles = [], {}
        for _ in range(len(controls) + 30):                  # the cue list is one stop (see below) plus slack
            page.keyboard.press("Tab")
            el = page.evaluate("""() => { const el = document.activeElement;
              const s = getComputedStyle(el);
              return [el.id || el.getAttribute('href') || el.className,
                      s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 || s.boxShadow !== 'none']; }""")
            reached.append(el[0])
            styles[el[0]] = styles.get(el[0]) or el[1]     # the video's own controls are several stops
        missing = [c for c in controls if c not in reached]
        assert missing == [], (missing, reached)
        assert [c for c in controls if not styles[c]] == [], (reached, styles)
        assert any(r == "cue" or "cue" in str(r) for r in reached)   # a transcript line is reachable too
    assert errors == []
