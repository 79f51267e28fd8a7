"""How long each page takes to answer, with the demo data of `make run` (2,400 dossiers).

A `ledger serve --projections` process on an embedded PostgreSQL (or --database-url); one client
asks each page in turn, one request at a time (what a person waits for), and prints the median,
the 95th percentile and the slowest answer. Run with `.venv/bin/python bench/pages.py`.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from application.bootstrap import migrate
from application.demo import load_demo
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings
from bench.common import BenchDatabase, print_table


class Client:
    """One keep-alive connection with a cookie jar of its own."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.origin = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin}
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        answer = self.connection.getresponse()
        text = answer.read().decode()
        elapsed = time.perf_counter() - started
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return answer.status, text, elapsed


def wait_until_ready(client: Client, token: str, head: int, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.connection.request(
                "GET", "/v1/audit/checkpoint", headers={"Authorization": f"Bearer {token}"}
            )
            answer = client.connection.getresponse()
            note = answer.read().decode()
            if answer.status == 200 and int(note.split("\n")[1]) >= head:
                return
        except (OSError, http.client.HTTPException):
            client.connection.close()
        time.sleep(0.5)
    raise SystemExit("the projections did not catch up")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=2400)
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", help="a PostgreSQL superuser URL (default: embedded)")
    args = parser.parse_args()
    with BenchDatabase(args.database_url, "pages") as db:
        database = migrate(db.url, "ledger_app")
        settings = Settings(database_url=database.url, data_dir=db.data_dir)
        runtime = Runtime.start(settings)
        started = time.perf_counter()
        report = load_demo(runtime, dossiers=args.dossiers, progress=True)
        print(
            f"demo: {report.dossiers} dossiers, {report.events} events in {time.perf_counter() - started:.1f} s"
        )
        _, token = runtime.keys.issue(Role.INSPECTOR, (), "bench")
        head = runtime.ledger.recorder.max_notification_id() or 0
        runtime.close()
        env = dict(
            os.environ,
            LEDGER_DATABASE_URL=db.url,
            LEDGER_DATA_DIR=str(db.data_dir),
            LEDGER_PUBLIC_RATE_LIMIT_PER_MINUTE="0",
        )
        ledger = Path(sys.executable).parent / "ledger"
        server = subprocess.Popen(
            [str(ledger), "serve", "--port", str(args.port), "--projections"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            client = Client(args.port)
            time.sleep(2)
            wait_until_ready(client, token, head)
            rows = measure(client, token, report.samples, args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"\nPostgreSQL {db.server_version}, {report.dossiers} demo dossiers, {args.requests} requests per page, one at a time"
    )
    print_table(rows)


def measure(
    client: Client, token: str, samples: list[tuple[str, str]], count: int
) -> list[tuple[str, ...]]:
    code, secret = samples[0]
    _, form, _ = client.request("GET", "/inspect/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    status, _, _ = client.request(
        "POST", "/inspect/sign-in", {"key": token, "csrf": csrf.group(1), "next": "/inspect"}
    )
    assert status == 303, status
    pages = [
        ("GET /  (lookup form)", "GET", "/", None),
        ("POST /lookup  (an answer)", "POST", "/lookup", {"code": code, "secret": secret}),
        ("GET /inspect  (list, 25 rows)", "GET", "/inspect", None),
        ("GET /inspect?timeliness=overdue", "GET", "/inspect?timeliness=overdue", None),
        ("GET /inspect/dossiers/CODE  (timeline)", "GET", f"/inspect/dossiers/{code}", None),
        ("GET …/CODE/bundle.json  (proofs)", "GET", f"/inspect/dossiers/{code}/bundle.json", None),
        ("GET /dashboard  (12 months)", "GET", "/dashboard", None),
        ("GET /dashboard/csv/procedures", "GET", "/dashboard/csv/procedures", None),
        ("GET /static/htmx.min.js", "GET", "/static/htmx.min.js", None),
    ]
    rows = [("page", "status", "median ms", "p95 ms", "max ms")]
    for name, method, path, form_data in pages:
        times = []
        statuses = set()
        for _ in range(count):
            status, _, elapsed = client.request(method, path, form_data)
            statuses.add(status)
            times.append(elapsed * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        rows.append(
            (
                name,
                ",".join(map(str, sorted(statuses))),
                f"{statistics.median(times):.1f}",
                f"{p95:.1f}",
                f"{times[-1]:.1f}",
            )
        )
    return rows


if __name__ == "__main__":
    main()
