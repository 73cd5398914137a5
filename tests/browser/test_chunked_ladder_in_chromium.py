"""The chunked ladder (GOP-aligned chunks joined byte-exactly) played by the learner's page in chromium.

tests/media/test_chunked_ladder.py proves the join frame by frame against a single pass;
this plays it: a 24 s clip in 4 chunks of 6 s (360p and 240p, audio encoded once), the
player page with its hls.js, at 2x. Every chunk boundary is crossed with no hls.js error,
no stall, no hole in the buffered range, no jump or step back of the picture's media
time, frames keep coming, and it ends (a machine too busy to decode in time may stall
away from the seams, with data buffered: allowed, see the test). The rung changes twice: 360p to
240p at the first seam (chunk 1 of 240p after chunk 0 of 360p), and back to 360p at once
(hls.currentLevel) in the middle of chunk 2, so seams are crossed within each rung too.
About 25 s here (encoding 5 s, playing 12 s), on a busy machine.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import clips
import pytest
from browser import CHROMIUM_ARGS, chromium_available, chromium_path
from test_player_page import serve_bundle

from medialib.config import Rung, load_settings
from medialib.media import chunks
from medialib.media.ladder import plan_ladder
from medialib.media.probe import probe_media
from medialib.publish.page import PageInfo, player_assets, render_player_page
from medialib.publish.playlists import write_master_playlist

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and playwright")]

SECONDS = 24
CHUNK_S = 6
RATE = 2            # playbackRate: 24 s of media in 12 s (4x starves the decoder on a busy 2-core machine)
OPTS = load_settings().ladder.model_copy(update={"rungs": (Rung(height=360, video_bitrate_kbps=650),
                                                           Rung(height=240, video_bitrate_kbps=300))})

# Before the page's scripts: every hls.js instance reports all its ERROR events (fatal or not)
# and the fragments it buffers and plays (FRAG_BUFFERED, FRAG_CHANGED: level, sn, start).
# It starts at 360p (level 1, not the rung the bandwidth estimate picks) with a 4 s buffer
# target, so it holds chunk 0 alone until the test has chosen the rung for the rest and
# restored the page's buffer target. The page's config otherwise.
_HLS_WATCH = """
window.__chunked = { hlsErrors: [], frags: [], fragsBuffered: [], ahead: null };
Object.defineProperty(window, "Hls", {
  configurable: true,
  get() { return this.__HlsWatched; },
  set(Original) {
    class Watched extends Original {
      constructor(config) {
        const target = ["maxBufferLength", "maxMaxBufferLength"];    // the second caps the first (and its bitrate rule)
        window.__chunked.bufferTarget = Object.fromEntries(target.map((k) => [k, Original.DefaultConfig[k]]));
        super(Object.assign({}, config, { startLevel: 1, maxBufferLength: 4, maxMaxBufferLength: 4 }));
        this.on(Original.Events.FRAG_BUFFERED, (e, d) => window.__chunked.fragsBuffered.push(
          { level: d.frag.level, sn: d.frag.sn, type: d.frag.type }));
        this.on(Original.Events.ERROR, (e, d) => window.__chunked.hlsErrors.push({
          details: d.details, fatal: d.fatal, frag: d.frag ? d.frag.type + " " + d.frag.level + "/" + d.frag.sn : null,
          time: this.media ? this.media.currentTime : -1,
          ahead: window.__chunked.ahead ? window.__chunked.ahead() : 0 }));
        this.on(Original.Events.FRAG_CHANGED, (e, d) => window.__chunked.frags.push(
          { level: d.frag.level, sn: d.frag.sn, start: d.frag.start, time: this.media ? this.media.currentTime : -1 }));
      }
    }
    this.__HlsWatched = Watched;
  },
});
"""

# After load: the video's events and every presented frame (requestVideoFrameCallback).
# At switchAt (media seconds): back to 360p at once (currentLevel: the buffer is flushed),
# with what was buffered just before.
_START = """([rate, switchAt]) => {
  const s = window.__chunked, video = window.medialibPlayer.video;
  Object.assign(s, { waiting: [], times: [], presented: [], ended: false, playError: null, switchedAt: null });
  const ranges = () => Array.from({ length: video.buffered.length },
                                  (_, i) => [video.buffered.start(i), video.buffered.end(i)]);
  const ahead = () => {        // seconds buffered ahead of the playhead
    const t = video.currentTime;
    for (const [a, b] of ranges()) if (a <= t + 0.1 && t <= b) return b - t;
    return 0;
  };
  s.ahead = ahead;
  video.addEventListener("waiting", () => s.waiting.push([video.currentTime, ahead()]));
  video.addEventListener("timeupdate", () => {
    s.times.push(video.currentTime);
    if (s.switchedAt === null && video.currentTime >= switchAt) {
      Object.assign(s, { switchedAt: video.currentTime, bufferedBefore: ranges() });
      window.medialibPlayer.hls.currentLevel = 1;
    }
  });
  video.addEventListener("ended", () => { s.ended = true; });
  const onFrame = (now, meta) => {
    s.presented.push([meta.mediaTime, meta.presentedFrames]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  video.muted = true;
  video.playbackRate = rate;
  video.play().catch((e) => { s.playError = String(e); });
}"""

_STATE = """() => {
  const s = window.__chunked, video = window.medialibPlayer.video, hls = window.medialibPlayer.hls;
  const q = video.getVideoPlaybackQuality();
  return { ...s, ahead: undefined, currentTime: video.currentTime, duration: video.duration, paused: video.paused,
           readyState: video.readyState,
           buffered: Array.from({ length: video.buffered.length },
                                (_, i) => [video.buffered.start(i), video.buffered.end(i)]),
           level: hls ? hls.currentLevel : null, levels: hls ? hls.levels.map((l) => l.height) : [],
           totalFrames: q.totalVideoFrames, droppedFrames: q.droppedVideoFrames,
           playerErrors: (window.medialibPlayer.errors || []).slice() };
}"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle whose video/ is the chunked ladder joined (what join_ladder_stage uploads), with the player page."""
    d = tmp_path_factory.mktemp("chunked-play")
    src = clips.with_tone(d / "src.mp4", seconds=SECONDS, size="640x360")
    info = probe_media(src)
    ladder = plan_ladder(info, OPTS)
    plan = chunks.plan_chunks(info.duration_s, ladder, OPTS.gop_s, chunk_s=CHUNK_S)
    parts = [chunks.encode_chunk(src, info, ladder, OPTS, c, d / f"chunk{c.index}") for c in plan]
    chunks.encode_audio(src, info, ladder, OPTS, d / "audio")
    root = d / "bundle"
    chunks.join_chunks([Path(p.out_dir) for p in parts], d / "audio", ladder, root / "video")
    (root / "master.m3u8").write_text(write_master_playlist(ladder, root / "video", [], "en"), encoding="utf-8")
    page = PageInfo(title="Chunked lecture", speaker=None, event=None, language="en", duration_s=info.duration_s,
                    master="master.m3u8", poster=None, transcript=None, subtitles=(), audio_only=False)
    (root / "index.html").write_text(render_player_page(page), encoding="utf-8")
    for asset in player_assets():
        shutil.copyfile(asset, root / asset.name)
    return root, [c.start_s for c in plan[1:]]


def _wait(page, check, what: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(_STATE)
        if check(state):
            return state
        assert time.monotonic() < deadline, f"{what}: {state}"
        page.wait_for_timeout(100)


def test_the_joined_chunks_play_across_every_boundary_and_a_rung_switch(bundle):
    from playwright.sync_api import sync_playwright

    root, boundaries = bundle
    assert len(boundaries) >= 2, "needs 3 chunks or more"
    errors: list[str] = []
    with serve_bundle(root) as (base, _log), sync_playwright() as pw, \
            tempfile.TemporaryDirectory(prefix="medialib-chromium-") as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True,
                                                    args=list(CHROMIUM_ARGS), viewport={"width": 1024, "height": 800})
        try:
            ctx.add_init_script(_HLS_WATCH)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "index.html", wait_until="load")
            # Chunk 0 at 360p, chunks 1 and on at 240p (loadLevel: the rung of the fragments loaded
            # next; none is loading now) ...
            _wait(page, lambda s: s["levels"] == [240, 360] and s["readyState"] >= 3 and any(
                f["type"] == "main" and f["sn"] == 0 for f in s["fragsBuffered"]), "hls.js never buffered chunk 0", 20)
            page.evaluate("""() => {
              const hls = window.medialibPlayer.hls;
              hls.loadLevel = 0;
              Object.assign(hls.config, window.__chunked.bufferTarget);
            }""")
            # ... started once it can play on (a "waiting" before the first frame is no seam), back
            # to 360p a second into chunk 2.
            page.evaluate(_START, [RATE, boundaries[1] + 1])
            state = _wait(page, lambda s: s["ended"], "playback never reached the end", 40)
        finally:
            ctx.close()

    assert not errors and not state["playerErrors"] and not state["playError"], (
        errors, state["playerErrors"], state["playError"])
    assert state["currentTime"] >= SECONDS - 0.2, state["currentTime"]
    # Where the chunks meet: fragment (= chunk, here) starts, the plan's times moved by the
    # video's first presentation time (its B-frame delay).
    seams = sorted({f["start"] for f in state["frags"] if f["sn"] > 0})
    assert len(seams) == len(boundaries) and all(abs(s - b) < 0.2 for s, b in zip(seams, boundaries)), seams
    switched_at = state["switchedAt"]
    assert switched_at + 2 < seams[-1] - 0.5, switched_at      # what is excused below is no seam

    def at_seam(t: float) -> bool:
        return any(b - 0.5 <= t <= b + 0.5 for b in seams)

    def refilling(t: float) -> bool:     # the buffer flushed by the immediate switch
        return switched_at - 0.1 <= t <= switched_at + 2

    # Stalls and hls.js's errors: none at a seam, and none for want of data (a playhead with
    # less than 0.5 s buffered ahead) except while the flushed buffer refills. A machine too
    # busy to decode in time stalls with data buffered (hls.js reports bufferStalledError):
    # that is the machine, not the join, and is allowed away from the seams.
    starved = ("bufferStalledError", "bufferNudgeOnStall")
    bad = [e for e in state["hlsErrors"] if e["fatal"] or e["details"] not in starved or at_seam(e["time"])
           or (e["ahead"] < 0.5 and not refilling(e["time"]))]
    assert not bad, state["hlsErrors"]
    bad = [(t, ahead) for t, ahead in state["waiting"] if at_seam(t) or (ahead < 0.5 and not refilling(t))]
    assert not bad, (state["waiting"], seams)
    # No hole in what was appended: one buffered range over chunks 0-2 before the flush, and
    # over chunks 2-3 at the end.
    [(start, end)] = state["bufferedBefore"]
    assert start < 0.2 and end > seams[1], state["bufferedBefore"]
    [(start, end)] = state["buffered"]
    assert start <= seams[-1] and end >= SECONDS - 0.2, state["buffered"]
    # The picture's media time: never back, no jump at a seam (at 2x, with frames dropped,
    # presented frames are about 0.1-0.3 s of media apart), frames presented on both sides of
    # every seam.
    media = [m for m, _ in state["presented"]]
    assert media == sorted(media), "the picture stepped back"
    jumps = [(a, b) for a, b in zip(media, media[1:]) if b - a >= 1.0 and any(a - 0.5 <= x <= b + 0.5 for x in seams)]
    assert not jumps, (jumps, seams)
    for b in seams:
        assert any(b - 0.5 <= m < b for m in media) and any(b <= m < b + 0.5 for m in media), (b, media)
    times = state["times"]
    assert all(b >= a for a, b in zip(times, times[1:])), times
    assert len(media) >= 4 * SECONDS, len(media)             # frames kept coming
    assert state["totalFrames"] - state["droppedFrames"] >= len(media) - 1
    # 360p chunk 0, 240p chunks 1 and 2 (a rung switch at a seam, then a seam within 240p),
    # 360p again from the middle of chunk 2, across the last seam (a seam within 360p).
    played = [(f["level"], round(f["start"])) for f in state["frags"]]
    b = [round(x) for x in seams]
    assert played[:3] == [(1, 0), (0, b[0]), (0, b[1])] and played[-1] == (1, b[-1]), played
    assert state["level"] == 1
