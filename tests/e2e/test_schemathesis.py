"""schemathesis against `ledger serve`, as an outside tester runs it: every operation, with a
handler's, an inspector's, an admin's and no key, checking that nothing answers 5xx and that every
answer (status, content type, body) is one the OpenAPI document declares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from application.bootstrap import Database
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings
from tests.e2e.test_serve import free_port, wait_for_health

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
SECONDS_PER_KEY = 25  # four runs: about two minutes in all


@pytest.fixture(scope="module")
def served(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("schemathesis")
    runtime = Runtime.start(Settings(database_url=database.url, data_dir=data_dir))
    try:
        tokens = {
            "handler": runtime.keys.issue(Role.HANDLER, ("000.00.31.H56",), "st-handler")[1],
            "inspector": runtime.keys.issue(Role.INSPECTOR, (), "st-inspector")[1],
            "admin": runtime.keys.issue(Role.ADMIN, (), "st-admin")[1],
        }
    finally:
        runtime.close()
    port = free_port()
    env = dict(
        os.environ,
        LEDGER_DATABASE_URL=database.url,
        LEDGER_DATA_DIR=str(data_dir),
        LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE="100000",
    )
    ledger = Path(sys.executable).parent / "ledger"
    server = subprocess.Popen(
        [str(ledger), "serve", "--port", str(port), "--projections"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        yield base, tokens
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert b"Traceback" not in errors, errors.decode()[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["handler", "inspector", "admin", "nobody"])
def test_schemathesis_finds_no_failure(
    served: tuple[str, dict[str, str]], who: str, tmp_path: Path
) -> None:
    base, tokens = served
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--max-time",
        str(SECONDS_PER_KEY),
        "--max-examples",
        "30",
        "--seed",
        "20261201",
        "--workers",
        "1",  # CPython 3.11.7 can fail parsing code in several threads at once (gh-106905)
        "--request-timeout",
        "10",
        "--warnings",
        "off",
        "--report-dir",
        str(tmp_path),
    ]
    if who in tokens:
        command += ["--header", f"Authorization: Bearer {tokens[who]}"]
    run = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=SECONDS_PER_KEY * 4
    )
    (tmp_path / "st-output.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
