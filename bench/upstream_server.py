"""A stand-in upstream service: answers every request with a small JSON body after a fixed delay.

It has to be cheap enough never to be the bottleneck, so it is a bare ``asyncio.Protocol``
(no framework, no parsing beyond finding the end of each request head) that keeps connections
alive and answers pipelined requests in order. The harness measures its ceiling with wrk at the
highest connection count it uses and prints it next to the results.

    python bench/upstream_server.py PORT [DELAY_SECONDS]
"""

from __future__ import annotations

import asyncio
import signal
import sys

BODY = b'{"ok":true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class DelayedJSON(asyncio.Protocol):
    """One connection: each complete request head schedules one response ``delay`` later."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        loop = asyncio.get_running_loop()
        while (end := self.buffer.find(b"\r\n\r\n")) != -1:
            # Requests here are GETs without bodies; anything after the head is the next one.
            self.buffer = self.buffer[end + 4 :]
            self.pending += 1
            loop.call_later(self.delay, self._answer)

    def _answer(self) -> None:
        self.pending -= 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DelayedJSON(delay), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        print(f"upstream: 127.0.0.1:{port}, {delay * 1000:.0f} ms delay", flush=True)
        await stop.wait()


def main() -> None:
    port = int(sys.argv[1])
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    asyncio.run(serve(port, delay))


if __name__ == "__main__":
    main()
