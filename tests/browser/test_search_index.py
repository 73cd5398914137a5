"""The search index answers Russian and English queries by stem, run by Pagefind's own JS in chromium."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser import chromium_available, chromium_path

from medialib.publish.search import IndexedLecture, build_search_index

pytestmark = pytest.mark.skipif(not chromium_available(), reason="needs chromium and playwright")

PROBE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>probe</title>
<script type="module">
window.searchAll = async (q) => {
  const base = new URL("./", location.href).pathname;
  const hits = [];
  for (const lang of ["ru", "en"]) {
    const pf = await import(`./search/${lang}/pagefind.js`);
    await pf.options({language: lang, baseUrl: base});
    const res = await pf.search(q);
    for (const r of res.results) { const d = await r.data(); hits.push({lang, url: d.url, meta: d.meta, excerpt: d.excerpt}); }
  }
  return hits;
};
window.ready = true;
</script></html>"""


def _doc(ru: list[tuple[int, str]], en: list[tuple[int, str]]) -> dict:
    def track(lang, cues):
        return {"language": lang, "cues": [{"id": f"c{i:05d}", "start_ms": s * 1000, "end_ms": s * 1000 + 4000,
                                            "text": text} for i, (s, text) in enumerate(cues, 1)]}
    return {"tracks": [track("ru", ru), track("en", en)]}


LECTURES = [
    IndexedLecture({"id": "lec-a", "title": "Лекция A"}, _doc(
        [(0, "Вступление курса."), (70, "Порядок задержания подозреваемого."), (140, "Вопросы.")],
        [(0, "Introduction."), (70, "How a suspect is detained at night."), (140, "Questions.")])),
    IndexedLecture({"id": "lec-b", "title": "Лекция B"}, _doc(
        [(0, "Начало."), (200, "Протокол допроса свидетеля.")],
        [(0, "Opening."), (200, "The record of a witness interview.")])),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    counts = build_search_index(LECTURES, root / "search")
    assert counts == {"en": 5, "ru": 5}
    (root / "probe.html").write_text(PROBE, encoding="utf-8")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/probe.html"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def search(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site)
        page.wait_for_function("() => window.ready")
        yield lambda q: page.evaluate("(q) => window.searchAll(q)", q)
        assert not errors
        browser.close()


@pytest.mark.parametrize("query, lang, lecture, t", [
    ("задержанию", "ru", "lec-a", 70),   # dative finds the genitive
    ("допрос", "ru", "lec-b", 200),      # nominative finds the genitive
    ("detain", "en", "lec-a", 70),
    ("witnesses", "en", "lec-b", 200),
])
def test_a_query_lands_on_the_passage_by_stem(search, query, lang, lecture, t):
    hits = search(query)
    assert [(h["lang"], *h["url"].rsplit("/", 2)[1:]) for h in hits] == [(lang, lecture, f"{t}-{t + 4}.html")], \
        json.dumps(hits, ensure_ascii=False)
    assert "<mark>" in hits[0]["excerpt"]


def test_lecture_ids_are_not_searchable(search):
    """A word of the lecture id (lec-a, lec-b) finds nothing: the address is in the URL, not in indexed meta."""
    assert search("lec") == []


def test_no_hits_and_punctuation_only(search):
    assert search("полицейскийзапрос") == []
    assert search("?!…") == []
