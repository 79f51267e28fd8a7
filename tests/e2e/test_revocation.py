"""A revoked key stops working in every running API process within a second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from application.bootstrap import Database
from tests.e2e.test_serve import free_port, wait_for_health


def status_with(base: str, token: str) -> int:
    request = urllib.request.Request(
        f"{base}/v1/dossiers?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_key_revoked_from_the_command_line_gets_401_everywhere_within_a_second(
    database: Database, tmp_path: Path
) -> None:
    env = {"LEDGER_DATABASE_URL": database.url, "LEDGER_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    issued = runner.invoke(main, ["keys", "issue", "--role", "inspector"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.output.splitlines()[-1]
    port = free_port()
    ledger = Path(sys.executable).parent / "ledger"
    server = subprocess.Popen(
        [str(ledger), "serve", "--port", str(port), "--workers", "2"],
        env=dict(os.environ, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        # Each request on a new connection: both workers have the key in their caches.
        assert [status_with(base, token) for _ in range(20)] == [200] * 20
        revoked = runner.invoke(main, ["keys", "revoke", token.split("_")[1]], env=env)
        assert revoked.exit_code == 0, revoked.output
        revoked_at = time.monotonic()
        time.sleep(max(0.0, revoked_at + 1.0 - time.monotonic()))
        assert [status_with(base, token) for _ in range(20)] == [401] * 20
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()
