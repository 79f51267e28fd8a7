"""The API's transport sends an answer's writes of one event-loop turn in one call."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from api.http_protocol import CoalescingTransport


class Counting:
    """The socket's real transport, with the calls that reach it counted."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.calls: list[tuple[str, int]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", 1))
        self.transport.write(data)

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(("writelines", len(chunks)))
        self.transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _connected() -> tuple[CoalescingTransport, Counting, socket.socket]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    counting = Counting(transport)
    coalescing = CoalescingTransport(counting, loop)  # type: ignore[arg-type]
    theirs.settimeout(5)
    return coalescing, counting, theirs


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_the_writes_of_one_turn_leave_together_at_its_end() -> None:
    async def scenario() -> None:
        coalescing, counting, theirs = await _connected()
        coalescing.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        coalescing.write(b"{}")
        assert counting.calls == []  # nothing sent during the turn
        await asyncio.sleep(0)
        assert counting.calls == [("writelines", 2)]
        coalescing.write(b"next")  # a later turn's write goes on its own
        await asyncio.sleep(0)
        assert counting.calls[-1] == ("write", 1)
        coalescing.close()
        await asyncio.sleep(0.01)
        received = await asyncio.to_thread(_read_until_closed, theirs)
        assert received == b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}next"
        theirs.close()

    asyncio.run(scenario())


def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    async def scenario() -> None:
        coalescing, _, theirs = await _connected()
        coalescing.write(b"the last answer")
        coalescing.close()  # in the same turn: the pending write still goes out, then EOF
        received = await asyncio.to_thread(_read_until_closed, theirs)
        assert received == b"the last answer"
        theirs.close()

        coalescing, counting, theirs = await _connected()
        coalescing.write(b"never sent")
        coalescing.abort()
        await asyncio.sleep(0.01)
        assert counting.calls == []
        theirs.close()

    asyncio.run(scenario())
