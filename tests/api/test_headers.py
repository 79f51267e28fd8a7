"""Headers on every answer: nosniff everywhere, no-store on what is not public, one charset."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio
_serials = itertools.count(1)
SECRET = "7KQ4M2"


def received(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": SECRET},
    }


def assert_private(answer: Any) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff", answer.headers
    assert answer.headers["cache-control"] == "no-store", answer.headers


def assert_not_private(answer: Any) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff", answer.headers
    assert "no-store" not in answer.headers.get("cache-control", ""), answer.headers


async def test_every_answer_under_v1_is_no_store_and_nosniff_whatever_made_it(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],
) -> None:
    code = f"{AGENCY}-260213-{next(_serials) + 7000:04d}"
    posted = await client.post(
        f"/v1/dossiers/{code}/events?consistent=true",
        json=received(f"headers-{code}"),
        headers=handler_headers,
    )
    assert posted.status_code == 201, posted.text
    assert_private(posted)
    public = await client.get(f"/v1/public/dossiers/{code}", headers={"X-Lookup-Secret": SECRET})
    assert public.status_code == 200, public.text
    assert_private(public)  # a person's dossier: no shared cache keeps it
    answers = [
        await client.get(f"/v1/dossiers/{code}", headers=inspector_headers),
        await client.get(f"/v1/dossiers/{code}/history", headers=inspector_headers),
        await client.get("/v1/dossiers", params={"format": "csv"}, headers=inspector_headers),
        await client.get("/v1/dossiers"),  # 401 from a guard
        await client.get(f"/v1/dossiers/{code}", headers=handler_headers),  # 403
        await client.get("/v1/no-such-thing"),  # 404 from the router
        await client.delete(f"/v1/dossiers/{code}", headers=inspector_headers),  # 405
        await client.get(
            f"/v1/public/dossiers/{AGENCY}-260213-9999", headers={"X-Lookup-Secret": SECRET}
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 403, 404, 405, 404]
    for answer in answers:
        assert_private(answer)


async def test_answers_outside_v1_are_nosniff_and_may_be_cached(
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    for path in ("/health", "/schema/openapi.json", "/metrics", "/no-such-page"):
        assert_not_private(await client.get(path))


async def test_metrics_are_prometheus_text_with_one_charset(
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    # Prometheus's text format 1.0.0, as prometheus_client names it: the charset once.
    assert scraped.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
