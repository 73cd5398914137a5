"""Open a medialib player page in Debian's chromium and report what a learner would see.

Playwright's own browser download does not work here, so this drives /usr/bin/chromium
(or $MEDIALIB_CHROMIUM) with a fresh profile per call. Usable from any test:

    from browser import chromium_available, open_player   # tests/browser on sys.path
    report = open_player("http://127.0.0.1:8123/lectures/x/index.html")
    assert not report.errors and report.played_s >= 3
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


def open_player(
    url: str,
    *,
    play_s: float = 6.0,
    screenshot: Path | None = None,
    timeout_s: float = 30.0,
) -> PlayerReport:
    """Load the page, start playback muted (autoplay policy allows that), wait play_s, report.

    `screenshot`, if given, is written just before the report is taken.
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
            page.wait_for_timeout(play_s * 1000)
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            state = page.evaluate(_STATE)
        finally:
            context.close()

    for detail in state["errors"]:
        # player.js also logs its fatal errors to the console; keep each once.
        if f"console: {detail}" not in errors:
            errors.append(detail)
    if state["playError"]:
        errors.append(f"play(): {state['playError']}")
    return PlayerReport(
        played_s=float(state["played"]),
        errors=tuple(errors),
        subtitle_tracks=tuple(state["tracks"]),
        cues_seen=tuple(state["cues"]),
        selected_subtitle=state["selected"],
        requests=tuple(requests),
    )
