"""Lookup secrets: the code printed on a receipt that lets the public see one dossier.

The ledger stores only a keyed digest (HMAC-SHA-256 with a pepper kept in a file outside the
database): a six-character secret has too few possibilities for a plain hash to hide it from
someone holding the events, and inspectors do hold them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


class LookupSecrets:
    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper

    @classmethod
    def from_file(cls, path: Path) -> LookupSecrets:
        """Read the pepper, creating it (readable by the owner only) on first start."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def digest(self, secret: str) -> str:
        return hmac.digest(self._pepper, secret.strip().encode(), hashlib.sha256).hex()

    def matches(self, secret: str, digest: str | None) -> bool:
        """Whether `secret` is the one behind `digest`.

        With no digest (no such dossier) the same work is done against a digest no secret has,
        so how long the answer takes does not tell whether the dossier exists.
        """
        expected = _NO_DIGEST if digest is None else digest
        return hmac.compare_digest(self.digest(secret), expected) and digest is not None


_NO_DIGEST = "0" * 64  # as long as a real digest (hex SHA-256)
