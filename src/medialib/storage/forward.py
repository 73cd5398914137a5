"""The embedded S3 port, and only it, on an address other machines reach.

The embedded SeaweedFS listens on loopback only: its filer and volume ports serve data
without authentication, and weed binds every port to one address. For workers on other
machines `medialib server up` runs this forwarder: plain TCP from `host:port` to the S3
port on 127.0.0.1, so requests stay signed end to end (SigV4 signs the Host header,
which passes through unchanged) and nothing else is exposed.

    python -m medialib.storage.forward LISTEN_HOST LISTEN_PORT TARGET_PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

BUFFER = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen_host: str, listen_port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))

    server = await asyncio.start_server(handle, listen_host, listen_port, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    host, port, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    asyncio.run(serve(host, port, target))
