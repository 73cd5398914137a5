"""Prefect's results and cache records in the archive bucket, so a stage cached on one machine is reused on all.

Imported with the flows package, so every process that runs a flow (a worker's run
process too) knows the block type its settings name (PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK).
"""

from __future__ import annotations

from prefect.filesystems import WritableFileSystem

from medialib.config import load_settings


class MedialibResults(WritableFileSystem):
    """Prefect's results and cache records under `prefect-results/` in the archive bucket.

    Holds no keys: each machine reaches the bucket with its own storage settings (the join
    file's), so the block in Prefect's database carries no secret.
    """

    _block_type_name = "Medialib results"
    _block_type_slug = "medialib-results"
    prefix: str = "prefect-results"

    def _where(self):
        from medialib.storage.embedded import resolve_storage
        from medialib.storage.s3 import make_client

        opts = resolve_storage(load_settings())
        return make_client(opts), opts.archive_bucket

    def _key(self, path: str) -> str:
        return f"{self.prefix.strip('/')}/{str(path).lstrip('/')}"

    def read_path(self, path: str, _sync: bool = True) -> bytes:   # _sync: Prefect's sync caller passes it
        from medialib.storage.s3 import get_bytes

        client, bucket = self._where()
        data = get_bytes(client, bucket, self._key(path))
        if data is None:
            raise ValueError(f"no result at s3://{bucket}/{self._key(path)}")
        return data

    def write_path(self, path: str, content: bytes, _sync: bool = True) -> str:
        from medialib.storage.s3 import put_bytes

        client, bucket = self._where()
        put_bytes(client, bucket, self._key(path), content, content_type="application/octet-stream")
        return path

    async def aread_path(self, path: str) -> bytes:
        import anyio

        return await anyio.to_thread.run_sync(self.read_path, path)

    async def awrite_path(self, path: str, content: bytes) -> str:
        import anyio

        return await anyio.to_thread.run_sync(self.write_path, path, content)
