"""Per-cue provenance of a human edit: what the editor changed becomes theirs, the rest keeps its history."""

from __future__ import annotations

from dataclasses import replace

from medialib.subtitles.cues import Cue, Track


def _same_words_and_times(a: Cue, b: Cue) -> bool:
    return (a.start_ms, a.end_ms, a.text) == (b.start_ms, b.end_ms, b.text)


def apply_provenance(base: Track | None, edited: Track, editor: str, version: int) -> Track:
    """The edited track with each cue's provenance settled against the version it was edited from.

    A cue that is new (its id is not in base) or whose times or text changed becomes
    origin="human", editor, version, with its risk cleared (a person looked at it) and no
    flags. A cue the editor left alone is the base cue itself, so its confidence, risk
    and earlier provenance survive (the editor's copy may have dropped them). Idempotent:
    applying it twice gives the same track.
    """
    before = {c.id: c for c in base.cues} if base else {}
    cues = []
    for c in edited.cues:
        old = before.get(c.id)
        if old is not None and _same_words_and_times(old, c):
            cues.append(old)
        else:
            cues.append(replace(c, origin="human", editor=editor, version=version, risk=0.0, flags=()))
    return replace(edited, cues=tuple(cues))


def changed_cue_ids(base: Track | None, edited: Track) -> tuple[str, ...]:
    """Ids of the cues that are new or changed in edited, in its order (for diffs and logs)."""
    before = {c.id: c for c in base.cues} if base else {}
    return tuple(c.id for c in edited.cues if c.id not in before or not _same_words_and_times(before[c.id], c))
