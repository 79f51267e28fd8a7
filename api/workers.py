"""`ledger serve --workers N`: N API processes, each listening on its own socket, one port.

uvicorn's multi-process mode shares one listening socket between its workers: the worker that
wakes first accepts a whole burst of new connections. Handling systems keep their connections
open, and 32 of them ended split 26 to 6 between two workers, one saturated and one idle. Here
each worker listens on a socket of its own with SO_REUSEPORT, and the kernel spreads incoming
connections over the sockets by address hash. The parent only watches: it restarts a worker that
dies, and stops them all on SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

_log = logging.getLogger(__name__)

STARTUP_FAILURE = 3  # uvicorn's exit code when the application's lifespan failed to start
BACKLOG = 2048


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, forwarded_allow_ips: str) -> None:
    import uvicorn  # noqa: PLC0415

    from api.http_protocol import CoalescingHttpToolsProtocol  # noqa: PLC0415

    sock = reuse_port_socket(host, port)
    sock.listen(BACKLOG)
    config = uvicorn.Config(
        "api.app:create_app",
        factory=True,
        log_level="warning",
        access_log=False,
        forwarded_allow_ips=forwarded_allow_ips,
        http=CoalescingHttpToolsProtocol,
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int, forwarded_allow_ips: str = "") -> int:
    """Run `workers` API processes until SIGTERM or SIGINT; the exit status.

    `forwarded_allow_ips`: the proxies whose X-Forwarded-For is believed ("": none).
    """
    reuse_port_socket(host, port).close()  # the port is free (or shared the same way): say so now
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start() -> BaseProcess:
        process = context.Process(
            target=_worker, args=(host, port, forwarded_allow_ips), name="ledger-api"
        )
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    _log.error("an API worker could not start; stopping")
                    stopping, status = True, STARTUP_FAILURE
                    break
                _log.warning(
                    "API worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
