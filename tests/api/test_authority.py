"""Who may post for which dossier: a key's agency covers itself and the agencies below it."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.keys import CACHE_SECONDS, ApiKeys, Role
from application.runtime import Runtime
from tests.api.conftest import bearer

pytestmark = pytest.mark.anyio
_serials = itertools.count(1)


def received(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"},
    }


async def post_for(client: AsyncTestClient, agency: str, token: str) -> int:  # type: ignore[type-arg]
    serial = next(_serials)
    answer = await client.post(
        f"/v1/dossiers/{agency}-260213-{serial:04d}/events",
        json=received(f"authority-{serial}"),
        headers=bearer(token),
    )
    if answer.status_code == 403:
        assert answer.json()["rule"] == "agency_not_allowed"
    return answer.status_code


def a_key_stored_before_agencies_were_checked(runtime: Runtime, agency: str) -> str:
    """A handler key as `keys issue` wrote it before it checked agency codes."""
    token = f"dl_old_{agency.encode().hex()}"
    with runtime.keys.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            "INSERT INTO ledger_api_keys (key_id, key_digest, name, role, agencies) "
            "VALUES (%s, %s, %s, 'handler', %s)",
            (f"old-{agency or 'empty'}", hashlib.sha256(token.encode()).digest(), "old", [agency]),
        )
    return token


async def test_a_province_key_posts_for_every_agency_of_the_province_and_no_other(
    client: AsyncTestClient,  # type: ignore[type-arg]
    runtime: Runtime,
) -> None:
    _, token = runtime.keys.issue(Role.HANDLER, ("000.00.00.H56",), "province")
    assert await post_for(client, "000.00.00.H56", token) == 201
    assert await post_for(client, "000.00.31.H56", token) == 201
    assert await post_for(client, "000.17.22.H56", token) == 201
    assert await post_for(client, "000.00.00.H01", token) == 403
    assert await post_for(client, "000.00.16.G04", token) == 403


async def test_a_department_key_posts_below_the_department_only(
    client: AsyncTestClient,  # type: ignore[type-arg]
    runtime: Runtime,
) -> None:
    _, token = runtime.keys.issue(Role.HANDLER, ("000.00.31.H56",), "department")
    assert await post_for(client, "000.20.31.H56", token) == 201
    assert await post_for(client, "000.00.13.H56", token) == 403
    assert await post_for(client, "000.00.00.H56", token) == 403
    assert await post_for(client, "000.00.31.H01", token) == 403


@pytest.mark.parametrize("agency", ["000.00.31.H5", "000", ""])
async def test_a_key_stored_with_an_invalid_agency_still_loads_and_covers_nothing(
    client: AsyncTestClient,  # type: ignore[type-arg]
    runtime: Runtime,
    agency: str,
) -> None:
    token = a_key_stored_before_agencies_were_checked(runtime, agency)
    assert any(key.agencies == (agency,) for key in runtime.keys.list())
    for covered_by_prefix in ("000.00.31.H56", "000.17.22.H56", "000.00.00.H01"):
        assert await post_for(client, covered_by_prefix, token) == 403


async def test_keys_cannot_be_issued_for_what_is_not_an_agency_code(runtime: Runtime) -> None:
    for agency in ("000", "", "000.00.31.H5", "000.00.31.h56"):
        with pytest.raises(ValueError, match="agency"):
            runtime.keys.issue(Role.HANDLER, (agency,), "refused")


async def test_concurrent_requests_with_a_key_not_in_the_cache_look_it_up_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = runtime.keys.issue(Role.INSPECTOR, (), "busy-inspector")
    lookups = count_lookups(monkeypatch)
    keys = await asyncio.gather(*(runtime.keys.authenticate_async(token) for _ in range(20)))
    assert {key.name for key in keys if key is not None} == {"busy-inspector"}
    assert lookups == [token]


async def test_a_cached_key_is_not_looked_up_again_per_request(
    client: AsyncTestClient,  # type: ignore[type-arg]
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, token = runtime.keys.issue(Role.INSPECTOR, (), "steady-inspector")
    lookups = count_lookups(monkeypatch)
    started = time.monotonic()
    answers = [await client.get("/v1/dossiers?limit=1", headers=bearer(token)) for _ in range(30)]
    elapsed = time.monotonic() - started
    assert [a.status_code for a in answers] == [200] * 30
    # One lookup, then one each time the cache's freshness runs out.
    assert len(lookups) <= 1 + elapsed / CACHE_SECONDS
    assert CACHE_SECONDS <= 1.0


def count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens looked up in the database from now on."""
    lookups: list[str] = []
    authenticate = ApiKeys.authenticate

    def counted(keys: ApiKeys, text: str) -> Any:
        if not keys.cached(text)[0]:
            lookups.append(text)
        return authenticate(keys, text)

    monkeypatch.setattr(ApiKeys, "authenticate", counted)
    return lookups
