"""Health as orchestrators use it: answered from memory, within 100 ms, whatever the database."""

from __future__ import annotations

import time

import pytest
from litestar.testing import AsyncTestClient

from application.runtime import Runtime

pytestmark = pytest.mark.anyio


async def test_live_and_ready_answer_200_with_the_figures(
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    live = await client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert (body["status"], body["reasons"], body["database"], body["writer"]) == (
        "ready",
        [],
        "ok",
        "running",
    )
    assert set(body["projections"]) == {
        "dossier_status",
        "public_lookup",
        "timeliness",
        "audit_log",
        "steps",
    }
    assert all(figures["lag"] >= 0 for figures in body["projections"].values())


async def test_ready_names_a_full_disk_and_answers_at_once(
    client: AsyncTestClient,  # type: ignore[type-arg]
    runtime: Runtime,
) -> None:
    monitor = runtime.monitor  # no disk to watch here (a database URL): these figures stay
    reserve = monitor.storage_reserve_bytes
    monitor.storage_free_bytes, monitor.storage_reserve_bytes = 1, 2
    try:
        started = time.monotonic()
        ready = await client.get("/health/ready")
        seconds = time.monotonic() - started
    finally:
        monitor.storage_reserve_bytes = reserve
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["storage_full"]
    assert seconds < 0.1
    assert (await client.get("/health/live")).status_code == 200


async def test_health_keeps_its_shape(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 3
    while (answer := await client.get("/health")).status_code != 200:
        assert time.monotonic() < deadline
    assert {"status", "database", "events", "projections"} <= set(answer.json())
