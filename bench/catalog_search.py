"""Catalog + search budgets on a 100-lecture catalog with synthetic 60-minute transcripts (en + ru).

    PYTHONPATH=src python bench/catalog_search.py [--lectures 100]

Measures (budgets from issue 8, a benchmark, not a timed test):
- the whole index rebuild (every passage of every lecture, both languages, plus index.html): < 60 s;
- bytes transferred for the catalog page and a first search, chromium at 360x640, cold cache,
  posters included (served plainly, as the S3 bucket serves them): < 300 KB.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from medialib.media.ffmpeg import find_ffmpeg  # noqa: E402
from medialib.publish.assets import asset_key  # noqa: E402
from medialib.publish.catalog_page import catalog_assets, render_catalog_page  # noqa: E402
from medialib.publish.search import IndexedLecture, build_search_index, scratch_dir  # noqa: E402

REBUILD_BUDGET_S = 60.0
TRANSFER_BUDGET = 300 * 1024
EN = ("suspect witness interview detention record evidence officer procedure rights lawyer statement question "
      "answer report station court judge investigation crime scene protocol search warrant custody arrest night "
      "morning training course colleague example practice law article code regional department").split()
RU = ("подозреваемый свидетель допрос задержание протокол доказательство сотрудник порядок права адвокат "
      "показание вопрос ответ рапорт отдел суд судья расследование преступление место осмотр обыск ордер "
      "содержание арест ночь утро обучение курс коллега пример практика закон статья кодекс управление").split()
RU_ENDINGS = ("", "а", "у", "ом", "е", "ы", "ов", "ами", "ах", "ия", "ию")


def _sentence(rng: random.Random, words: list[str], ru: bool) -> str:
    out = []
    for _ in range(rng.randint(8, 14)):
        w = rng.choice(words)
        if rng.random() < 0.2:   # a long tail of rarer words, as real speech has
            w = "".join(rng.choice("бвгдклмнпрстаеиоу" if ru else "bcdfgklmnprstaeiou") for _ in range(rng.randint(5, 9)))
        out.append(w + (rng.choice(RU_ENDINGS) if ru else ""))
    return " ".join(out).capitalize() + "."


def transcript(rng: random.Random, minutes: int = 60) -> dict:
    tracks = []
    for lang, words in (("ru", RU), ("en", EN)):
        cues = [{"id": f"c{i:05d}", "start_ms": s * 1000, "end_ms": s * 1000 + 4500,
                 "text": _sentence(rng, words, lang == "ru")} for i, s in enumerate(range(0, minutes * 60, 5), 1)]
        tracks.append({"language": lang, "cues": cues})
    return {"tracks": tracks}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lectures", type=int, default=100)
    args = ap.parse_args()
    rng = random.Random(8)
    events = [f"Семинар {2020 + i}" for i in range(8)]
    entries = [{"id": f"lec-{i:03d}", "title": f"Лекция {i}: порядок задержания и допроса", "speaker": f"Докладчик {i % 12}",
                "event": events[i % len(events)], "event_date": f"{2020 + i % len(events)}-03-10",
                "duration_s": 3600.0, "languages": ["ru", "en"], "poster": f"lectures/lec-{i:03d}/poster.jpg",
                "published_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00"} for i in range(args.lectures)]
    docs = {e["id"]: transcript(rng) for e in entries}

    # The site in memory, as the publish step builds its index (search.scratch_dir).
    with tempfile.TemporaryDirectory(prefix="medialib-bench-catalog-", dir=scratch_dir()) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        records = build_search_index([IndexedLecture(e, docs[e["id"]]) for e in entries], root / "search")
        assets = {p.name: asset_key(p) for p in catalog_assets()}
        page = render_catalog_page(entries, search_languages=records, assets=assets)
        rebuild_s = time.perf_counter() - t0
        base_per_record = _per_record_baseline([IndexedLecture(e, docs[e["id"]]) for e in entries[:1]], root / "base")
        (root / "index.html").write_text(page, encoding="utf-8")
        for p in catalog_assets():
            (root / assets[p.name]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, root / assets[p.name])
        poster = root / "poster.jpg"   # a 640x360 frame, as the ladder's poster
        subprocess.run([find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360", "-frames:v", "1",
                        "-q:v", "4", str(poster)], check=True)
        for e in entries:
            (root / e["poster"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(poster, root / e["poster"])
        index_bytes = sum(f.stat().st_size for f in (root / "search").rglob("*") if f.is_file())

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            by_type, total, n = _transfer(f"http://127.0.0.1:{server.server_address[1]}/index.html", "допрос")
        finally:
            server.shutdown()

    print(f"catalog: {len(entries)} lectures x 60 min, passages {records}, index {index_bytes / 1e6:.1f} MB on disk, "
          f"index.html {len(page.encode()) / 1024:.0f} KB")
    n_records = sum(records.values())
    print(f"  baseline (Pagefind's add_custom_record, one call per passage, measured on one lecture): "
          f"{base_per_record * 1000:.0f} ms a record, {base_per_record * n_records:.0f} s for these {n_records}; "
          f"now {rebuild_s / n_records * 1000:.2f} ms a record (ratio {rebuild_s / (base_per_record * n_records):.3f})")
    print(f"full rebuild (search index, both languages, + index.html): {rebuild_s:6.1f} s   budget < {REBUILD_BUDGET_S:.0f} s   "
          f"{'OK' if rebuild_s < REBUILD_BUDGET_S else 'OVER'}")
    print(f"catalog page + first search, 360x640, cold cache: {total / 1024:6.1f} KB in {n} requests   budget < "
          f"{TRANSFER_BUDGET / 1024:.0f} KB   {'OK' if total < TRANSFER_BUDGET else 'OVER'}")
    for kind, size in sorted(by_type.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:12s} {size / 1024:7.1f} KB")
    return 0 if rebuild_s < REBUILD_BUDGET_S and total < TRANSFER_BUDGET else 1


def _per_record_baseline(lectures: list, out: Path) -> float:
    """Seconds a record through Pagefind's Python API one add_custom_record call at a time (the first way)."""
    import asyncio

    from pagefind.index import PagefindIndex

    from medialib.publish.search import passages

    recs = [p for lec in lectures for p in passages(str(lec.entry["id"]), lec.transcript)]

    async def run() -> None:
        async with PagefindIndex(config={"force_language": "ru", "output_path": str(out)}) as index:
            for p in recs:
                await index.add_custom_record(url=p.url, content=p.text, language=p.language)

    t0 = time.perf_counter()
    asyncio.run(run())
    return (time.perf_counter() - t0) / len(recs)


def _transfer(url: str, query: str) -> tuple[dict[str, int], int, int]:
    """Bytes on the wire (headers + body, CDP's encodedDataLength) for the page, then one search."""
    from browser import CHROMIUM_ARGS, chromium_path
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS))
        context = browser.new_context(viewport={"width": 360, "height": 640}, locale="ru-RU")
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        urls, sizes = {}, {}
        cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        page.goto(url, wait_until="networkidle")
        page.fill("#q", query)
        page.press("#q", "Enter")
        page.wait_for_function("() => document.querySelectorAll('#hits li').length > 0", timeout=30_000)
        page.wait_for_load_state("networkidle")
        browser.close()
    by_type: dict[str, int] = {}
    for rid, size in sizes.items():
        u = urls.get(rid, "")
        kind = ("poster" if u.endswith(".jpg") else "search" if "/search/" in u else
                "index.html" if u.endswith("index.html") else "catalog js/css" if "/assets/" in u else "other")
        by_type[kind] = by_type.get(kind, 0) + int(size)
    return by_type, sum(by_type.values()), len(sizes)


if __name__ == "__main__":
    sys.exit(main())
