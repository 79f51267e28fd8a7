"""Fixtures the integration modules share: the module's ledger and its audit log view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.bootstrap import Database, open_ledger
from application.ledger import DossierLedger
from projections.audit_log import AuditLogView, open_audit_log


@pytest.fixture(scope="module")
def ledger(database: Database) -> Iterator[DossierLedger]:
    app = open_ledger(database, pool_size=2)
    yield app
    app.close()


@pytest.fixture(scope="module")
def view(database: Database) -> Iterator[AuditLogView]:
    opened = open_audit_log(database.ledger_env(pool_size=2))
    yield opened
    opened.datastore.close()
