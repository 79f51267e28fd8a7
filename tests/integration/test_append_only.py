"""The events table is append-only in PostgreSQL itself, whatever the application does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from application.bootstrap import Database, open_ledger
from application.ledger import DossierLedger


@pytest.fixture(scope="module")
def ledger(database: Database) -> Iterator[DossierLedger]:
    app = open_ledger(database, pool_size=2)
    stored = StoredEvent(uuid.uuid4(), 1, "tests:Something", b'{"a":1}')
    app.recorder.insert_events([stored])
    yield app
    app.close()


CHANGES = [
    "UPDATE ledger_events SET state = 'x'::bytea",
    "DELETE FROM ledger_events",
    "TRUNCATE ledger_events",
]


@pytest.mark.parametrize("statement", CHANGES)
def test_the_application_role_cannot_change_or_remove_events(
    ledger: DossierLedger, statement: str
) -> None:
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as connection:
        role = connection.execute("SELECT current_user AS role").fetchone()
        assert role is not None and role["role"] == "ledger_app"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(statement)


def test_the_application_role_can_append_and_read(ledger: DossierLedger) -> None:
    originator = uuid.uuid4()
    ids = ledger.recorder.insert_events([StoredEvent(originator, 1, "tests:Other", b"{}")])
    assert ids and len(ids) == 1
    assert [e.originator_version for e in ledger.recorder.select_events(originator)] == [1]


@pytest.mark.parametrize("statement", CHANGES)
def test_even_the_owner_is_refused_by_the_trigger(
    ledger: DossierLedger, database: Database, statement: str
) -> None:
    with psycopg.connect(database.url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            connection.execute(statement)
        count = connection.execute("SELECT count(*) FROM ledger_events").fetchone()
        assert count is not None and count[0] >= 1
