"""The catalog page as learners get it, in chromium: events, filters, search in both languages, CSP, 320 px, axe."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, chromium_available, chromium_path

from medialib.publish.catalog_page import asset_key, catalog_assets, render_catalog_page
from medialib.publish.search import IndexedLecture, build_search_index

pytestmark = pytest.mark.skipif(not chromium_available(), reason="needs chromium and playwright")

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
# Records any CSP violation before the page's own scripts run.
WATCH = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _doc(ru, en):
    def track(lang, cues):
        return {"language": lang, "cues": [{"id": f"c{i:05d}", "start_ms": s * 1000, "end_ms": s * 1000 + 4000,
                                            "text": text} for i, (s, text) in enumerate(cues, 1)]}
    return {"tracks": [track("ru", ru), track("en", en)] if en else [track("ru", ru)]}


ENTRIES = [
    {"id": "lec-a", "title": "Задержание подозреваемого", "speaker": "И. Петров", "event": "Семинар 2026",
     "event_date": "2026-03-10", "duration_s": 3600.0, "languages": ["ru", "en"], "published_at": "2026-03-11T10:00:00+00:00"},
    {"id": "lec-b", "title": "Witness interviews", "speaker": "A. Smith", "event": "Семинар 2026",
     "event_date": "2026-03-10", "duration_s": 1800.0, "languages": ["ru", "en"], "published_at": "2026-03-11T11:00:00+00:00"},
    {"id": "lec-c", "title": "Вводная лекция", "speaker": "И. Петров", "event": "Курс 2025",
     "event_date": "2025-09-01", "duration_s": 2400.0, "languages": ["ru"], "published_at": "2025-09-02T10:00:00+00:00"},
]
TRANSCRIPTS = {
    "lec-a": _doc([(0, "Вступление."), (70, "Порядок задержания подозреваемого ночью.")],
                  [(0, "Introduction."), (70, "How a suspect is detained at night.")]),
    "lec-b": _doc([(0, "Начало."), (200, "Протокол допроса свидетеля.")],
                  [(0, "Opening."), (200, "The record of a witness interview.")]),
    "lec-c": _doc([(0, "Вводная часть курса."), (95, "Правовые основы деятельности полиции.")], None),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog-site")
    records = build_search_index([IndexedLecture(e, TRANSCRIPTS[e["id"]]) for e in ENTRIES], root / "search")
    assets = {}
    for path in catalog_assets():
        assets[path.name] = asset_key(path)
        (root / assets[path.name]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / assets[path.name])
    (root / "index.html").write_text(render_catalog_page(ENTRIES, search_languages=records, assets=assets),
                                     encoding="utf-8")
    for e in ENTRIES:
        page = root / "lectures" / e["id"] / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<!doctype html><html lang="en"><title>{e["id"]}</title></html>', encoding="utf-8")
    shutil.copyfile(AXE, root / "axe.min.js")   # same origin, so the page's CSP lets the test load it
    # Edge catalogs, each in its own folder: none at all, and 1,000 with hostile 2,000-character titles.
    hostile = '<script>alert("x")</script> & <b>' + "Допрос " * 300
    for name, entries in (("empty", []), ("many", [
            {"id": f"lec-{i:04d}", "title": (f"{i} " + hostile)[:2000], "speaker": f"S{i % 7}",
             "event": f"<i>Event</i> {i % 40}", "event_date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
             "duration_s": 60.0 * i, "languages": ["ru", "en"][: 1 + i % 2],
             "published_at": "2026-01-01T00:00:00+00:00"} for i in range(1000)])):
        for path in catalog_assets():
            (root / name / assets[path.name]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, root / name / assets[path.name])
        (root / name / "index.html").write_text(render_catalog_page(entries, assets=assets), encoding="utf-8")
    handler = partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture
def open_page(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS))
        errors: list[str] = []

        def open_(width=1024, height=800, locale="en-US", path="index.html"):
            context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
            context.add_init_script(WATCH)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto(site + path, wait_until="load")
            page.wait_for_function("() => document.getElementById('pageinfo').textContent !== ''")
            return page

        yield open_, errors
        browser.close()


def _visible_titles(page) -> list[str]:
    return page.eval_on_selector_all("li.lecture:not([hidden]) .title", "els => els.map(e => e.textContent)")


def _search(page, q):
    page.fill("#q", q)
    page.press("#q", "Enter")
    page.wait_for_function("(s) => !['', s].includes(document.getElementById('search-status').textContent)",
                           arg=page.evaluate("JSON.parse(document.getElementById('catalog-data').textContent)"
                                             ".strings[document.documentElement.lang].search_searching"))
    assert page.text_content("#search-status") not in ("Search is not available.", "Поиск недоступен."), page.evaluate("window.__csp")
    return page.eval_on_selector_all("#hits li", """els => els.map(li => ({
        href: li.querySelector('a').getAttribute('href'), title: li.querySelector('.hit-title').textContent,
        time: li.querySelector('.hit-time').textContent, lang: li.querySelector('p').lang,
        mark: li.querySelector('mark') ? li.querySelector('mark').textContent : null}))""")


def test_lists_lectures_grouped_by_event_newest_first(open_page):
    open_, errors = open_page
    page = open_()
    groups = page.eval_on_selector_all("section.event", """ss => ss.map(s => [s.querySelector('h2').textContent,
        Array.from(s.querySelectorAll('.title'), t => t.textContent)])""")
    assert groups == [["Семинар 2026", ["Witness interviews", "Задержание подозреваемого"]],
                      ["Курс 2025", ["Вводная лекция"]]]
    assert page.get_attribute("li.lecture a >> nth=0", "href") == "lectures/lec-b/index.html"
    assert not errors and page.evaluate("window.__csp") == []


def test_filter_by_language(open_page):
    open_, errors = open_page
    page = open_()
    page.select_option("#f-language", "en")
    assert sorted(_visible_titles(page)) == ["Witness interviews", "Задержание подозреваемого"]
    assert page.is_hidden("section.event >> nth=1")
    page.select_option("#f-language", "ru")
    assert len(_visible_titles(page)) == 3
    assert not errors


@pytest.mark.parametrize("query, lecture, t, lang, mark", [
    ("задержанию", "lec-a", 70, "ru", "задержания"),
    ("detain", "lec-a", 70, "en", "detained"),
    ("witnesses", "lec-b", 200, "en", "witness"),
])
def test_a_query_shows_a_hit_that_lands_on_the_moment(open_page, query, lecture, t, lang, mark):
    open_, errors = open_page
    page = open_()
    hits = _search(page, query)
    assert len(hits) == 1, hits
    assert f"lectures/{lecture}/index.html#t={t}," in hits[0]["href"] and hits[0]["href"].endswith(f"&lang={lang}")
    assert hits[0]["lang"] == lang and hits[0]["mark"] == mark
    assert hits[0]["time"] == f"{t // 60}:{t % 60:02d}"
    page.click("#hits a")
    page.wait_for_url(f"**/lectures/{lecture}/index.html#t={t},*")
    assert not errors and page.evaluate("window.__csp") == []


def test_no_hits_is_announced(open_page):
    open_, errors = open_page
    page = open_()
    assert _search(page, "xqzvwk") == []
    assert page.text_content("#search-status") != ""
    assert not errors


def test_follows_russian_browser_and_the_switch(open_page):
    open_, errors = open_page
    page = open_(locale="ru-RU")
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.text_content("h1") == "Лекции"
    page.click("#lang-switch")
    assert page.text_content("h1") == "Lectures"
    assert not errors


def test_320px_without_horizontal_scroll(open_page):
    open_, errors = open_page
    page = open_(width=320, height=640)
    _search(page, "detain")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert not errors


@pytest.mark.parametrize("width, query", [(1024, None), (320, "допрос")])
def test_axe_finds_no_violations(open_page, width, query):
    open_, errors = open_page
    page = open_(width=width, height=700)
    if query:
        _search(page, query)
    page.add_script_tag(url="/axe.min.js")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    assert result == []
    assert not errors and page.evaluate("window.__csp") == []


def test_no_lectures_and_a_thousand_hostile_ones_render_without_script_errors(open_page):
    open_, errors = open_page
    page = open_(path="empty/index.html")
    assert page.is_visible("#empty") and page.is_hidden("search")
    page = open_(width=320, path="many/index.html")
    assert page.evaluate("window.alertCalled === undefined && !document.querySelector('li.lecture script, b')")
    shown = len(_visible_titles(page))
    assert 0 < shown < 1000 and page.is_visible("#pager")
    page.click("#next")
    assert len(_visible_titles(page)) == shown
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert not errors and page.evaluate("window.__csp") == []
