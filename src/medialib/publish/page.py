"""The learner's player page shipped in every bundle.

`render_player_page` fills `player/index.html.tmpl` from a `PageInfo`. The files from
`player_assets()` (hls.js, player.js, player.css) are either published once as shared
assets (`assets/<sha256-12>/`, see publish.assets) or copied beside index.html. The page
makes no request outside its own origin: every URL is relative, and a
Content-Security-Policy says so too.

player.js reads the lecture from a `<script type="application/json" id="lecture">`
element holding `page_data(info)`, so the page needs no second request to start.

The page's own words come from strings.toml (the player_ keys): rendered in one
language, with both languages under "strings" in that JSON, so player.js can follow the
learner's choice (localStorage "medialib.lang", the catalog's key too) without a reload.
The lecture's own words (title, speaker, cues, language names) are never translated.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from medialib.clock import format_duration_s
from medialib.errors import InputError
from medialib.publish.strings import LANGUAGES, strings

PLAYER_DIR = Path(__file__).with_name("player")
_ASSETS = ("hls.min.js", "player.js", "player.css")

# A relative URL inside the bundle: no scheme ("https:", "javascript:"), not
# protocol-relative ("//host"), not absolute ("/x"), no way up ("..").
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class SubtitleLink:
    """One subtitle language as the page offers it."""

    language: str  # BCP 47 code, "en"
    name: str  # the language's name in itself, "English", "Русский"
    vtt: str  # relative URL, "subtitles/en/v1.vtt"
    srt: str | None  # relative URL of the SRT download, if one is published
    default: bool  # shown when the learner has not chosen

    def __post_init__(self) -> None:
        if not self.language or not self.name:
            raise InputError(f"subtitle link {self!r}: language and name are required")
        _check_relative(self.vtt, "subtitle vtt")
        if self.srt is not None:
            _check_relative(self.srt, "subtitle srt")


@dataclass(frozen=True)
class PageInfo:
    """Everything the player page shows about one lecture; URLs relative to index.html."""

    title: str
    speaker: str | None
    event: str | None
    language: str | None  # main language of the lecture (BCP 47), None if unknown
    duration_s: float
    master: str  # "master.m3u8"
    poster: str | None  # "poster.jpg"
    transcript: str | None  # "transcript-<sha256-12>.json": the panel's cues (bundle.learner_transcript)
    subtitles: tuple[SubtitleLink, ...]
    audio_only: bool
    notes: tuple[str, ...] = ()  # notices for the learner, shown above the player
    audio_master: str | None = None  # "audio.m3u8": the audio-only master for low-data mode

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise InputError("player page: the lecture title is empty; give the lecture a title")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise InputError(f"player page: duration_s={self.duration_s!r} is not a non-negative number")
        _check_relative(self.master, "master playlist")
        for value, what in ((self.poster, "poster"), (self.transcript, "transcript"),
                            (self.audio_master, "audio-only playlist")):
            if value is not None:
                _check_relative(value, what)
        languages = [s.language for s in self.subtitles]
        if len(set(languages)) != len(languages):
            raise InputError(f"player page: subtitle languages repeat: {languages}; give one link per language")
        defaults = [s.language for s in self.subtitles if s.default]
        if len(defaults) > 1:
            raise InputError(f"player page: several default subtitle languages {defaults}; mark at most one")


def _check_relative(url: str, what: str) -> None:
    if (
        not url
        or _SCHEME_RE.match(url)
        or url.startswith(("/", "\\"))
        or ".." in url.split("/")
    ):
        raise InputError(
            f"player page: {what} URL {url!r} is not a relative path inside the bundle; "
            "the page must only load files published beside it"
        )


def player_assets() -> tuple[Path, ...]:
    """The static files to copy beside index.html (same names)."""
    return tuple(PLAYER_DIR / name for name in _ASSETS)


def page_data(info: PageInfo, *, texts: dict[str, dict[str, str]] | None = None) -> str:
    """PageInfo as JSON that is safe inside a <script> element; texts ({language: {key: text}}) under "strings".

    Every "<" becomes \\u003c, so neither "</script>" nor "<!--" in a title can end or
    confuse the element; the JSON value is unchanged.
    """
    data = asdict(info)
    if texts is not None:
        data["strings"] = texts
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")


def _note(note: str, t: dict[str, str], english: dict[str, str]) -> str:
    """One notice; a notice in the table's English words (bundle.MACHINE_NOTE) is shown translated."""
    key = next((k for k, text in english.items() if k.startswith("player_note_") and text == note), None)
    if key is None:
        return f"<li>{html.escape(note)}</li>"
    return f'<li data-i18n="{key}">{html.escape(t[key])}</li>'


def render_player_page(info: PageInfo, assets: Mapping[str, str] | None = None, *, lang: str = "en") -> str:
    """The bundle's index.html for one lecture, its own words in lang ("en" or "ru").

    assets: {file name: URL} of the shared player files (publish.assets.asset_urls, e.g.
    "../../assets/<sha256-12>/hls.min.js"); None when copies sit beside index.html.
    """
    if lang not in LANGUAGES:
        raise InputError(f"player page: language {lang!r} is not one of {list(LANGUAGES)}; render in one of those")
    urls = {p.name: p.name for p in player_assets()} | dict(assets or {})
    esc = html.escape  # quote=True: safe in text and in double-quoted attributes
    table = strings(("player_",))
    t = table[lang]
    lang_attr = f' lang="{esc(info.language)}"' if info.language else ""

    byline = [esc(part) for part in (info.speaker, info.event) if part]
    poster_attr = f' poster="{esc(info.poster)}"' if info.poster else ""

    notes = ""
    if info.notes:
        items = "".join(_note(n, t, table["en"]) for n in info.notes)
        notes = (f'<section class="notes" aria-label="{esc(t["player_notices"])}" data-i18n-aria="player_notices">'
                 f"<ul>{items}</ul></section>")

    options = "".join(
        f'<option value="{esc(s.language)}" lang="{esc(s.language)}"'
        f'{" selected" if s.default else ""}>{esc(s.name)}</option>'
        for s in info.subtitles
    )
    downloads = []
    for s in info.subtitles:
        links = [f'<a href="{esc(s.vtt)}" download type="text/vtt">WebVTT</a>']
        if s.srt:
            links.append(f'<a href="{esc(s.srt)}" download>SRT</a>')
        downloads.append(
            f'<li><span data-i18n="player_subtitles">{esc(t["player_subtitles"])}</span> '
            f'<span lang="{esc(s.language)}">{esc(s.name)}</span>: {", ".join(links)}</li>'
        )
    if info.transcript:
        downloads.append(
            f'<li><a href="{esc(info.transcript)}" download type="application/json" '
            f'data-i18n="player_transcript_json">{esc(t["player_transcript_json"])}</a></li>'
        )

    template = Template((PLAYER_DIR / "index.html.tmpl").read_text(encoding="utf-8"))
    return template.substitute(
        {key: esc(text) for key, text in t.items()},
        page_lang=lang,
        switch_lang="ru" if lang == "en" else "en",  # the switch names the other language in itself
        title=esc(info.title),
        lecture_lang_attr=lang_attr,
        byline=" · ".join(byline),
        byline_hidden="" if byline else " hidden",
        duration_iso=_iso_duration(info.duration_s),
        duration=format_duration_s(info.duration_s),
        player_class="player audio-only" if info.audio_only else "player",
        media_label=esc(t["player_audio_of" if info.audio_only else "player_video_of"].replace("{title}", info.title)),
        poster_attr=poster_attr,
        notes=notes,
        subtitle_options=options,
        subtitles_hidden="" if info.subtitles else " hidden",
        downloads="".join(downloads),
        downloads_hidden="" if downloads else " hidden",
        lecture_json=page_data(info, texts=table),
        player_css=esc(urls["player.css"]),
        hls_js=esc(urls["hls.min.js"]),
        player_js=esc(urls["player.js"]),
    )


def _iso_duration(seconds: float) -> str:
    """The ISO 8601 duration for <time datetime>: PT1H2M3S."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"PT{h}H{m}M{s}S"
