"""Writers that keep losing the race for a dossier: a bounded number of attempts, then 503
`write_contention` with Retry-After, nothing stored; the sender's retry goes through.

PostgreSQL itself refuses the dossier's appends here (a trigger raising unique_violation, as a
version taken by another writer does), attempt after attempt."""

from __future__ import annotations

import time

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from application.bootstrap import Database
from domain.code import DossierCode
from domain.dossier import dossier_id
from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio
CODE = f"{AGENCY}-260213-7001"

CONTEND = """
CREATE FUNCTION contend() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.originator_id = '{dossier}' THEN
        RAISE unique_violation USING MESSAGE = 'another writer took this version';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER contend BEFORE INSERT ON ledger_events FOR EACH ROW EXECUTE FUNCTION contend();
"""


def received(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-1", "role": "officer"},
        "data": {"procedure_code": "1.001757", "channel": "online", "lookup_secret": "7KQ4M2"},
    }


async def test_endless_conflicts_answer_503_write_contention_and_a_retry_succeeds(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    database: Database,
) -> None:
    dossier = dossier_id(DossierCode.parse(CODE))
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(CONTEND.replace("{dossier}", str(dossier)))
    try:
        started = time.monotonic()
        refused = await client.post(
            f"/v1/dossiers/{CODE}/events", json=received("wc-1"), headers=handler_headers
        )
        seconds = time.monotonic() - started
        with psycopg.connect(database.url) as connection:
            stored = connection.execute(
                "SELECT count(*) FROM ledger_events WHERE originator_id = %s", (dossier,)
            ).fetchone()
    finally:
        with psycopg.connect(database.url, autocommit=True) as connection:
            connection.execute("DROP TRIGGER contend ON ledger_events")
            connection.execute("DROP FUNCTION contend()")
    assert refused.status_code == 503, refused.text
    assert refused.json()["rule"] == "write_contention"
    assert refused.headers["retry-after"] == "1"
    assert stored == (0,)
    assert seconds < 2.0  # bounded: a few short pauses, then the answer
    again = await client.post(
        f"/v1/dossiers/{CODE}/events", json=received("wc-1"), headers=handler_headers
    )
    assert again.status_code == 201, again.text
    assert again.json()["version"] == 1
