"""When PostgreSQL cannot be reached, writes answer 503 and nothing is half-written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg import sql

from api.app import create_app
from application.bootstrap import migrate
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.anyio
CODE = "000.00.31.H56-260213-0001"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def own_database(postgres_url: str) -> Iterator[str]:
    url = create_database(postgres_url, "t_unavailable")
    migrate(url, "ledger_app")
    yield url
    drop_database(postgres_url, "t_unavailable")


@pytest.fixture(scope="module")
def runtime(own_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    data_dir: Path = tmp_path_factory.mktemp("unavailable")
    started = Runtime.start(Settings(database_url=own_database, data_dir=data_dir, pool_size=2))
    yield started
    started.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


def received(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-1", "role": "officer"},
        "data": {"procedure_code": "1.001757", "channel": "online", "lookup_secret": "7KQ4M2"},
    }


def set_connections(postgres_url: str, allowed: bool) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE t_unavailable ALLOW_CONNECTIONS {}").format(
                sql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 't_unavailable' AND pid <> pg_backend_pid()"
            )


async def wait_until_ready(client: AsyncTestClient, seconds: float = 3.0) -> None:  # type: ignore[type-arg]
    """The probe notices the database again within a second."""
    deadline = time.monotonic() + seconds
    while (await client.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, "the ledger did not notice the database again"
        await asyncio.sleep(0.05)


async def test_a_write_answers_503_while_the_database_is_down_and_works_after(
    client: AsyncTestClient,
    runtime: Runtime,
    postgres_url: str,
    own_database: str,  # type: ignore[type-arg]
) -> None:
    _, token = runtime.keys.issue(Role.HANDLER, ("000.00.31.H56",), "tn")
    headers = {"Authorization": f"Bearer {token}"}
    await client.get("/health")  # the key is now cached: the outage hits the write itself
    assert (
        await client.post(f"/v1/dossiers/{CODE}/events", json=received("u-0"), headers=headers)
    ).status_code == 201
    set_connections(postgres_url, allowed=False)
    try:
        down = await client.post(
            f"/v1/dossiers/{CODE}/events",
            json={**received("u-1"), "type": "Annotated", "data": {"note": "n"}},
            headers=headers,
        )
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("application/problem+json")
        assert down.json()["rule"] == "database_unavailable"
        assert "Traceback" not in down.text and "psycopg" not in down.text
        assert (await client.get("/health")).status_code == 503
        started = time.monotonic()
        ready = await client.get("/health/ready")
        assert time.monotonic() - started < 0.1
        assert (ready.status_code, ready.json()["reasons"]) == (503, ["database_unavailable"])
        started = time.monotonic()
        fast = await client.get(f"/v1/dossiers/{CODE}/history", headers=headers)
        assert time.monotonic() - started < 0.05  # known down: answered without waiting
        assert (fast.status_code, fast.json()["rule"]) == (503, "database_unavailable")
        assert fast.headers["retry-after"] == "2"
    finally:
        set_connections(postgres_url, allowed=True)
    await wait_until_ready(client)
    again = await client.post(
        f"/v1/dossiers/{CODE}/events",
        json={**received("u-1"), "type": "Annotated", "data": {"note": "n"}},
        headers=headers,
    )
    assert again.status_code == 201, again.text
    assert again.json()["version"] == 2
    with psycopg.connect(own_database) as connection:
        count = connection.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert count == (2,)
