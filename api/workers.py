"""`ledger serve --workers N`: N API processes behind one listening socket, dealt in turn.

Handling systems and load balancers keep their connections open, so how connections are spread
decides how work is spread. uvicorn's multi-process mode shares one listening socket: the worker
that wakes first accepts a whole burst (32 connections ended 26 to 6 between two workers).
SO_REUSEPORT sockets, one per worker, spread by address hash: 32 connections ended 13 to 19, and
the worker with 19 answered later (the public lookup's p99 17 ms against 8.4 with an even load).
Here the parent accepts every connection and deals them to the workers in turn, each over a Unix
socket pair with the descriptor attached (SCM_RIGHTS); the worker adopts it into its event loop
with uvicorn's protocol, as if it had accepted it itself, and acknowledges it with a byte. Until
then the parent keeps its own copy: a worker that dies with connections handed over but not yet
adopted (killed between the parent's send and its own receive) does not take them with it; they
are dealt to the others. The parent also restarts a worker that dies, and stops them all on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import selectors
import signal
import socket
from collections import deque
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

_log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code when the application's lifespan failed to start
BACKLOG = 2048
WATCH_INTERVAL = 0.2  # seconds between looks at the workers while no connection arrives
HANDOVER = b"c"  # one byte per descriptor handed over (a message needs a byte)
ADOPTED = b"a"  # the worker's answer, one byte per descriptor it adopted


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


class HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server whose connections come over `channel` instead of a listening socket."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan; no listener of its own
        # What uvicorn's startup gives `loop.create_server` for each connection it accepts.
        protocol = functools.partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]  # as uvicorn's own call
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, protocol)

    def _receive(self, loop: asyncio.AbstractEventLoop, protocol: Any) -> None:
        while True:
            try:
                message, descriptors, _flags, _address = socket.recv_fds(self.channel, 64, 64)
            except (BlockingIOError, InterruptedError):
                return
            for descriptor in descriptors:
                connection = socket.socket(fileno=descriptor)
                loop.create_task(loop.connect_accepted_socket(protocol, connection))
            if descriptors:  # the parent may close its copies now
                with contextlib.suppress(OSError):  # the parent is gone: nothing to tell
                    self.channel.send(ADOPTED * len(descriptors))
            if not message:  # the parent is gone: nobody hands connections over any more
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):  # not registered, or already closed
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        self.channel.close()  # connections not yet adopted are closed with it
        await super().shutdown(sockets)


def _worker(channel: socket.socket, forwarded_allow_ips: str) -> None:
    from api.http_protocol import CoalescingHttpToolsProtocol  # noqa: PLC0415

    config = uvicorn.Config(
        "api.app:create_app",
        factory=True,
        log_level="warning",
        access_log=False,
        forwarded_allow_ips=forwarded_allow_ips,
        http=CoalescingHttpToolsProtocol,
    )
    HandedConnectionsServer(config, channel).run(sockets=[])


class Worker:
    """One API process and the parent's end of the socket pair its connections go over."""

    def __init__(self, context: Any, forwarded_allow_ips: str) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process: BaseProcess = context.Process(
            target=_worker, args=(theirs, forwarded_allow_ips), name="ledger-api"
        )
        self.process.start()
        theirs.close()
        self.channel.setblocking(False)
        self.unadopted: deque[socket.socket] = deque()  # handed over, not yet acknowledged

    def hand_over(self, connection: socket.socket) -> bool:
        """Give `connection` to this worker (the parent keeps its copy until the worker says it
        adopted it); False if it cannot take it now."""
        try:
            sent = socket.send_fds(self.channel, [HANDOVER], [connection.fileno()]) == 1
        except OSError:  # full (busy for a long while) or gone (it died)
            return False
        if sent:
            self.unadopted.append(connection)
        return sent

    def read_adopted(self) -> bool:
        """Close the parent's copies of the connections the worker adopted; False once the
        worker's end is closed (it died or stopped)."""
        while True:
            try:
                adopted = self.channel.recv(4096)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not adopted:
                return False
            for _ in range(min(len(adopted), len(self.unadopted))):
                self.unadopted.popleft().close()

    def take_unadopted(self) -> list[socket.socket]:
        """The connections handed over that the worker never adopted (it died)."""
        self.read_adopted()  # what it did adopt before it died
        connections = list(self.unadopted)
        self.unadopted.clear()
        return connections

    def close(self) -> None:
        for connection in self.unadopted:
            connection.close()
        self.unadopted.clear()
        self.channel.close()


class Dealer:
    """Deals accepted connections to the workers in turn, passing over one that cannot take it."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._next = 0

    def deal(self, connection: socket.socket, avoiding: Worker | None = None) -> None:
        for _ in range(len(self.workers)):
            worker = self.workers[self._next]
            self._next = (self._next + 1) % len(self.workers)
            if worker is not avoiding and worker.hand_over(connection):
                return  # the worker's `unadopted` holds it until the worker adopts it
        _log.warning("no API worker could take a connection; it is closed")
        connection.close()


def serve_workers(host: str, port: int, workers: int, forwarded_allow_ips: str = "") -> int:
    """Run `workers` API processes until SIGTERM or SIGINT; the exit status.

    `forwarded_allow_ips`: the proxies whose X-Forwarded-For is believed ("": none).
    """
    listener = listening_socket(host, port)  # taken before any worker starts: a clear error
    listener.setblocking(False)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    dealer = Dealer([Worker(context, forwarded_allow_ips) for _ in range(workers)])
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    for worker in dealer.workers:
        selector.register(worker.channel, selectors.EVENT_READ, worker)
    status = 0
    try:
        while not stopping:
            for key, _events in selector.select(WATCH_INTERVAL):
                if key.data is None:
                    _accept_waiting(listener, dealer)
                elif not key.data.read_adopted():
                    selector.unregister(key.fileobj)  # it died: _replace_dead takes over
            status = _replace_dead(dealer, context, forwarded_allow_ips, selector)
            stopping = stopping or status != 0
    finally:
        selector.close()
        listener.close()
        for worker in dealer.workers:
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for worker in dealer.workers:
            worker.process.join(timeout=30)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _accept_waiting(listener: socket.socket, dealer: Dealer) -> None:
    while True:
        try:
            connection, _address = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # out of descriptors, or the client gave up: keep serving
            _log.warning("accepting a connection failed: %s", error)
            return
        dealer.deal(connection)


def _replace_dead(
    dealer: Dealer, context: Any, forwarded_allow_ips: str, selector: selectors.BaseSelector
) -> int:
    """Start a worker in place of each that died, and deal the connections it never adopted to
    the others; STARTUP_FAILURE if one could not start."""
    for index, worker in enumerate(dealer.workers):
        if worker.process.is_alive():
            continue
        if worker.process.exitcode == STARTUP_FAILURE:
            _log.error("an API worker could not start; stopping")
            return STARTUP_FAILURE
        _log.warning(
            "API worker %s exited (%s); starting another",
            worker.process.pid,
            worker.process.exitcode,
        )
        with contextlib.suppress(KeyError, ValueError):  # unregistered when its channel closed
            selector.unregister(worker.channel)
        orphans = worker.take_unadopted()
        worker.close()
        dealer.workers[index] = replacement = Worker(context, forwarded_allow_ips)
        selector.register(replacement.channel, selectors.EVENT_READ, replacement)
        for connection in orphans:
            dealer.deal(connection, avoiding=replacement)  # the others answer at once
    return 0
