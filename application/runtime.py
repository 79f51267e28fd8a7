"""What a running ledger process holds, built once from the settings (the composition root)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from eventsourcing.persistence import PersistenceError, TrackingRecorder

from application.bootstrap import Database, open_ledger, prepare_database
from application.catalogue import load_agencies, load_calendar, load_procedures
from application.database import DatabaseUnavailable, database_head
from application.keys import ApiKeys
from application.ledger import DossierLedger
from application.secrets import LookupSecrets
from application.settings import Settings
from application.transparency.alarms import alarm_reasons
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
        rules = load_rules(settings)
        agencies = load_agencies(settings.agencies_file)
        database = prepare_database(settings)
        ledger = open_ledger(database, pool_size=settings.pool_size)
        keys = ApiKeys(ledger.factory.datastore)  # type: ignore[attr-defined]
        return cls(
            settings=settings,
            database=database,
            ledger=ledger,
            rules=rules,
            keys=keys,
            secrets=LookupSecrets.from_file(settings.secret_pepper_path),
            agencies=agencies,
        )

    def health(self) -> HealthReport:
        """Head position and each projection's lag; `degraded` when the database is unreachable."""
        try:
            # A connection of its own with a short timeout: the pools wait and retry for longer
            # than a health check should take to say that the database is gone.
            head = database_head(self.database.url, self.database.app_role)
            positions = {
                name: view.max_tracking_id(self.ledger.name) for name, view in self.views.items()
            }
            alarms = self.alarms()
        except (PersistenceError, DatabaseUnavailable, psycopg.Error):
            return HealthReport("degraded", "unavailable", None, {})
        projections = {
            name: {"position": position, "lag": head - (position or 0)}
            for name, position in positions.items()
        }
        return HealthReport("ok", "ok", head, projections, tuple(alarms))

    def alarms(self) -> list[str]:
        """The open alarms about the transparency log, one reason each: a readiness check
        reports them (raises psycopg.Error when the database does not answer)."""
        return alarm_reasons(self.database.url, self.database.app_role)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
        self.keys.close()
        self.ledger.close()
