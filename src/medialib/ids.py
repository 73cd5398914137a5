"""Content ids and lecture ids.

A lecture id is a safe object-key component made from the title (Russian titles are
transliterated), so it never contains '/', '..' or anything a URL must escape.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

from medialib.errors import InputError

# GOST 7.79-2000 system B style, the one Russian road signs and passports use.
_RU = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}

LECTURE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


def file_sha256(path: Path, chunk_bytes: int = 4 << 20) -> str:
    """Hex sha256 of a file's bytes: a recording's content id, and the digest stored with uploads."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def slugify(text: str, max_len: int = 60) -> str:
    """Lower-case ASCII words joined by '-': 'Допрос свидетеля' -> 'dopros-svidetelya'."""
    out = []
    for ch in text.lower():
        if ch in _RU:
            out.append(_RU[ch])
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    slug = re.sub(r"[^a-z0-9]+", "-", "".join(out)).strip("-")
    return slug[:max_len].rstrip("-")


def make_lecture_id(title: str, sha256: str) -> str:
    """A readable, unique id: the title's slug plus 8 hex digits of the content id."""
    slug = slugify(title) or "lecture"
    return f"{slug}-{sha256[:8]}"


def check_lecture_id(lecture_id: str) -> str:
    """Refuse ids that could escape their prefix in the bucket (path traversal, '/')."""
    if not LECTURE_ID_RE.fullmatch(lecture_id or ""):
        raise InputError(
            f"{lecture_id!r}: not a valid lecture id; use lower-case letters, digits and '-' "
            "(at most 80 characters), e.g. 'interview-techniques-1a2b3c4d'"
        )
    return lecture_id


def options_digest(*parts: object) -> str:
    """12 hex digits naming a stage's settings: cache keys and work/ object names use it."""
    h = hashlib.sha256()
    for p in parts:
        dump = getattr(p, "model_dump_json", None)
        h.update((dump() if dump else json.dumps(p, sort_keys=True, default=str)).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]
