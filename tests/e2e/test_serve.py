"""`ledger serve` as operators start it: several API processes sharing one database."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgspec

from application.bootstrap import Database
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(database: Database, tmp_path: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """`ledger serve --workers N` on a free port of its own, as an operator starts it."""
    port = free_port()
    env = dict(os.environ, LEDGER_DATABASE_URL=database.url, LEDGER_DATA_DIR=str(tmp_path))
    ledger = Path(sys.executable).parent / "ledger"
    server = subprocess.Popen(
        [str(ledger), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return server, port


def wait_for_health(base: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "ledger serve exited while starting"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    raise AssertionError("ledger serve did not answer /health")


def post_retrying(request: urllib.request.Request, attempts: int = 5) -> tuple[int, dict]:
    """POST as an integrator does: a 503 (a worker still starting on a busy machine) is sent
    again after its Retry-After, with the same event_id."""
    for _ in range(attempts - 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, msgspec.json.decode(answer.read())
        except urllib.error.HTTPError as error:
            if error.code != 503:
                raise
            time.sleep(float(error.headers.get("Retry-After", "1")))
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, msgspec.json.decode(answer.read())


def test_four_workers_start_together_and_share_the_ledger(
    database: Database, tmp_path: Path
) -> None:
    runtime = Runtime.start(Settings(database_url=database.url, data_dir=tmp_path))
    try:
        _, token = runtime.keys.issue(Role.HANDLER, ("000.00.31.H56",), "tn")
    finally:
        runtime.close()
    server, port = serve(database, tmp_path, workers=4)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        versions = []
        for serial in range(1, 9):
            code = f"000.00.31.H56-260213-{serial:04d}"
            body = {
                "event_id": f"serve-{serial}",
                "type": "Received",
                "occurred_at": "2026-02-13T10:00:00+07:00",
                "actor": {"id": "cb-1", "role": "officer"},
                "data": {
                    "procedure_code": "1.001757",
                    "channel": "online",
                    "lookup_secret": "7KQ4M2",
                },
            }
            request = urllib.request.Request(
                f"{base}/v1/dossiers/{code}/events",
                data=msgspec.json.encode(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                method="POST",
            )
            status, answer = post_retrying(request)
            assert status == 201
            versions.append(answer["version"])
        assert versions == [1] * 8
    finally:
        server.send_signal(signal.SIGTERM)
        printed, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()
    assert f"listening on {base}" in printed.decode()  # and where the pages are
    assert f"{base}/inspect" in printed.decode() and f"{base}/dashboard" in printed.decode()
    assert b"Traceback" not in errors, errors.decode()


def _workers(pid: int) -> list[int]:
    """The API workers of `ledger serve` `pid` (multiprocessing's resource tracker is its child
    too)."""
    return [
        child
        for child in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state
                found.append(int(entry.name))
    return found


def _established_on(pid: int, port: int) -> int:
    """How many of `pid`'s descriptors are TCP connections accepted on local `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    held = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def test_two_workers_are_dealt_kept_alive_connections_evenly(
    database: Database, tmp_path: Path
) -> None:
    """32 clients that keep their connections open (as wrk, or a handling system's pool) are
    served 16 by each worker: a worker with more answers them later than the other would."""
    server, port = serve(database, tmp_path, workers=2)
    base = f"http://127.0.0.1:{port}"
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
    try:
        wait_for_health(base, server)
        _all_healthy(clients)
        counts = sorted(_established_on(pid, port) for pid in _workers(server.pid))
        assert counts == [16, 16]
    finally:
        errors = _stop(server, clients)
    assert server.returncode == 0, errors.decode()
    assert b"Traceback" not in errors, errors.decode()


def _all_healthy(clients: list[http.client.HTTPConnection]) -> None:
    for client in clients:
        client.request("GET", "/health")
        answer = client.getresponse()
        answer.read()
        assert answer.status == 200


def _stop(server: subprocess.Popen[bytes], clients: list[http.client.HTTPConnection]) -> bytes:
    """Close the clients, stop the server with SIGTERM; its standard error."""
    for client in clients:
        client.close()
    server.send_signal(signal.SIGTERM)
    _, errors = server.communicate(timeout=30)
    return errors


def test_a_killed_worker_is_replaced_and_new_connections_are_served_meanwhile(
    database: Database, tmp_path: Path
) -> None:
    server, port = serve(database, tmp_path, workers=2)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        first = _workers(server.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        for _ in range(10):  # each a new connection: none may be dealt to the dead worker
            with urllib.request.urlopen(f"{base}/health", timeout=10) as answer:
                assert answer.status == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _workers(server.pid)
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the killed worker was not replaced: {first} -> {now}")
        wait_for_health(base, server)
    finally:
        errors = _stop(server, [])
    assert server.returncode == 0, errors.decode()


def test_connections_dealt_to_a_worker_that_dies_before_adopting_them_are_served_by_another(
    database: Database, tmp_path: Path
) -> None:
    """The race of a worker killed between the parent's handover and its own receive, made
    certain: a stopped worker is dealt connections it cannot adopt, then killed."""
    server, port = serve(database, tmp_path, workers=2)
    base = f"http://127.0.0.1:{port}"
    clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(4)]
    try:
        wait_for_health(base, server)
        workers = _workers(server.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGSTOP)
        for client in clients:  # dealt in turn: two of them to the stopped worker
            client.connect()
        time.sleep(1)  # the parent has dealt them all by now
        os.kill(workers[0], signal.SIGKILL)
        _all_healthy(clients)
    finally:
        errors = _stop(server, clients)
    assert server.returncode == 0, errors.decode()
