"""Word-level diff of two versions of a track, for the diff page (templates/diff.html).

Cues are paired by their stable id (a split's second half and inserted cues are new ids,
deleted cues are missing ids); a pair's texts are compared word by word, whitespace kept,
so the page can show the old text with removals marked and the new one with additions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_TOKEN = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    """A run of text in one column: op is "same", "del" (left only) or "ins" (right only)."""

    op: str
    text: str


@dataclass(frozen=True)
class DiffRow:
    """One cue in both versions; a side is empty when the cue exists only in the other."""

    cue_id: str
    start_ms: int
    end_ms: int
    left: tuple[Piece, ...]
    right: tuple[Piece, ...]
    changed: bool  # text or times differ


def diff_words(old: str, new: str) -> tuple[tuple[Piece, ...], tuple[Piece, ...]]:
    """(left pieces, right pieces): `old` with removals as "del", `new` with additions as "ins".

    A lone space the two texts share between two changes belongs to the change: a
    rewritten sentence reads as one removal and one addition, not word by word.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    left: list[Piece] = []
    right: list[Piece] = []
    ops = SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        same = op == "equal" and (k in (0, len(ops) - 1) or bool("".join(a[i1:i2]).strip()))
        _append(left, "same" if same else "del", "".join(a[i1:i2]))
        _append(right, "same" if same else "ins", "".join(b[j1:j2]))
    return tuple(left), tuple(right)


def _append(pieces: list[Piece], op: str, text: str) -> None:
    """Add a run, joined to the one before when both are the same kind."""
    if not text:
        return
    if pieces and pieces[-1].op == op:
        pieces[-1] = Piece(op, pieces[-1].text + text)
    else:
        pieces.append(Piece(op, text))


def diff_rows(old_cues: list[dict], new_cues: list[dict]) -> list[DiffRow]:
    """Rows for every cue in either version (the API's cue dicts), in time order."""
    new_by_id = {c["id"]: c for c in new_cues}
    old_ids = {c["id"] for c in old_cues}
    rows: list[DiffRow] = []
    for old in old_cues:
        new = new_by_id.get(old["id"])
        if new is None:
            rows.append(DiffRow(old["id"], old["start_ms"], old["end_ms"], (Piece("del", old["text"]),), (), True))
            continue
        left, right = diff_words(old["text"], new["text"])
        changed = old["text"] != new["text"] or (old["start_ms"], old["end_ms"]) != (new["start_ms"], new["end_ms"])
        rows.append(DiffRow(old["id"], new["start_ms"], new["end_ms"], left, right, changed))
    for new in new_cues:
        if new["id"] not in old_ids:
            rows.append(DiffRow(new["id"], new["start_ms"], new["end_ms"], (), (Piece("ins", new["text"]),), True))
    rows.sort(key=lambda r: (r.start_ms, r.end_ms))
    return rows


def format_ms(ms: int) -> str:
    """h:mm:ss.mmm, as the editor shows times."""
    return f"{ms // 3_600_000}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
