"""The HTTP API against a real PostgreSQL: one runtime per module, one client per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from application.bootstrap import Database
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings

AGENCY = "000.00.31.H56"
OTHER_AGENCY = "000.00.13.H56"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("ledger-data")
    return Settings(
        database_url=database.url,
        data_dir=data_dir,
        max_body_bytes=1_000_000,
        public_rate_limit_per_minute=40,
    )


@pytest.fixture(scope="module")
def runtime(settings: Settings) -> Iterator[Runtime]:
    started = Runtime.start(settings)
    yield started
    started.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(runtime.settings, runtime=runtime, run_projections=True)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def handler_headers(runtime: Runtime) -> dict[str, str]:
    _, token = runtime.keys.issue(Role.HANDLER, (AGENCY,), "one-stop-system")
    return bearer(token)


@pytest.fixture(scope="module")
def inspector_headers(runtime: Runtime) -> dict[str, str]:
    _, token = runtime.keys.issue(Role.INSPECTOR, (), "inspectorate")
    return bearer(token)
