"""The catalog page at the publish bucket root: every listed lecture grouped by event, and the search box.

Rendered in Python at publish time from catalog records, so it works without script;
catalog.js only filters, pages and searches (Pagefind's JS, one index per language under
search/). The page's strings come from strings.toml in both languages; the page follows
the browser's language with a switch kept in localStorage.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from medialib.clock import format_duration_s
from medialib.languages import language_name
from medialib.publish.assets import asset_key
from medialib.publish.strings import strings

CATALOG_DIR = Path(__file__).with_name("catalog")
_ASSETS = ("catalog.js", "catalog.css")
PAGE_SIZE = 24   # lectures per page when script runs

# Strict everywhere; 'wasm-unsafe-eval' only because this page runs Pagefind's WebAssembly.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")


def catalog_assets() -> list[Path]:
    return [CATALOG_DIR / name for name in _ASSETS]


def lecture_date(entry: Mapping) -> str:
    """The date learners see: recorded, else the event's, else the day it was published."""
    return str(entry.get("recorded_date") or entry.get("event_date") or str(entry.get("published_at") or "")[:10])


def group_by_event(entries: Iterable[Mapping]) -> list[tuple[str | None, list[Mapping]]]:
    """[(event or None, lectures newest first)], events ordered by their newest lecture, newest first."""
    groups: dict[str | None, list[Mapping]] = {}
    for e in entries:
        groups.setdefault(str(e.get("event") or "").strip() or None, []).append(e)

    def newest(e: Mapping) -> tuple[str, str]:
        return (str(e.get("event_date") or "") or lecture_date(e), str(e.get("published_at") or ""))

    for items in groups.values():
        items.sort(key=newest, reverse=True)
    return sorted(groups.items(), key=lambda kv: (kv[0] is not None, newest(kv[1][0])), reverse=True)


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _card(e: Mapping) -> str:
    lid = str(e["id"])
    langs = [str(x) for x in (e.get("languages") or ())]
    speaker = str(e.get("speaker") or "")
    poster = e.get("poster")
    img = (f'<img src="{_e(poster)}" alt="" width="160" height="90" loading="lazy" decoding="async">'
           if poster else '<span class="noposter" aria-hidden="true"></span>')
    date = lecture_date(e)
    meta = []
    if speaker:
        meta.append(f'<span data-i18n-label="catalog_speaker">{_e(speaker)}</span>')
    if date:
        meta.append(f'<time datetime="{_e(date)}">{_e(date)}</time>')
    if e.get("duration_s"):
        meta.append(f'<span>{_e(format_duration_s(float(e["duration_s"])))}</span>')
    if langs:
        meta.append("<span>" + ", ".join(f'<span lang="{_e(x)}">{_e(language_name(x))}</span>' for x in langs)
                    + "</span>")
    return (f'<li class="lecture" data-id="{_e(lid)}" data-event="{_e(e.get("event") or "")}" data-speaker="{_e(speaker)}" '
            f'data-langs="{_e(" ".join(langs))}">'
            f'<a href="{_e(e.get("player") or f"lectures/{lid}/index.html")}">{img}'
            f'<span class="title">{_e(e.get("title") or lid)}</span></a>'
            f'<p class="meta">{" · ".join(meta)}</p></li>')


def _options(key: str, values: Iterable[tuple[str, str]], t: dict[str, str]) -> str:
    opts = "".join(f'<option value="{_e(v)}">{_e(label)}</option>' for v, label in values)
    return (f'<label>{_e(t["catalog_filter_" + key])}<select id="f-{key}">'
            f'<option value="" data-i18n="catalog_filter_all">{_e(t["catalog_filter_all"])}</option>{opts}</select></label>')


def render_catalog_page(entries: list[Mapping], *, search_languages: Iterable[str] = (), assets: Mapping[str, str] | None = None,
                        lang: str = "en") -> str:
    """The whole index.html; entries are catalog records already filtered to what is listed and live.

    assets: asset name -> key relative to the page (default: assets/<hash>/<name>).
    """
    search_languages = sorted(set(search_languages))   # none: no index, so no search box at all
    table = strings(("catalog_", "search_"))
    t = table[lang]
    assets = dict(assets or {p.name: asset_key(p) for p in catalog_assets()})
    groups = group_by_event(entries)
    body = []
    for event, items in groups:
        heading = (f"<h2>{_e(event)}</h2>" if event else
                   f'<h2 data-i18n="catalog_other_event">{_e(t["catalog_other_event"])}</h2>')
        body.append(f'<section class="event">{heading}<ul class="lectures">'
                    + "".join(_card(e) for e in items) + "</ul></section>")
    events = sorted({str(e.get("event")) for e in entries if e.get("event")})
    speakers = sorted({str(e.get("speaker")) for e in entries if e.get("speaker")})
    langs = sorted({str(x) for e in entries for x in (e.get("languages") or ())})
    filters = (f'<form id="filters" aria-label="{_e(t["catalog_filters"])}" data-i18n-aria="catalog_filters">'
               + _options("event", ((v, v) for v in events), t)
               + _options("speaker", ((v, v) for v in speakers), t)
               + _options("language", ((v, language_name(v)) for v in langs), t) + "</form>")
    empty = (f'<p id="empty" data-i18n="catalog_empty">{_e(t["catalog_empty"])}</p>' if not entries else
             f'<p id="nomatch" hidden data-i18n="catalog_none_match">{_e(t["catalog_none_match"])}</p>')
    data = json.dumps({"strings": table, "search": search_languages, "pageSize": PAGE_SIZE},
                      ensure_ascii=False).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="{_e(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_e(t["catalog_title"])}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{_e(assets["catalog.css"])}">
<script type="application/json" id="catalog-data">{data}</script>
<script type="module" src="{_e(assets["catalog.js"])}"></script>
</head>
<body>
<header><h1 data-i18n="catalog_title">{_e(t["catalog_title"])}</h1>
<button type="button" id="lang-switch" data-i18n="catalog_language_switch">{_e(t["catalog_language_switch"])}</button></header>
<main>
<search{"" if search_languages else " hidden"}><form id="search" role="search">
<label for="q" data-i18n="search_label">{_e(t["search_label"])}</label>
<input id="q" type="search" name="q" autocomplete="off">
<button type="submit" data-i18n="search_button">{_e(t["search_button"])}</button>
</form>
<p id="search-status" role="status"></p>
<ol id="hits"></ol></search>
{filters}
{empty}
{"".join(body)}
<nav id="pager" hidden><button type="button" id="prev" data-i18n="catalog_page_prev">{_e(t["catalog_page_prev"])}</button>
<span id="pageinfo" role="status"></span>
<button type="button" id="next" data-i18n="catalog_page_next">{_e(t["catalog_page_next"])}</button></nav>
</main>
</body>
</html>
"""
