"""The editor's and the diff page's templates and the word diff, without a browser."""

from __future__ import annotations

import json
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import jinja2

from medialib_app.review import i18n
from medialib_app.review.diff import Piece, diff_rows, diff_words, format_ms

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "src" / "medialib_app" / "review"

HOSTILE = '</script><script>alert("x")</script>'


def env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(APP / "templates"), autoescape=True)


def strings(lang: str) -> dict[str, str]:
    """The app's whole string table (every strings/*.toml) in one language."""
    return i18n.strings()[lang]


def page_context(lang: str) -> dict:
    """What the app's render() gives every page (base.html's variables)."""
    return {"t": strings(lang), "ui_lang": lang, "languages": i18n.LANGUAGES, "here": "/", "csrf_token": "tok"}


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.inline_styles, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs or tag == "style":
            self.inline_styles.append(tag)
        if tag == "script":
            self.scripts.append([attrs, ""])
            self._in = self.scripts[-1]

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self._in[1] += data


def test_strings_have_both_languages_and_every_used_key():
    table = tomllib.loads((APP / "strings" / "editor.toml").read_text(encoding="utf-8"))
    assert all(set(texts) == {"en", "ru"} and all(texts.values()) for texts in table.values())
    used = set(re.findall(r's\[["\'](\w+)["\']\]', (APP / "templates" / "editor.html").read_text(encoding="utf-8")))
    used |= set(re.findall(r'\bt\("(\w+)"', (APP / "static" / "editor.js").read_text(encoding="utf-8")))
    used |= {m for m in re.findall(r'"(key_\w+)"', (APP / "templates" / "editor.html").read_text(encoding="utf-8"))}
    used |= set(re.findall(r's\[["\'](\w+)["\']\]', (APP / "templates" / "diff.html").read_text(encoding="utf-8")))
    everything = i18n.load_strings()["en"]   # the loader refuses a key defined in two files
    assert used - set(everything) == {"state_"}  # t("state_" + state): one key per state
    # Placeholders agree between the languages.
    for key, texts in table.items():
        assert set(re.findall(r"\{\w+\}", texts["en"])) == set(re.findall(r"\{\w+\}", texts["ru"])), key


def test_editor_page_has_no_inline_code_and_escapes_its_data():
    page = env().get_template("editor.html").render(
        **page_context("ru"), lecture_id=HOSTILE, lang="en", api_base="/api", strings=strings("ru"),
        user={"name": "alice", "role": "translator"}, csp_nonce="n0nce",
    )
    doc = _Scripts()
    doc.feed(page)
    assert [a.get("src") or a.get("type") for a, _ in doc.scripts] == [
        "application/json", "/static/vendor/hls.min.js", "/static/vendor/wavesurfer.min.js", "/static/editor.js"]
    assert doc.inline_styles == []
    assert "<script>alert" not in page and "</" not in doc.scripts[0][1]
    config = json.loads(doc.scripts[0][1])
    assert config["lecture_id"] == HOSTILE and config["csrf_token"] == "tok" and config["csp_nonce"] == "n0nce"
    assert config["strings"]["btn_save"] == "Сохранить версию" and config["user"] == "alice"
    assert '<html lang="ru">' in page


def test_word_diff_marks_removed_and_added_words():
    left, right = diff_words("the officer ask the witness", "the officer asks the witness")
    assert left == (Piece("same", "the officer "), Piece("del", "ask"), Piece("same", " the witness"))
    assert right == (Piece("same", "the officer "), Piece("ins", "asks"), Piece("same", " the witness"))


def test_diff_rows_pair_cues_by_id():
    old = [{"id": "c1", "start_ms": 0, "end_ms": 900, "text": "a b"},
           {"id": "c2", "start_ms": 1000, "end_ms": 1900, "text": "gone"},
           {"id": "c3", "start_ms": 2000, "end_ms": 2900, "text": "same"}]
    new = [{"id": "c1", "start_ms": 0, "end_ms": 900, "text": "a c"},
           {"id": "n0000abcd", "start_ms": 1500, "end_ms": 1900, "text": "new"},
           {"id": "c3", "start_ms": 2000, "end_ms": 2900, "text": "same"}]
    rows = diff_rows(old, new)
    assert [(r.cue_id, r.changed) for r in rows] == [("c1", True), ("c2", True), ("n0000abcd", True), ("c3", False)]
    assert rows[1].right == () and rows[2].left == ()
    assert format_ms(3_723_004) == "1:02:03.004"


def test_diff_page_is_escaped_and_accessible():
    a = {"number": 1, "kind": "machine", "author": "whisper-base", "track": {"cues": [
        {"id": "c1", "start_ms": 0, "end_ms": 900, "text": "x <b>bold</b> & y"}]}}
    b = {"number": 2, "kind": "human", "author": "alice", "track": {"cues": [
        {"id": "c1", "start_ms": 0, "end_ms": 900, "text": "x <i>new</i> & y"}]}}
    page = env().get_template("diff.html").render(
        **page_context("en"), lecture_id="demo", lang="en", strings=strings("en"), a=a, b=b,
        rows=diff_rows(a["track"]["cues"], b["track"]["cues"]), format_ms=format_ms,
    )
    assert "<b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert '<del><span class="ed-vh">[removed: </span>&lt;b&gt;bold&lt;/b&gt;<span class="ed-vh">]</span></del>' in page
    assert '<ins><span class="ed-vh">[added: </span>&lt;i&gt;new&lt;/i&gt;<span class="ed-vh">]</span></ins>' in page
    assert "Version 1 (machine, whisper-base)" in page and "Version 2 (human, alice)" in page
    assert '<th scope="row" class="df-time">0:00:00.000</th>' in page
