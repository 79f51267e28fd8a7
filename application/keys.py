"""API keys: bearer tokens stored as SHA-256 digests, with a role and, for handlers, agencies."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from domain.agency import AgencyCode, InvalidAgencyCode
from domain.code import DossierCode
from domain.errors import InvalidDossierCode

CACHE_SECONDS = 0.5
"""How long a process trusts what it read about a key: a revocation holds everywhere within it."""
_COVERED_AGENCIES = 1024
"""Agencies whose coverage one key remembers (a province has a few hundred)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_api_keys (
    key_id text PRIMARY KEY,
    key_digest bytea NOT NULL UNIQUE,
    name text NOT NULL,
    role text NOT NULL,
    agencies text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)
"""


class Role(StrEnum):
    HANDLER = "handler"
    INSPECTOR = "inspector"
    ADMIN = "admin"


class KeyError_(ValueError):  # noqa: N801 - KeyError is taken by the builtin
    """A key cannot be issued or revoked as asked."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: Role
    agencies: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def may_post_for(self, dossier_code: DossierCode | str) -> bool:
        """Handlers post for dossiers of their agencies and of the agencies below them."""
        if self.role is Role.ADMIN:
            return True
        if self.role is not Role.HANDLER:
            return False
        try:
            if not isinstance(dossier_code, DossierCode):
                dossier_code = DossierCode.parse(dossier_code)
        except InvalidDossierCode:
            return False
        agency = dossier_code.agency
        covered = self._covered.get(agency)
        if covered is None:  # judged once per agency (a batch asks for hundreds of dossiers)
            covered = self._covers(agency)
            if len(self._covered) < _COVERED_AGENCIES:
                self._covered[agency] = covered
        return covered

    def _covers(self, agency_text: str) -> bool:
        try:
            agency = AgencyCode.parse(agency_text)
        except InvalidAgencyCode:
            return False
        return any(scope.covers(agency) for scope in self.scopes)

    @cached_property
    def _covered(self) -> dict[str, bool]:
        return {}

    @cached_property
    def scopes(self) -> tuple[AgencyCode, ...]:
        """The agencies as codes; one stored before codes were checked, and now invalid, covers
        nothing."""
        scopes = []
        for text in self.agencies:
            try:
                scopes.append(AgencyCode.parse_scope(text))
            except InvalidAgencyCode:
                continue
        return tuple(scopes)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class ApiKeys:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self._cache: dict[bytes, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()
        self._lookups: dict[tuple[int, bytes], asyncio.Task[ApiKey | None]] = {}
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SCHEMA)

    def issue(
        self, role: Role, agencies: tuple[str, ...] = (), name: str = ""
    ) -> tuple[ApiKey, str]:
        """A new key; the token is returned once and never stored."""
        if role is Role.HANDLER and not agencies:
            msg = "a handler key needs at least one --agency code"
            raise KeyError_(msg)
        if role is not Role.HANDLER and agencies:
            msg = f"agencies apply to handler keys only, not to {role.value}"
            raise KeyError_(msg)
        for agency in agencies:
            try:
                AgencyCode.parse_scope(agency)
            except InvalidAgencyCode as error:
                raise KeyError_(f"--agency: {error}") from None
        key_id = secrets.token_hex(4)
        token = f"dl_{key_id}_{secrets.token_urlsafe(32)}"
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "INSERT INTO ledger_api_keys (key_id, key_digest, name, role, agencies) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING *",
                (
                    key_id,
                    _digest(token),
                    name or f"{role.value}-{key_id}",
                    role.value,
                    list(agencies),
                ),
            )
            row = cursor.fetchone()
        assert row is not None
        return _key(row), token

    def revoke(self, key_id: str) -> ApiKey:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "UPDATE ledger_api_keys SET revoked_at = coalesce(revoked_at, now()) "
                "WHERE key_id = %s RETURNING *",
                (key_id,),
            )
            row = cursor.fetchone()
        if row is None:
            msg = f"no key with id {key_id!r}"
            raise KeyError_(msg)
        with self._lock:
            self._cache.clear()
        return _key(row)

    def list(self) -> list[ApiKey]:
        with self.datastore.transaction() as cursor:
            cursor.execute("SELECT * FROM ledger_api_keys ORDER BY created_at, key_id")
            return [_key(row) for row in cursor.fetchall()]

    def cached(self, token: str) -> tuple[bool, ApiKey | None]:
        """(True, key or None) when this token's answer is fresh in memory, else (False, None)."""
        with self._lock:
            cached = self._cache.get(_digest(token))
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return True, cached[1]
        return False, None

    async def authenticate_async(self, token: str) -> ApiKey | None:
        """`authenticate` on an event loop: a cached key without leaving the loop; otherwise
        one lookup in a worker thread, however many requests ask for the key meanwhile."""
        known, key = self.cached(token)
        if known:
            return key
        loop = asyncio.get_running_loop()
        pending = (id(loop), _digest(token))
        lookup = self._lookups.get(pending)
        if lookup is None:
            lookup = loop.create_task(asyncio.to_thread(self.authenticate, token))
            self._lookups[pending] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(pending, None))
        return await asyncio.shield(lookup)  # a caller that leaves does not cancel the others

    def authenticate(self, token: str) -> ApiKey | None:
        known, key = self.cached(token)
        if known:
            return key
        digest = _digest(token)
        now = time.monotonic()
        with self.datastore.transaction() as cursor:
            cursor.execute(
                "SELECT * FROM ledger_api_keys WHERE key_digest = %s AND revoked_at IS NULL",
                (digest,),
            )
            row = cursor.fetchone()
        key = _key(row) if row is not None else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, key)
        return key

    def close(self) -> None:
        """The datastore belongs to the ledger, which closes it."""


def _key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        role=Role(row["role"]),
        agencies=tuple(row["agencies"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
