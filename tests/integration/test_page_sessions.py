"""Inspectors' browser sessions end at sign-out, at expiry, or when their key is revoked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from application.bootstrap import Database
from application.keys import ApiKeys, Role
from application.ledger import DossierLedger
from application.sessions import SESSION_LIFETIME, PageSessions


@pytest.fixture(scope="module")
def keys(ledger: DossierLedger) -> ApiKeys:
    return ApiKeys(ledger.factory.datastore)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sessions(ledger: DossierLedger, keys: ApiKeys) -> Iterator[PageSessions]:
    yield PageSessions(ledger.factory.datastore)  # type: ignore[attr-defined]


def test_a_session_lasts_eight_hours_and_ends_at_sign_out(
    keys: ApiKeys, sessions: PageSessions
) -> None:
    key, _ = keys.issue(Role.INSPECTOR, (), "inspector-a")
    token, opened = sessions.open(key)
    found = sessions.find(token)
    assert found is not None and found.key.key_id == key.key_id
    assert found.csrf_token == opened.csrf_token and len(found.csrf_token) >= 24
    assert timedelta(hours=8) == SESSION_LIFETIME
    sessions.end(token)
    assert sessions.find(token) is None


def test_an_expired_session_is_refused(
    keys: ApiKeys, sessions: PageSessions, database: Database
) -> None:
    key, _ = keys.issue(Role.ADMIN, (), "admin-a")
    token, _ = sessions.open(key)
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            "UPDATE ledger_page_sessions SET expires_at = now() - interval '1 second'"
        )
    assert sessions.find(token) is None


def test_revoking_the_key_ends_its_sessions(keys: ApiKeys, sessions: PageSessions) -> None:
    key, _ = keys.issue(Role.INSPECTOR, (), "inspector-b")
    token, _ = sessions.open(key)
    keys.revoke(key.key_id)
    assert sessions.find(token) is None


def test_a_handler_key_cannot_open_a_session(keys: ApiKeys, sessions: PageSessions) -> None:
    key, _ = keys.issue(Role.HANDLER, ("000.00.31.H56",), "one-stop")
    with pytest.raises(PermissionError):
        sessions.open(key)


def test_only_the_tokens_digest_is_stored(
    keys: ApiKeys, sessions: PageSessions, database: Database
) -> None:
    key, _ = keys.issue(Role.INSPECTOR, (), "inspector-c")
    token, _ = sessions.open(key)
    with psycopg.connect(database.url) as connection:
        rows = connection.execute("SELECT session_digest FROM ledger_page_sessions").fetchall()
    assert all(token.encode() not in bytes(row[0]) for row in rows)
