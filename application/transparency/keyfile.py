"""The log's signing key on disk: one C2SP signer key, created on first use, readable by its
owner only (mode 0600). The database never holds it, so nobody who can only write the database
can sign a checkpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from application.transparency.note import NoteError, Signer, generate_signer

_log = logging.getLogger(__name__)


class SigningKeyError(ValueError):
    """The signing key file cannot be used; the message says why and where."""


def load_signer(path: Path, origin: str) -> Signer:
    """The signer in `path`, which must sign for the log `origin`."""
    try:
        signer = Signer.from_file(path)
    except NoteError as error:
        raise SigningKeyError(f"the signing key {path} is not a signer key: {error}") from None
    if signer.name != origin:
        raise SigningKeyError(
            f"the signing key {path} signs for the log {signer.name!r}, but the log's origin"
            f" (LEDGER_LOG_ORIGIN) is {origin!r}: a log is signed under its own name only"
        )
    if path.stat().st_mode & 0o077:
        _log.warning("the signing key %s is readable by other users: chmod 600 it", path)
    return signer


def load_or_create_signer(path: Path, origin: str) -> Signer:
    """The signer in `path`, created for `origin` if there is no such file yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = generate_signer(origin)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_signer(path, origin)  # another process created it first
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text + "\n")
        signer = Signer.from_key(text)
        _log.warning(
            "created the signing key of the log %s in %s; its verifier key is %s",
            origin,
            path,
            signer.verifier().vkey(),
        )
    return load_signer(path, origin)
