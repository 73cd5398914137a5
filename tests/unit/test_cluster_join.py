"""The join file, the environment it gives a worker, and storage refusing to split on a worker."""

from __future__ import annotations

import pytest

from medialib.config import load_settings
from medialib.errors import InputError, NotFoundError, OperatorError
from medialib.storage.embedded import resolve_storage
from medialib_app import cluster

INFO = cluster.JoinInfo(prefect_api_url="http://10.0.0.5:4200/api", endpoint_url="http://10.0.0.5:8333",
                        access_key_id="AK", secret_access_key="S\"K", region="us-east-1",
                        archive_bucket="medialib-archive", publish_bucket="medialib-publish",
                        public_base_url="http://10.0.0.5:8333/medialib-publish", work_pool="medialib", heartbeat_s=30)


def test_round_trip_and_owner_only(tmp_path):
    path = cluster.write_join_file(tmp_path / "j" / "join.toml", INFO)
    assert cluster.read_join_file(path) == INFO
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_missing_or_partial_join_file_says_what_to_do(tmp_path):
    with pytest.raises(NotFoundError, match="server up"):
        cluster.read_join_file(tmp_path / "nope.toml")
    (tmp_path / "half.toml").write_text('[cluster]\nprefect_api_url = "http://x/api"\n')
    with pytest.raises(InputError, match="lacks endpoint_url"):
        cluster.read_join_file(tmp_path / "half.toml")


def test_the_worker_environment_names_the_shared_storage_and_results():
    env = cluster.join_env(INFO)
    assert env["PREFECT_API_URL"] == INFO.prefect_api_url
    assert env["MEDIALIB_STORAGE__ENDPOINT_URL"] == INFO.endpoint_url
    assert env["PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"] == cluster.RESULTS_BLOCK
    settings = load_settings(environ=env)
    assert not settings.storage.embedded and settings.storage.secret_access_key == 'S"K'


def test_a_worker_of_a_prefect_server_never_starts_a_private_s3(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://10.0.0.5:4200/api")
    with pytest.raises(OperatorError, match="join"):
        resolve_storage(load_settings(environ={}))


def test_stages_fetch_the_original_at_once_on_a_worker(tmp_path, monkeypatch):
    """A worker that did not ingest downloads the original; two stages doing it together both get it."""
    import threading
    from types import SimpleNamespace

    from medialib.pipeline import stages

    def download_tree(client, bucket, key, local_dir):
        (local_dir / key.rsplit("/", 1)[1]).write_bytes(b"x" * 10)
        threading.Event().wait(0.2)
        return [local_dir / key.rsplit("/", 1)[1]]

    monkeypatch.setattr(stages.storage, "download_tree", download_tree)
    monkeypatch.setattr(stages.storage, "make_client", lambda opts: None)
    ing = SimpleNamespace(local_path="/elsewhere/a.mp4", sha256="ab" * 32, archive_key="originals/l/abab.mp4",
                          info=SimpleNamespace(size_bytes=10))
    got, errors = [], []

    def fetch():
        try:
            got.append(stages.fetch_original(ing, SimpleNamespace(archive_bucket="a"), tmp_path))
        except Exception as e:   # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(got)) == 1 and got[0].read_bytes() == b"x" * 10
