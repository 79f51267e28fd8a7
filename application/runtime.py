"""What a running ledger process holds, built once from the settings (the composition root)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder

from application.bootstrap import Database, open_ledger, prepare_database
from application.catalogue import load_agencies, load_calendar, load_procedures
from application.embedded import EmbeddedPostgres
from application.health import DatabaseMonitor
from application.keys import ApiKeys
from application.ledger import DossierLedger
from application.secrets import LookupSecrets
from application.settings import Settings
from application.writer import IngestWriter
from domain.commands import Rules


def tune_garbage_collection() -> None:
    """Collect reference cycles less often in a long-running server process.

    Python's default (a young-generation pass every 700 allocations, a full pass when enough
    objects survive) spent about a quarter of the domain's time per event and added tail latency
    by walking the writer's cache of dossiers again and again. Everything alive after start-up is
    frozen out of collection, and passes come every 50,000 allocations. Cycles are still
    collected; memory grows by a few megabytes between passes at most.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def load_rules(settings: Settings) -> Rules:
    return Rules(
        calendar=load_calendar(settings.calendar_file),
        procedures=load_procedures(settings.procedures_file),
        supplement_policy=settings.supplement_policy,
    )


@dataclass(frozen=True)
class HealthReport:
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    events: int | None
    projections: dict[str, dict[str, int | None]]
    storage_free_bytes: int | None = None
    storage_full: bool = False
    alarms: tuple[str, ...] = ()
    """Open alarms about the transparency log (application.transparency.alarms)."""


@dataclass
class Runtime:
    settings: Settings
    database: Database
    ledger: DossierLedger
    rules: Rules
    keys: ApiKeys
    secrets: LookupSecrets
    monitor: DatabaseMonitor
    agencies: Mapping[str, str] = field(default_factory=dict)
    """Agencies' Vietnamese names by code (LEDGER_AGENCIES_FILE, or the shipped sample)."""
    views: dict[str, TrackingRecorder] = field(default_factory=dict)
    _writer: IngestWriter | None = None

    @property
    def writer(self) -> IngestWriter:
        """The writer for callers that are threads, started on first use (an API process
        appends through its own, on its event loop)."""
        if self._writer is None:
            self._writer = IngestWriter(
                self.ledger, self.rules, max_batch_events=self.settings.writer_batch_events
            )
            self._writer.start()
        return self._writer

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        """Everything a server holds, its database monitor started (`Composition.runtime`)."""
        return Composition(settings).runtime()

    def follow_views(self, views: dict[str, Any]) -> None:
        """Serve these read models, and report their lag."""
        self.views.update(views)
        self.monitor.follow(
            {
                name: cast(PostgresTrackingRecorder, view).max_tracking_id_statement
                for name, view in self.views.items()
            }
        )

    def health(self) -> HealthReport:
        """Head position, each projection's lag and the open alarms, as the probe last read them
        (no I/O); `degraded` while the database is unreachable."""
        monitor = self.monitor
        free, full = monitor.storage_free_bytes, monitor.storage_full
        positions = monitor.positions
        if not monitor.reachable or positions is None:
            return HealthReport("degraded", "unavailable", None, {}, free, full)
        lags = positions.lags()
        projections: dict[str, dict[str, int | None]] = {
            name: {"position": position, "lag": lags[name]}
            for name, position in positions.projections.items()
            if name in self.views
        }
        return HealthReport("ok", "ok", positions.head, projections, free, full, positions.alarms)

    def close(self) -> None:
        self.monitor.stop()
        if self._writer is not None:
            self._writer.stop()
        self.keys.close()
        self.ledger.close()


class Composition:
    """The composition root: every ledger process (`serve`, `project`, each CLI command) builds
    what it needs from the settings here, and only that. Each part is built when first asked
    for: `ledger rebuild` loads the rules and migrates the database, and starts no monitor and
    no writer; `ledger keys` never reads the calendar."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def rules(self) -> Rules:
        return load_rules(self.settings)

    @cached_property
    def agencies(self) -> Mapping[str, str]:
        return load_agencies(self.settings.agencies_file)

    @cached_property
    def database(self) -> Database:
        """The database, migrated (the embedded server started first when no URL is set)."""
        return prepare_database(self.settings)

    def ledger(self, pool_size: int | None = None) -> DossierLedger:
        """A new ledger on the database (its pool: LEDGER_POOL_SIZE by default); the caller
        closes it."""
        size = self.settings.pool_size if pool_size is None else pool_size
        return open_ledger(self.database, pool_size=size)

    def keys(self, ledger: DossierLedger) -> ApiKeys:
        return ApiKeys(ledger.factory.datastore)  # type: ignore[attr-defined]

    def monitor(self, ledger: DossierLedger) -> DatabaseMonitor:
        """The database's probe, started (and watching the embedded server, if that is it)."""
        settings = self.settings
        monitor = DatabaseMonitor(
            self.database.url,
            self.database.app_role,
            timeout=settings.database_timeout,
            storage_path=settings.watched_storage,
            storage_reserve_bytes=settings.storage_reserve_bytes,
            application_name=ledger.name,
        )
        monitor.start()
        if settings.embedded:
            server = EmbeddedPostgres.for_data_dir(settings.embedded_data_dir)
            server.watch(monitor.server_running)
        return monitor

    def runtime(self) -> Runtime:
        """Everything a server holds (`Runtime.start`)."""
        rules, agencies, database = self.rules, self.agencies, self.database
        ledger = self.ledger()
        keys = self.keys(ledger)
        monitor = self.monitor(ledger)
        return Runtime(
            settings=self.settings,
            database=database,
            ledger=ledger,
            rules=rules,
            keys=keys,
            secrets=LookupSecrets.from_file(self.settings.secret_pepper_path),
            monitor=monitor,
            agencies=agencies,
        )
