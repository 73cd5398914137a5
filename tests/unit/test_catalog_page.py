"""The catalog page: grouped by event newest first, escaped, strict CSP, 0 and 1,000 lectures; the rebuild job."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser

from medialib.publish.catalog_page import CSP, group_by_event, render_catalog_page
from medialib.publish.strings import strings

HOSTILE = '<script>alert("x")</script> & <b>' + "Допрос " * 300


def entry(i: int, event: str | None, date: str, **more) -> dict:
    return {"id": f"lec-{i}", "title": f"Lecture {i}", "speaker": f"Speaker {i % 3}", "event": event,
            "event_date": date, "published_at": f"{date}T10:00:{i % 60:02d}+00:00", "duration_s": 3600.0 + i,
            "languages": ["ru", "en"], "player": f"lectures/lec-{i}/index.html",
            "poster": f"lectures/lec-{i}/poster.jpg", **more}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(page)
    return p.tags


def test_events_are_grouped_newest_first_and_lectures_without_an_event_last():
    groups = group_by_event([entry(1, "Spring", "2026-03-01"), entry(2, "Autumn", "2026-10-01"),
                             entry(3, None, "2026-11-01"), entry(4, "Spring", "2026-03-02")])
    assert [(ev, [e["id"] for e in items]) for ev, items in groups] == [
        ("Autumn", ["lec-2"]), ("Spring", ["lec-4", "lec-1"]), (None, ["lec-3"])]


def test_a_hostile_2000_char_title_is_escaped_and_the_csp_allows_wasm_only_here():
    page = render_catalog_page([entry(1, '<i>Event</i>', "2026-01-01", title=HOSTILE[:2000],
                                      speaker='Анна "<Петрова>"')], search_languages=["ru", "en"])
    assert "<script>alert" not in page and "<i>Event" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)" in page
    tags = parse(page)
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [CSP] and "'wasm-unsafe-eval'" in CSP and "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    scripts = [a for t, a in tags if t == "script"]
    assert all(a.get("type") == "application/json" or a.get("src", "").startswith("assets/") for a in scripts)
    data = json.loads(re.search(r'id="catalog-data">(.*?)</script>', page).group(1))
    assert data["search"] == ["en", "ru"] and data["strings"]["ru"]["search_label"] == "Поиск по всем лекциям"


def test_the_page_player_link_and_poster_are_relative():
    tags = parse(render_catalog_page([entry(7, "E", "2026-01-01")]))
    assert ("a", {"href": "lectures/lec-7/index.html"}) in tags
    assert any(t == "img" and a["src"] == "lectures/lec-7/poster.jpg" and a["alt"] == "" for t, a in tags)


def test_zero_and_a_thousand_lectures_render():
    empty = render_catalog_page([])
    assert 'id="empty"' in empty and "No lectures are published yet." in empty
    many = [entry(i, f"Event {i % 40}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}") for i in range(1000)]
    start = time.perf_counter()
    page = render_catalog_page(many, search_languages=["ru"])
    assert time.perf_counter() - start < 2
    assert page.count('class="lecture"') == 1000 and page.count('class="event"') == 40


def test_every_catalog_and_search_string_exists_in_both_languages():
    table = strings(("catalog_", "search_"))
    assert set(table["en"]) == set(table["ru"]) and len(table["en"]) >= 20
    assert all(table[lang][k].strip() for lang in table for k in table[lang])


def test_without_a_search_index_the_search_box_is_hidden():
    page = render_catalog_page([entry(1, "E", "2026-01-01")], search_languages=[])
    assert "<search hidden>" in page and '"search": []' in page
    assert "<search>" in render_catalog_page([entry(1, "E", "2026-01-01")], search_languages=["ru"])
