"""The embedded PostgreSQL stopped (SIGSTOP) under load: no request hangs past the bound.

First the postmaster alone (its backends go on working: writes on open connections succeed,
new connections wait at most the bound), then the postmaster and all its processes (nothing
answers: the probe notices within the bound and every request is answered 503)."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.ledger import (
    Load,
    Server,
    assert_stored_once,
    embedded_url,
    figures,
    issue_handler_key,
    latency_bound,
    ledger_env,
    postmaster_pid,
    server_processes,
)

pytestmark = pytest.mark.timeout(150)

BOUND = 2.0  # LEDGER_DATABASE_TIMEOUT: the longest wait for a connection or an answer
MARGIN = 1.0  # scheduling on a busy machine with 2 cores


def _ask_readiness(port: int, stop: Any, answers: Any) -> None:
    while not stop.wait(0.05):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        sent = time.monotonic()
        connection.request("GET", "/health/ready")
        status = connection.getresponse().status
        answers.put((time.monotonic(), status, time.monotonic() - sent))
        connection.close()


class ReadinessWatch:
    """Asks /health/ready every 50 ms from a process of its own (the load's threads would
    delay it in this one); keeps each answer's time, status and latency."""

    def __init__(self, server: Server) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._queue: Any = context.Queue()
        self._process = context.Process(
            target=_ask_readiness, args=(server.port, self._stop, self._queue), daemon=True
        )
        self._process.start()
        self.answers: list[tuple[float, int, float]] = []

    def stop(self) -> None:
        self._stop.set()
        self._process.join(15)
        while not self._queue.empty():
            self.answers.append(self._queue.get())

    def between(self, start: float, end: float) -> list[tuple[float, int, float]]:
        return [a for a in self.answers if start <= a[0] <= end]


def pause(pids: list[int], seconds: float) -> tuple[float, float]:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    return started, time.monotonic()


def test_a_stopped_server_never_holds_a_request_past_the_bound(data_dir: Path) -> None:
    env = ledger_env(data_dir, LEDGER_DATABASE_TIMEOUT=str(BOUND))
    pgdata = data_dir / "postgres"
    server = Server(env)
    try:
        server.wait_ready()
        load = Load(server.port, issue_handler_key(env), singles=2, batches=1).start()
        readiness = ReadinessWatch(server)
        time.sleep(2)  # past the first requests (keys looked up, connections opened)

        alone_start, alone_end = pause([postmaster_pid(pgdata)], 3)
        time.sleep(1)
        everything = server_processes(pgdata)
        all_start, all_end = pause(everything, 4)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            later = load.since(all_end)
            if any(a.status in (200, 201) and a.sent > all_end for a in later):
                break
            time.sleep(0.02)
        recovered = min(a.answered for a in load.since(all_end) if a.status in (200, 201))
        load.stop()
        readiness.stop()

        print(
            "SLOWREQ",
            [
                (round(a.sent - alone_start, 2), round(a.seconds, 2), a.status)
                for a in load.answers
                if a.seconds > 0.5
            ],
        )
        measured = figures("SIGSTOP")
        alone = [a for a in load.answers if alone_start <= a.answered <= alone_end + MARGIN]
        stopped = [a for a in load.answers if all_start <= a.answered <= all_end]
        sent_when_known = [a for a in stopped if a.sent >= all_start + BOUND + MARGIN]
        measured.add("postmaster alone: slowest answer", max(a.seconds for a in alone), "ms")
        measured.add(
            "postmaster alone: answers 2xx/503",
            f"{sum(a.status < 300 for a in alone)}/{sum(a.status == 503 for a in alone)}",
        )
        measured.add("all processes: slowest answer", max(a.seconds for a in stopped), "ms")
        measured.add(
            "all processes: slowest 503 once known down",
            max((a.seconds for a in sent_when_known), default=0.0),
            "ms",
        )
        refused = [a.answered for a in stopped if a.status == 503]
        measured.add("all processes: first 503 after the stop", min(refused) - all_start, "ms")
        measured.add("first success after SIGCONT", recovered - all_end, "ms")
        ready_slowest = max(a[2] for a in readiness.answers)
        measured.add("slowest /health/ready", ready_slowest, "ms")

        assert max(a.seconds for a in load.answers) < BOUND + MARGIN, "a request hung"
        assert not [a for a in load.answers if a.status not in (0, 200, 201, 503)]
        assert min(refused) - all_start < BOUND + MARGIN
        assert max((a.seconds for a in sent_when_known), default=0.0) < latency_bound(0.05)
        assert 503 in {a[1] for a in readiness.between(all_start + BOUND + MARGIN, all_end)}
        assert ready_slowest < latency_bound(0.1)
        assert recovered - all_end < 10
        stored = assert_stored_once(embedded_url(pgdata), load.acknowledged)
        measured.add("events acknowledged and stored once", stored)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
