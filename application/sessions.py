"""Inspectors' browser sessions: an API key exchanged once for a session cookie.

The cookie carries a random token; the ledger stores only its SHA-256 digest, the key it was
opened with and its expiry. A session ends at sign-out, at expiry (8 hours), or as soon as its
key is revoked (every check reads the key's state), whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from eventsourcing.postgres import PostgresDatastore

from application.keys import ApiKey, Role

SESSION_LIFETIME: Final = timedelta(hours=8)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_page_sessions (
    session_digest bytea PRIMARY KEY,
    key_id text NOT NULL REFERENCES ledger_api_keys (key_id),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz
)
"""

PAGE_ROLES: Final = (Role.INSPECTOR, Role.ADMIN)
"""Keys that may sign in to the inspectors' pages."""


@dataclass(frozen=True)
class PageSession:
    key: ApiKey
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class PageSessions:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SCHEMA)

    def open(self, key: ApiKey) -> tuple[str, PageSession]:
        """A new session for an authenticated key: the cookie's token (once) and the session."""
        if key.role not in PAGE_ROLES:
            msg = f"a {key.role.value} key cannot sign in to the inspectors' pages"
            raise PermissionError(msg)
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(24)
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "INSERT INTO ledger_page_sessions (session_digest, key_id, csrf_token, expires_at)"
                " VALUES (%s, %s, %s, now() + %s) RETURNING expires_at",
                (_digest(token), key.key_id, csrf_token, SESSION_LIFETIME),
            )
            row = cursor.fetchone()
        assert row is not None
        return token, PageSession(key, csrf_token, row["expires_at"])

    def find(self, token: str) -> PageSession | None:
        """The live session of this token: not ended, not expired, its key not revoked."""
        with self.datastore.transaction() as cursor:
            cursor.execute(
                "SELECT k.key_id, k.name, k.role, k.agencies, k.created_at, k.revoked_at,"
                " s.csrf_token, s.expires_at FROM ledger_page_sessions s"
                " JOIN ledger_api_keys k USING (key_id)"
                " WHERE s.session_digest = %s AND s.ended_at IS NULL"
                " AND s.expires_at > now() AND k.revoked_at IS NULL",
                (_digest(token),),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        key = ApiKey(
            key_id=row["key_id"],
            name=row["name"],
            role=Role(row["role"]),
            agencies=tuple(row["agencies"]),
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
        )
        return PageSession(key, row["csrf_token"], row["expires_at"])

    def end(self, token: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "UPDATE ledger_page_sessions SET ended_at = now()"
                " WHERE session_digest = %s AND ended_at IS NULL",
                (_digest(token),),
            )
