"""Open a medialib player page in Debian's chromium and report what a learner would see.

Playwright's own browser download does not work here, so this drives /usr/bin/chromium
(or $MEDIALIB_CHROMIUM) with a fresh profile per call. Usable from any test:

    from browser import chromium_available, open_player   # tests/browser on sys.path
    report = open_player("http://127.0.0.1:8123/lectures/x/index.html")
    assert not report.errors and report.played_s >= 3
    choice = choose_audio(url, "ru")   # the interpreter's channel, chosen with the keyboard
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

# Runs in the page before its own scripts: collects the text of every cue shown while
# the page lives, so short cues between two reads are not missed.
_CUE_WATCH = """
window.__medialibCues = [];
setInterval(() => {
  const video = document.querySelector("video");
  if (!video) return;
  for (const track of video.textTracks) {
    if (track.mode !== "showing" || !track.activeCues) continue;
    for (const cue of track.activeCues) {
      if (!window.__medialibCues.includes(cue.text)) window.__medialibCues.push(cue.text);
    }
  }
}, 100);
"""

_STATE = """
() => {
  const video = window.medialibPlayer.video;
  let played = 0;
  for (let i = 0; i < video.played.length; i++) played += video.played.end(i) - video.played.start(i);
  const tracks = [];
  let selected = null;
  for (const t of video.textTracks) {
    if (t.kind !== "subtitles" && t.kind !== "captions") continue;
    const name = t.language + ":" + t.label;
    tracks.push(name);
    if (t.mode === "showing") selected = name;
  }
  return {
    played, tracks, selected,
    cues: window.__medialibCues || [],
    errors: (window.medialibPlayer.errors || []).slice(),
    playError: window.__medialibPlayError || null,
  };
}
"""


@dataclass(frozen=True)
class PlayerReport:
    """What happened while the page played.

    Subtitle tracks are named "<language>:<label>", e.g. "en:English", and
    `selected_subtitle` is the one shown (mode "showing"), in the same form.
    """

    played_s: float  # media seconds actually played (sum of video.played ranges)
    errors: tuple[str, ...]  # console errors, uncaught page errors, hls.js fatal errors
    subtitle_tracks: tuple[str, ...]
    cues_seen: tuple[str, ...]  # text of cues on screen while playing, first seen first
    selected_subtitle: str | None
    requests: tuple[str, ...] = ()  # every URL the page requested, in order


def chromium_path() -> str | None:
    for candidate in (os.environ.get("MEDIALIB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def chromium_available() -> bool:
    """True when both chromium and the playwright package are here (for skipif)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


@contextmanager
def _player_page(url: str, timeout_s: float):
    """A fresh chromium profile with `url` loaded and playing muted (autoplay allows that).

    Yields (page, errors, requests); errors and requests keep growing while the page lives.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium not found: install Debian's chromium or set MEDIALIB_CHROMIUM")

    errors: list[str] = []
    requests: list[str] = []
    with tempfile.TemporaryDirectory(prefix="medialib-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1024, "height": 800},
        )
        try:
            context.add_init_script(_CUE_WATCH)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))

            page.goto(url, wait_until="load")
            page.wait_for_function("() => window.medialibPlayer && window.medialibPlayer.video")
            page.evaluate(
                """() => {
                  const v = window.medialibPlayer.video;
                  v.muted = true;
                  v.play().catch((e) => { window.__medialibPlayError = String(e); });
                }"""
            )
            yield page, errors, requests
        finally:
            context.close()


# Public: a test that drives the page itself (clicks, keys) opens it with this.
player_session = _player_page


def _page_errors(state: dict, errors: list[str]) -> tuple[str, ...]:
    out = list(errors)
    for detail in state["errors"]:
        # player.js also logs its fatal errors to the console; keep each once.
        if f"console: {detail}" not in out:
            out.append(detail)
    if state["playError"]:
        out.append(f"play(): {state['playError']}")
    return tuple(out)


def open_player(
    url: str,
    *,
    play_s: float = 6.0,
    screenshot: Path | None = None,
    timeout_s: float = 30.0,
) -> PlayerReport:
    """Load the page, start playback muted, wait play_s, report.

    `screenshot`, if given, is written just before the report is taken.
    """
    with _player_page(url, timeout_s) as (page, errors, requests):
        page.wait_for_timeout(play_s * 1000)
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        state = page.evaluate(_STATE)
    return PlayerReport(
        played_s=float(state["played"]),
        errors=_page_errors(state, errors),
        subtitle_tracks=tuple(state["tracks"]),
        cues_seen=tuple(state["cues"]),
        selected_subtitle=state["selected"],
        requests=tuple(requests),
    )


@dataclass(frozen=True)
class AudioChoiceReport:
    """What happened when a learner chose an audio track with the keyboard.

    Tracks are named "<language>:<name>" as the selector shows them, e.g.
    "ru:Русский (синхронный перевод)"; hls.js's own state is read beside the page's.
    """

    label: str  # the text of the selector's <label>
    options: tuple[str, ...]  # the selector's options, "<lang attribute>:<text>"
    hls_tracks: tuple[str, ...]  # hls.audioTracks, "<lang>:<name>"
    playing_before: str  # hls.audioTracks[hls.audioTrack] before the choice
    playing_after: str  # ... and after it
    selected_after: str  # the selector's option after the choice
    media_time_at_switch_s: float  # video.currentTime when hls.js reported the switch
    media_time_after_s: float  # video.currentTime play_s later
    paused_after: bool
    errors: tuple[str, ...]
    requests: tuple[str, ...] = ()


_AUDIO_STATE = """
() => {
  const hls = window.medialibPlayer.hls, video = window.medialibPlayer.video;
  const select = document.getElementById("audio-select");
  const name = (t) => (t ? t.lang + ":" + t.name : "");
  return {
    label: document.querySelector('label[for="audio-select"]').textContent.trim(),
    options: Array.from(select.options, (o) => o.lang + ":" + o.textContent),
    selected: select.selectedIndex >= 0 ? select.options[select.selectedIndex].lang + ":" +
      select.options[select.selectedIndex].textContent : "",
    hlsTracks: hls.audioTracks.map(name),
    playing: name(hls.audioTracks[hls.audioTrack]),
    time: video.currentTime,
    paused: video.paused,
    errors: (window.medialibPlayer.errors || []).slice(),
    playError: window.__medialibPlayError || null,
  };
}
"""


def choose_audio(url: str, language: str, *, play_s: float = 4.0, timeout_s: float = 30.0) -> AudioChoiceReport:
    """Load the page, wait for the audio selector, choose `language` with the keyboard, play on.

    The selector is reached by Tab from the page (as a keyboard user would) and moved with
    ArrowDown until its option's lang is `language`; then this waits for hls.js to report
    the switch (AUDIO_TRACK_SWITCHED) and lets the lecture play for play_s.
    """
    with _player_page(url, timeout_s) as (page, errors, requests):
        page.evaluate(
            """() => {
              window.__medialibAudioSwitches = [];
              const hls = window.medialibPlayer.hls;
              hls.on(window.Hls.Events.AUDIO_TRACK_SWITCHED, (e, d) =>
                window.__medialibAudioSwitches.push({ id: d.id, time: window.medialibPlayer.video.currentTime }));
            }"""
        )
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_selector("#audio-select", state="visible")
        except PlaywrightTimeout:
            state = page.evaluate(_AUDIO_STATE)
            raise AssertionError(
                f"the audio selector was never shown; hls.audioTracks={state['hlsTracks']}, "
                f"options={state['options']}, errors={_page_errors(state, errors)}"
            ) from None
        page.wait_for_function("() => window.medialibPlayer.video.currentTime > 0.5")
        before = page.evaluate(_AUDIO_STATE)
        for _ in range(30):  # past the links and the video's own controls
            if page.evaluate("() => document.activeElement && document.activeElement.id") == "audio-select":
                break
            page.keyboard.press("Tab")
        else:
            raise AssertionError("the audio selector cannot be reached with the Tab key")
        for _ in range(len(before["options"])):
            if page.evaluate("() => { const s = document.getElementById('audio-select');"
                             " return s.options[s.selectedIndex].lang; }") == language:
                break
            page.keyboard.press("ArrowDown")
        page.wait_for_function(
            "(lang) => window.__medialibAudioSwitches.some("
            "(s) => window.medialibPlayer.hls.audioTracks[s.id].lang === lang)",
            arg=language,
        )
        switch = page.evaluate("() => window.__medialibAudioSwitches.slice(-1)[0]")
        page.wait_for_timeout(play_s * 1000)
        after = page.evaluate(_AUDIO_STATE)
    return AudioChoiceReport(
        label=before["label"],
        options=tuple(before["options"]),
        hls_tracks=tuple(before["hlsTracks"]),
        playing_before=before["playing"],
        playing_after=after["playing"],
        selected_after=after["selected"],
        media_time_at_switch_s=float(switch["time"]),
        media_time_after_s=float(after["time"]),
        paused_after=bool(after["paused"]),
        errors=_page_errors(after, errors),
        requests=tuple(requests),
    )


@contextmanager
def serve_app(asgi_app):
    """An ASGI app under uvicorn on a free 127.0.0.1 port in a thread; yields its URL, stops it after."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
