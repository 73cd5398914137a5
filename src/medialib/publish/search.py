"""The learners' search: one Pagefind index per language, built from transcript passages.

Each record is one 30-60 s passage of one language's subtitle track, addressed
`lectures/<id>/index.html#t=<s>` with its own passage id, so a learner lands on the moment.
Languages get separate indexes (`search/<lang>/`, Pagefind's forced language) so a Russian
and an English record never share an index and each gets its own Snowball stemmer; the
catalog page loads every language's index and merges the hits.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from medialib import keys

MIN_PASSAGE_S = 30.0
MAX_PASSAGE_S = 60.0
SEARCH = keys.SEARCH   # publish-bucket prefix of the indexes: search/<lang>/pagefind.js, ...
ENTRY_FILE = "pagefind-entry.json"   # what Pagefind's JS reads first: written last when published
_LANG = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Passage:
    """One search record: consecutive cues of one language spanning 30-60 s."""

    lecture_id: str
    language: str
    passage_id: str     # "<lang>-<first cue id>": unique within the lecture
    start_s: int        # where the link lands (whole seconds, rounded down)
    end_s: int
    text: str

    @property
    def url(self) -> str:
        """Where a hit lands: the moment (a media-fragment range) and the passage's language to highlight."""
        return f"{keys.bundle_prefix(self.lecture_id)}/index.html#t={self.start_s},{self.end_s}&lang={self.language}"


def passages(lecture_id: str, transcript_doc: Mapping, *, min_s: float = MIN_PASSAGE_S,
             max_s: float = MAX_PASSAGE_S) -> list[Passage]:
    """Group each track's cues of transcript.json into passages of min_s..max_s (a longer cue stands alone)."""
    out: list[Passage] = []
    for track in transcript_doc.get("tracks") or ():
        lang = str(track.get("language") or "")
        if not _LANG.match(lang):
            continue
        group: list[Mapping] = []
        for cue in track.get("cues") or ():
            text = str(cue.get("text") or "").strip()
            if not text:
                continue
            if group and (cue["end_ms"] - group[0]["start_ms"] > max_s * 1000 or
                          group[-1]["end_ms"] - group[0]["start_ms"] >= min_s * 1000):
                out.append(_passage(lecture_id, lang, group))
                group = []
            group.append(cue)
        if group:
            out.append(_passage(lecture_id, lang, group))
    return out


def _passage(lecture_id: str, lang: str, cues: list[Mapping]) -> Passage:
    first = cues[0]
    pid = f"{lang}-{first.get('id') or int(first['start_ms'])}"
    return Passage(lecture_id=lecture_id, language=lang, passage_id=pid, start_s=int(first["start_ms"] // 1000),
                   end_s=int(-(-cues[-1]["end_ms"] // 1000)),
                   text=" ".join(" ".join(str(c["text"]).split()) for c in cues))


@dataclass(frozen=True)
class IndexedLecture:
    """What the index needs of one listed lecture: its catalog entry and its transcript.json."""

    entry: Mapping
    transcript: Mapping


def build_search_index(lectures: Iterable[IndexedLecture], out_dir: Path) -> dict[str, int]:
    """Write out_dir/<lang>/ (Pagefind's files) for every language with a passage; returns records per language.

    Runs Pagefind's bundled binary through its Python API (no network). out_dir is
    replaced; a language without passages gets no folder.
    """
    by_lang: dict[str, list[tuple[Passage, Mapping]]] = {}
    for lec in lectures:
        for p in passages(str(lec.entry["id"]), lec.transcript):
            by_lang.setdefault(p.language, []).append((p, lec.entry))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_write_indexes(by_lang, out_dir))
    for ui in out_dir.glob("*/pagefind*ui.*"):   # Pagefind's own UI: the catalog page has its own
        ui.unlink()
    (out_dir / "languages.json").write_text(json.dumps(sorted(by_lang)), encoding="utf-8")
    return {lang: len(recs) for lang, recs in sorted(by_lang.items())}


async def _write_indexes(by_lang: dict[str, list[tuple[Passage, Mapping]]], out_dir: Path) -> None:
    from pagefind.index import PagefindIndex   # a subprocess; imported here so the library loads without it

    # Passages go to Pagefind as one small HTML page each, indexed by one add_directory:
    # its Python API answers each add_custom_record call after a 0.1 s poll, so a record at
    # a time would take ~20 s for one 60-minute lecture in two languages.
    with tempfile.TemporaryDirectory(prefix="medialib-passages-", dir=scratch_dir()) as tmp:
        for lang, records in sorted(by_lang.items()):
            site = Path(tmp) / lang
            made: set[Path] = set()
            for p, _entry in records:
                page = site / passage_path(p)
                if page.parent not in made:
                    page.parent.mkdir(parents=True, exist_ok=True)
                    made.add(page.parent)
                page.write_text(_passage_page(p), encoding="utf-8")
            async with PagefindIndex(config={"force_language": lang, "output_path": str(out_dir / lang)}) as index:
                await index.add_directory(str(site))


def scratch_dir() -> str | None:
    """Where to write tens of thousands of small files for a moment: memory (/dev/shm) when there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def passage_path(p: Passage) -> str:
    """Where a passage's page sits in Pagefind's site, and so its result URL: <lecture>/<start>-<end>.html.

    The hit's address travels in the URL, not in meta: Pagefind 1.5 indexes meta values,
    so a lecture id such as "...-interviewing-..." in meta made every passage of that
    lecture match "interview". The catalog page turns the URL into Passage.url.
    """
    return f"{p.lecture_id}/{p.start_s}-{p.end_s}.html"


def _passage_page(p: Passage) -> str:
    """One passage as Pagefind reads it: only its text, in the language's index."""
    return (f'<!doctype html><html lang="{p.language}"><head><meta charset="utf-8"></head>'
            f'<body><main data-pagefind-body><p>{html.escape(p.text)}</p></main></body></html>')


_HASHED = re.compile(r"_[0-9a-f]{7,}\.pf_[a-z]+$")


def is_hashed(rel: str) -> bool:
    """Pagefind names its index, fragment, filter and meta chunks by their content (ru_61a156a.pf_index)."""
    return bool(_HASHED.search(rel))


def index_files(out_dir: Path) -> list[str]:
    """Files under out_dir in publish order: fragments and index chunks first, each entry file last."""
    files = sorted(p.relative_to(out_dir).as_posix() for p in Path(out_dir).rglob("*") if p.is_file())
    return sorted(files, key=lambda f: (Path(f).name == ENTRY_FILE, f.endswith(".js"), f))
