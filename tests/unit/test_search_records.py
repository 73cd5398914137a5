"""Search records: one per 30-60 s passage per language, each with its own address and id."""

from __future__ import annotations

from medialib.publish.search import ENTRY_FILE, index_files, passages


def _track(lang, starts, dur=5):
    return {"language": lang, "cues": [{"id": f"c{i:05d}", "start_ms": s * 1000, "end_ms": (s + dur) * 1000,
                                        "text": f"{lang} cue {i}"} for i, s in enumerate(starts, 1)]}


def test_cues_group_into_30_to_60_second_passages_per_language():
    doc = {"tracks": [_track("ru", range(0, 300, 6)), _track("en", range(0, 300, 6))]}
    ps = passages("lec-1", doc)
    for lang in ("ru", "en"):
        mine = [p for p in ps if p.language == lang]
        assert all(30 <= p.end_s - p.start_s <= 60 for p in mine[:-1])
        assert " ".join(p.text for p in mine) == " ".join(f"{lang} cue {i}" for i in range(1, 51))
    ids = [(p.language, p.passage_id) for p in ps]
    assert len(set(ids)) == len(ids) and len({p.passage_id for p in ps}) == len(ps)   # ru and en never collide
    assert ps[0].url == f"lectures/lec-1/index.html#t=0,{ps[0].end_s}&lang=ru"
    assert ps[1].url == f"lectures/lec-1/index.html#t={ps[1].start_s},{ps[1].end_s}&lang=ru"


def test_a_long_cue_stands_alone_and_bad_tracks_are_skipped():
    doc = {"tracks": [
        {"language": "en", "cues": [{"id": "a", "start_ms": 0, "end_ms": 2000, "text": "short"},
                                    {"id": "b", "start_ms": 2000, "end_ms": 90000, "text": "very long"},
                                    {"id": "c", "start_ms": 90000, "end_ms": 91000, "text": "  "}]},
        {"language": "../x", "cues": [{"id": "z", "start_ms": 0, "end_ms": 1, "text": "bad"}]},
        {"language": "ru", "cues": []},
    ]}
    assert [(p.passage_id, p.text) for p in passages("l", doc)] == [("en-a", "short"), ("en-b", "very long")]
    assert passages("l", {}) == []


def test_entry_files_are_published_last(tmp_path):
    for name in ("ru/pagefind-entry.json", "ru/pagefind.js", "ru/index/a.pf_index", "en/fragment/f.pf_fragment",
                 "en/pagefind-entry.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    order = index_files(tmp_path)
    assert [f.endswith(ENTRY_FILE) for f in order] == [False, False, False, True, True]
