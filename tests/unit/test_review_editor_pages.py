"""The editor's and the diff page's templates and the word diff, without a browser."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import jinja2

from medialib_app.review.diff import Piece, diff_rows, diff_words, format_ms

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "src" / "medialib_app" / "review"
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from review_fake import BASE_HTML, strings  # noqa: E402

HOSTILE = '</script><script>alert("x")</script>'


def env() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"base.html": BASE_HTML}), jinja2.FileSystemLoader(APP / "templates")])
    return jinja2.Environment(loader=loader, autoescape=True)


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
    from review_fake import APP_STRINGS  # the app's own keys (app.toml) the editor uses too

    assert not set(table) & set(APP_STRINGS)  # the app's loader refuses a key defined twice
    assert used - set(table) - set(APP_STRINGS) == {"state_"}  # t("state_" + state): one key per state
    # Placeholders agree between the languages.
    for key, texts in table.items():
        assert set(re.findall(r"\{\w+\}", texts["en"])) == set(re.findall(r"\{\w+\}", texts["ru"])), key


def test_editor_page_has_no_inline_code_and_escapes_its_data():
    page = env().get_template("editor.html").render(
        lecture_id=HOSTILE, lang="en", csrf_token="tok", api_base="/api", strings=strings("ru"), ui_lang="ru",
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
        lecture_id="demo", lang="en", strings=strings("en"), ui_lang="en", a=a, b=b,
        rows=diff_rows(a["track"]["cues"], b["track"]["cues"]), format_ms=format_ms,
    )
    assert "<b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert '<del><span class="ed-vh">[removed: </span>&lt;b&gt;bold&lt;/b&gt;<span class="ed-vh">]</span></del>' in page
    assert '<ins><span class="ed-vh">[added: </span>&lt;i&gt;new&lt;/i&gt;<span class="ed-vh">]</span></ins>' in page
    assert "Version 1 (machine, whisper-base)" in page and "Version 2 (human, alice)" in page
    assert '<th scope="row" class="df-time">0:00:00.000</th>' in page
