"""uvicorn's HTTP protocol, with an answer's writes sent to the socket together.

uvicorn writes an answer's status line and headers to the socket as soon as the application
sends `http.response.start`, and the body when it sends `http.response.body`: two system calls
per answer, each of which, on loopback or a LAN, runs the TCP stack up to the receiving side. The
send of the headers alone was a sixth of a single post's time in the API process. Here the
protocol's transport keeps what is written during one turn of the event loop and hands it to
the socket at the end of that turn, in one call: the headers and the body of an answer whose
body is ready (every JSON answer) leave together; an answer streamed over many turns (a CSV
export) leaves as before, a turn's worth at a time. Nothing waits longer than the current turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes within one turn of the loop reach the socket as one.

    Everything but `write`, `writelines`, `close` and `abort` goes to the socket's transport
    unchanged; `close` sends what is pending first, as the transport itself would, and `abort`
    drops it, as the transport drops its own buffer.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `CoalescingTransport` (pass as `http=` to uvicorn)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)
