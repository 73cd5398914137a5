"""Lecture ids, content ids and settings."""

from __future__ import annotations

import pytest

from medialib.config import load_settings
from medialib.errors import ConfigError, InputError
from medialib.ids import (
    check_lecture_id,
    file_sha256,
    make_lecture_id,
    options_digest,
    slugify,
)


def test_russian_title_becomes_a_safe_id():
    lid = make_lecture_id("Допрос свидетеля: часть 1", "0123456789abcdef")
    assert lid == "dopros-svidetelya-chast-1-01234567"
    assert check_lecture_id(lid) == lid


def test_title_without_letters_still_gets_an_id():
    assert make_lecture_id("!!! ???", "ffffffff00") == "lecture-ffffffff"


@pytest.mark.parametrize("bad", ["../etc", "a/b", "..", "", "UPPER", "x" * 81, "-lead", "a b"])
def test_ids_that_could_escape_their_prefix_are_refused(bad):
    with pytest.raises(InputError) as e:
        check_lecture_id(bad)
    assert str(e.value) == (f"{bad!r}: not a valid lecture id; use lower-case letters, digits and '-' "
                            "(at most 80 characters), e.g. 'interview-techniques-1a2b3c4d'")


def test_slug_strips_traversal_and_accents():
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("Café Übung") == "cafe-ubung"


def test_sha256_of_a_file(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    assert file_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_digest_changes_with_settings():
    s = load_settings()
    changed = s.ladder.model_copy(update={"preset": "medium"})
    assert options_digest(s.ladder) != options_digest(changed)
    assert options_digest(s.ladder, 0) == options_digest(load_settings().ladder, 0)


def test_defaults_and_env_overrides():
    s = load_settings(environ={"MEDIALIB_LADDER__PRESET": "fast", "MEDIALIB_STORAGE__UPLOAD_WORKERS": "4",
                               "MEDIALIB_STORAGE__ENDPOINT_URL": "https://s3.example.org"})
    assert s.ladder.preset == "fast" and s.storage.upload_workers == 4 and not s.storage.embedded
    assert [r.height for r in s.ladder.rungs] == [1080, 720, 480, 360]
    assert s.subtitles.max_line_chars == 42 and s.subtitles.max_cps == 20


def test_bad_setting_names_the_key(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[storage]\nupload_workers = 0\n")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, environ={})
    assert str(e.value).startswith("setting storage.upload_workers: ")


def test_missing_config_file_is_clear(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path / "nope.toml", environ={})
    assert str(e.value) == f"{tmp_path / 'nope.toml'}: config file not found; check MEDIALIB_CONFIG or --config"
