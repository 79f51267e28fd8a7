"""`ledger serve` believes X-Forwarded-For only from the proxies it is told to trust."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import msgspec

from application.bootstrap import Database
from tests.e2e.test_serve import free_port, wait_for_health

LIMIT = 5
UNKNOWN = "/v1/public/dossiers/000.00.31.H56-260213-0001"


@contextmanager
def serving(database: Database, tmp_path: Path, **settings: str) -> Iterator[str]:
    """A `ledger serve` with these LEDGER_ settings; its base URL."""
    port = free_port()
    env = dict(
        os.environ,
        LEDGER_DATABASE_URL=database.url,
        LEDGER_DATA_DIR=str(tmp_path),
        LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE=str(LIMIT),
        **{f"LEDGER_{name.upper()}": value for name, value in settings.items()},
    )
    env.pop("FORWARDED_ALLOW_IPS", None)
    ledger = Path(sys.executable).parent / "ledger"
    server = subprocess.Popen(
        [str(ledger), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()


def lookup(base: str, forwarded_for: str) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(
        base + UNKNOWN, headers={"X-Lookup-Secret": "7KQ4M2", "X-Forwarded-For": forwarded_for}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_by_default_a_forwarded_address_does_not_dodge_the_public_rate_limit(
    database: Database, tmp_path: Path
) -> None:
    with serving(database, tmp_path) as base:
        answers = [lookup(base, f"203.0.113.{n}") for n in range(1, LIMIT + 3)]
    assert [status for status, _, _ in answers] == [404] * LIMIT + [429] * 2
    _, headers, body = answers[-1]
    assert headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(headers["Retry-After"]) <= 60
    problem = msgspec.json.decode(body)
    assert problem["status"] == 429 and problem["rule"] == "too_many_requests"


def test_behind_a_trusted_proxy_the_limit_counts_each_forwarded_address(
    database: Database, tmp_path: Path
) -> None:
    with serving(database, tmp_path, trusted_proxies="127.0.0.1") as base:
        many = [lookup(base, f"203.0.113.{n}")[0] for n in range(1, LIMIT + 3)]
        one = [lookup(base, "198.51.100.7")[0] for _ in range(LIMIT + 2)]
    assert many == [404] * (LIMIT + 2)
    assert one == [404] * LIMIT + [429] * 2
