"""Benchmark: the learner's player page on a slow link, low-data mode, a 90-minute transcript.

Builds (once, into bench/out/player-ladder/) a bundle from a generated 60-s 720p clip
with a four-rung ladder (180p 250k, 360p 700k, 540p 1200k, 720p 2500k; AAC 64k as its
own rendition; audio.m3u8 as the publisher writes it), lays it out as the publish bucket
does (lectures/ladder/ and the shared player files under assets/, stored gzip and served
with Content-Encoding), serves that on 127.0.0.1, and drives Debian's chromium through
playwright:

- first frame: Chromium's network emulation at 1.6 Mbit/s down, 40 ms latency
  (CDP Network.emulateNetworkConditions), cold profile; from navigation start to the
  first video frame presented (requestVideoFrameCallback); budget 3,000 ms; the
  baseline, in the same run, is the page with uncompressed copies beside it;
- low-data mode on the same link: 3 s of video, then "Low data (audio only)", then 8 s
  of playback: video segments fetched after the switch (budget 0), playback going on;
- transcript panel: a synthetic 90-minute transcript (1,500 cues x 2 languages, both
  languages shown) while the clip plays for 20 s, with a PerformanceObserver('longtask');
  budget: no long task over 100 ms (the panel's first render, before playback, reported apart).

    python bench/player_page.py [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browser import CHROMIUM_ARGS, chromium_path
from ladder_bundle import build_ladder_bundle, ladder_page, synthetic_transcript
from test_player_page import _BundleHandler, serve_bundle

from medialib.publish.assets import asset_key, asset_urls, stored_body
from medialib.publish.page import (
    PageInfo,
    SubtitleLink,
    player_assets,
    render_player_page,
)

FIRST_FRAME_BUDGET_MS = 3000.0
LONG_TASK_BUDGET_MS = 100.0
LINK_BPS = 1_600_000
RUNGS = ((180, 250), (360, 700), (540, 1200), (720, 2500))
SECONDS = 60

_WATCH = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push({start: e.startTime, duration: e.duration});
}).observe({type: "longtask", buffered: true});
document.addEventListener("DOMContentLoaded", () => {
  const v = document.getElementById("video");
  if (!v) return;
  v.addEventListener("loadeddata", () => { window.__loadedData = window.__loadedData || performance.now(); });
  if (v.requestVideoFrameCallback) {
    v.requestVideoFrameCallback(() => { window.__firstFrame = performance.now(); });
  }
});
"""

_PLAY = "() => { const v = window.medialibPlayer.video; v.muted = true; v.play().catch(() => {}); }"
# Added after player.js's own listener, so it runs once the old hls.js is destroyed: a
# video request that starts after this moment is the page's doing, not one already in flight.
_MARK_SWITCH = """() => {
  document.getElementById("lowdata-toggle").addEventListener("change", () => {
    window.__switchedAt = performance.now();
  }, { once: true });
  return window.medialibPlayer.video.currentTime;
}"""
_VIDEO_SINCE = """(t0) => performance.getEntriesByType("resource")
  .filter((e) => e.startTime >= t0 && /\\/video\\/\\d+p\\//.test(new URL(e.name).pathname))
  .map((e) => new URL(e.name).pathname)"""


class _SiteHandler(_BundleHandler):
    """The publish bucket as S3 serves it: assets/ objects are stored gzip and sent with Content-Encoding."""

    def end_headers(self):
        if self.path.startswith("/assets/"):
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()


def site(rebuild: bool) -> Path:
    """out/player-site/: lectures/ladder/ (the bundle) and assets/<sha256-12>/ (the shared files, gzip).

    The bundle's index.html has its own uncompressed copies beside it (the baseline, what
    every bundle carried before); shared.html names the shared assets as a published page does.
    """
    root = HERE / "out" / "player-ladder"
    if rebuild or not (root / "index.html").exists():
        shutil.rmtree(root, ignore_errors=True)
        build_ladder_bundle(root, seconds=SECONDS, rungs=RUNGS)
    for asset in player_assets():                  # the page's current scripts, not the cached build's
        shutil.copyfile(asset, root / asset.name)
    (root / "index.html").write_text(render_player_page(ladder_page(SECONDS)), encoding="utf-8")
    (root / "shared.html").write_text(render_player_page(ladder_page(SECONDS), asset_urls(player_assets(), up=2)),
                                      encoding="utf-8")
    long = synthetic_transcript(1500, 90 * 60, ("ru", "en"))
    (root / "transcript-long.json").write_text(json.dumps(long, ensure_ascii=False), encoding="utf-8")
    page = PageInfo(title="90-minute transcript", speaker=None, event=None, language="ru", duration_s=SECONDS,
                    master="master.m3u8", poster="poster.jpg", transcript="transcript-long.json",
                    subtitles=(SubtitleLink("en", "English", "subtitles/en/v1.vtt", None, True),),
                    audio_only=False, audio_master="audio.m3u8")
    (root / "long.html").write_text(render_player_page(page, asset_urls(player_assets(), up=2)), encoding="utf-8")
    top = HERE / "out" / "player-site"
    shutil.rmtree(top, ignore_errors=True)
    (top / "lectures").mkdir(parents=True)
    (top / "lectures" / "ladder").symlink_to(root, target_is_directory=True)
    for asset in player_assets():
        key = top / asset_key(asset)
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(stored_body(asset)[0])
    return top


def browser_page(pw, profile: str, throttle: bool):
    context = pw.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True,
                                                    args=list(CHROMIUM_ARGS), viewport={"width": 1280, "height": 800})
    context.add_init_script(_WATCH)
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    if throttle:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 40,
                                                      "downloadThroughput": LINK_BPS / 8,
                                                      "uploadThroughput": 750_000 / 8})
    return context, page, errors


def slow_link(pw, url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="medialib-bench-") as profile:
        context, page, errors = browser_page(pw, profile, throttle=True)
        try:
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_function("() => window.medialibPlayer && window.medialibPlayer.hls")
            page.evaluate(_PLAY)
            page.wait_for_function("() => window.__firstFrame || (window.__loadedData && "
                                   "window.medialibPlayer.video.currentTime > 0)")
            first = page.evaluate("() => window.__firstFrame || window.__loadedData")
            fetched = page.evaluate("""(t) => performance.getEntriesByType("resource")
              .filter((e) => e.responseEnd <= t).map((e) => [new URL(e.name).pathname, e.transferSize, e.responseEnd])""",
                                    first)
            start_level = page.evaluate("""() => { const h = window.medialibPlayer.hls;
              const l = h.levels[h.firstLevel] || h.levels[h.loadLevel]; return l ? l.height : null; }""")
            page.wait_for_function("() => window.medialibPlayer.video.currentTime > 3")
            at = page.evaluate(_MARK_SWITCH)
            page.check("#lowdata-toggle")
            page.wait_for_function(f"() => window.medialibPlayer.video.currentTime > {at + 8}", timeout=60_000)
            after = page.evaluate(_VIDEO_SINCE, page.evaluate("() => window.__switchedAt"))
            playing = not page.evaluate("() => window.medialibPlayer.video.paused")
            level_after = page.evaluate("() => window.medialibPlayer.hls.url")
        finally:
            context.close()
    hls_js = next((end for p, _, end in fetched if p.endswith("hls.min.js")), None)
    biggest = sorted(fetched, key=lambda f: -f[1])[:6]
    return {"biggest": [(p, round(size / 1024)) for p, size, _ in biggest], "first_frame_ms": first, "bytes_before": sum(size for _, size, _ in fetched), "hls_js_ms": hls_js,
            "start_height": start_level, "video_after_switch": after,
            "playing_after_switch": playing, "src_after_switch": level_after, "errors": errors}


def long_transcript(pw, url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="medialib-bench-") as profile:
        context, page, errors = browser_page(pw, profile, throttle=False)
        try:
            page.add_init_script("localStorage.setItem('medialib.prefs', JSON.stringify({dual: true}))")
            page.goto(url, wait_until="load")
            page.wait_for_function("() => document.querySelectorAll('#transcript-cues li').length >= 1500")
            t0 = page.evaluate("() => performance.now()")
            page.evaluate(_PLAY)
            page.wait_for_function("() => window.medialibPlayer.video.currentTime > 20", timeout=60_000)
            tasks = page.evaluate("() => window.__longTasks")
            rows = page.evaluate("() => document.querySelectorAll('#transcript-cues li').length")
            dual = page.evaluate("() => document.querySelectorAll('#transcript-cues [lang]').length")
        finally:
            context.close()
    before = [t["duration"] for t in tasks if t["start"] < t0]
    during = [t["duration"] for t in tasks if t["start"] >= t0]
    return {"rows": rows, "lang_lines": dual, "render_longest_ms": max(before, default=0.0),
            "playing_longest_ms": max(during, default=0.0), "playing_long_tasks": len(during), "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="generate the 60-s ladder again")
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium not found: install Debian's chromium or set MEDIALIB_CHROMIUM")
        return 2
    root = site(args.rebuild)
    from playwright.sync_api import sync_playwright

    with serve_bundle(root, _SiteHandler) as (base, _), sync_playwright() as pw:
        lecture = base + "lectures/ladder/"
        copies = slow_link(pw, lecture + "index.html")
        slow = slow_link(pw, lecture + "shared.html")
        panel = long_transcript(pw, lecture + "long.html")
    ok = True

    def line(name: str, value: str, budget: str, good: bool) -> None:
        nonlocal ok
        ok = ok and good
        print(f"{name:<58} {value:>12}  budget {budget:<10} {'ok' if good else 'OVER'}")

    print(f"player page, {SECONDS}-s 720p ladder {[h for h, _ in RUNGS]}, link {LINK_BPS / 1e6:.1f} Mbit/s")
    line("time to first frame (cold, throttled; shared gzip assets)", f"{slow['first_frame_ms']:.0f} ms",
         f"{FIRST_FRAME_BUDGET_MS:.0f} ms", slow["first_frame_ms"] <= FIRST_FRAME_BUDGET_MS)
    print(f"{'  baseline: player files copied beside, uncompressed':<58} {copies['first_frame_ms']:>9.0f} ms"
          f"  (ratio {slow['first_frame_ms'] / copies['first_frame_ms']:.2f})")
    print(f"{'  first rung':<58} {str(slow['start_height']) + 'p':>12}")
    print(f"{'  bytes before the first frame':<58} {slow['bytes_before'] / 1024:>9.0f} KB"
          f"  (baseline {copies['bytes_before'] / 1024:.0f} KB)")
    print(f"{'  hls.min.js done at':<58} {slow['hls_js_ms'] or 0:>9.0f} ms  (baseline {copies['hls_js_ms'] or 0:.0f} ms)")
    print(f"{'  largest before the first frame (KB)':<58} {slow['biggest']}")
    line("low data: video requests after switching", str(len(slow["video_after_switch"])), "0",
         not slow["video_after_switch"] and slow["playing_after_switch"])
    print(f"{'  still playing after the switch':<58} {slow['playing_after_switch']!s:>12}")
    print(f"transcript panel: {panel['rows']} rows (1,500 cues x 2 languages, {panel['lang_lines']} lang lines)")
    line("longest long task while playing 20 s", f"{panel['playing_longest_ms']:.0f} ms",
         f"{LONG_TASK_BUDGET_MS:.0f} ms", panel["playing_longest_ms"] <= LONG_TASK_BUDGET_MS)
    print(f"{'  long tasks while playing':<58} {panel['playing_long_tasks']:>12}")
    print(f"{'  longest task before playing (panel first render)':<58} {panel['render_longest_ms']:>9.0f} ms")
    for e in slow["errors"] + copies["errors"] + panel["errors"]:
        print(f"page error: {e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
