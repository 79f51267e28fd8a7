"""The public lookup tells nothing about which dossiers exist, not even by how long it takes."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.secrets import LookupSecrets
from projections.public_lookup import PublicLookups
from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio
SECRET = "7KQ4M2"


def received(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": SECRET},
    }


def record_the_work(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What a lookup does, step by step: the read, the keyed digest, the comparison."""
    steps: list[Any] = []
    get, digest, compare = PublicLookups.get, LookupSecrets.digest, hmac.compare_digest

    async def counted_get(lookups: PublicLookups, code: str) -> Any:
        steps.append("read")
        return await get(lookups, code)

    def counted_digest(secrets: LookupSecrets, secret: str) -> str:
        steps.append("digest")
        return digest(secrets, secret)

    def counted_compare(a: Any, b: Any) -> bool:
        steps.append(("compare", len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(PublicLookups, "get", counted_get)
    monkeypatch.setattr(LookupSecrets, "digest", counted_digest)
    monkeypatch.setattr(hmac, "compare_digest", counted_compare)
    return steps


async def test_an_unknown_or_malformed_code_does_the_work_of_a_wrong_secret(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = f"{AGENCY}-260213-8801"
    posted = await client.post(
        f"/v1/dossiers/{code}/events?consistent=true",
        json=received("lookup-1"),
        headers=handler_headers,
    )
    assert posted.status_code == 201, posted.text
    steps = record_the_work(monkeypatch)
    work = {}
    for case, path_code, secret in [
        ("wrong secret", code, "WRONG1"),
        ("unknown code", f"{AGENCY}-260213-8802", SECRET),
        ("malformed code", "000.00.31.h56-260213-8801", SECRET),
        ("not a code", "nothing-here", SECRET),
    ]:
        steps.clear()
        answer = await client.get(
            f"/v1/public/dossiers/{path_code}", headers={"X-Lookup-Secret": secret}
        )
        assert answer.status_code == 404, (case, answer.text)
        work[case] = list(steps)
    expected = ["read", "digest", ("compare", 64, 64)]
    assert work == dict.fromkeys(work, expected)
