"""The read models by name, and how a process opens, runs and waits for them.

- `open_read_models(database)`: the views alone, for queries and for /health's lag when the
  projections run in another process (`ledger project`).
- `start_projections(database, rules)`: a running ProjectionRunner for the read models.
- `wait_until(views, position, timeout)`: read-your-writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from time import monotonic, sleep
from typing import Any

from eventsourcing.persistence import TrackingRecorder

from application.bootstrap import Database, open_ledger, schema_lock
from application.ledger import APPLICATION_NAME, open_view
from domain.commands import Rules
from projections.audit_log import AuditLogProjection, AuditLogView
from projections.dossier_status import DossierStatusProjection, DossierStatusView
from projections.names import (
    ALL,
    AUDIT_LOG,
    DEFAULT_PAGE_SIZE,
    DOSSIER_STATUS,
    PUBLIC_LOOKUP,
    STEPS,
    TIMELINESS,
)
from projections.public_lookup import PublicLookupProjection, PublicLookupView
from projections.runner import ProjectionRunner
from projections.steps import StepsProjection, StepsView
from projections.timeliness import TimelinessProjection, TimelinessView
from projections.view import PAGE_IDLE_TIMEOUT_SECONDS, PagedProjection, PagedView

FIRST_POLL_SECONDS = 0.005
LAST_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ReadModel:
    name: str
    view_class: type[PagedView]
    projection_class: type[PagedProjection[Any]]


READ_MODELS: Mapping[str, ReadModel] = {
    DOSSIER_STATUS: ReadModel(DOSSIER_STATUS, DossierStatusView, DossierStatusProjection),
    PUBLIC_LOOKUP: ReadModel(PUBLIC_LOOKUP, PublicLookupView, PublicLookupProjection),
    TIMELINESS: ReadModel(TIMELINESS, TimelinessView, TimelinessProjection),
    AUDIT_LOG: ReadModel(AUDIT_LOG, AuditLogView, AuditLogProjection),
    STEPS: ReadModel(STEPS, StepsView, StepsProjection),
}
assert tuple(READ_MODELS) == ALL


def open_read_model_view(
    database: Database, name: str, *, tables: str | None = None, pool_size: int = 2
) -> PagedView:
    """The view of read model `name`, acting as the app role, its tables created if missing.

    The tables are named after `tables` (a rebuild's new tables), by default after `name`.
    """
    view_class = READ_MODELS[name].view_class
    with schema_lock(database.url):
        env = database.ledger_env(pool_size, idle_in_transaction_timeout=PAGE_IDLE_TIMEOUT_SECONDS)
        return open_view(view_class, tables or name, env)


@dataclass(frozen=True)
class ReadModels:
    """Every read model's view, typed, for the API's queries."""

    dossier_status: DossierStatusView
    public_lookup: PublicLookupView
    timeliness: TimelinessView
    audit_log: AuditLogView
    steps: StepsView

    def by_name(self) -> dict[str, PagedView]:
        return {
            DOSSIER_STATUS: self.dossier_status,
            PUBLIC_LOOKUP: self.public_lookup,
            TIMELINESS: self.timeliness,
            AUDIT_LOG: self.audit_log,
            STEPS: self.steps,
        }

    def close(self) -> None:
        for view in self.by_name().values():
            view.datastore.close()


def open_read_models(database: Database, *, pool_size: int = 4) -> ReadModels:
    views = {name: open_read_model_view(database, name, pool_size=pool_size) for name in ALL}
    return ReadModels(
        dossier_status=views[DOSSIER_STATUS],  # type: ignore[arg-type]
        public_lookup=views[PUBLIC_LOOKUP],  # type: ignore[arg-type]
        timeliness=views[TIMELINESS],  # type: ignore[arg-type]
        audit_log=views[AUDIT_LOG],  # type: ignore[arg-type]
        steps=views[STEPS],  # type: ignore[arg-type]
    )


def start_projections(
    database: Database,
    rules: Rules,
    *,
    names: Iterable[str] = ALL,
    page_size: int = DEFAULT_PAGE_SIZE,
    freeze_after_page: bool = False,
) -> list[ProjectionRunner]:
    """Start one runner (a thread with its own connections) for the read models `names`: one
    reader that decodes each page once for all of them; `stop()` it. `freeze_after_page`: see
    ProjectionRunner (a process of its own only)."""
    ledger = open_ledger(database, pool_size=1)
    views = {name: open_read_model_view(database, name) for name in names}
    runner = ProjectionRunner(
        [READ_MODELS[name].projection_class(view, rules.calendar) for name, view in views.items()],
        ledger,
        listen_url=database.url,
        page_size=page_size,
        freeze_after_page=freeze_after_page,
        on_stop=(ledger.close, *(view.datastore.close for view in views.values())),
    )
    runner.start()
    return [runner]


def wait_until(views: Iterable[TrackingRecorder], position: int, timeout: float) -> None:
    """Return once every view has applied the ledger's events up to `position`.

    Raises TimeoutError after `timeout` seconds (for all the views together). Polls from 5 ms
    up to 100 ms (eventsourcing's `wait` starts at 100 ms: too slow for a command's answer).
    """
    deadline = monotonic() + timeout
    delay = FIRST_POLL_SECONDS
    for view in views:
        while not view.has_tracking_id(APPLICATION_NAME, position):
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise TimeoutError(f"a read model has not reached position {position} yet")
            sleep(min(delay, remaining))
            delay = min(delay * 2, LAST_POLL_SECONDS)


def lags(head: int, views: Mapping[str, TrackingRecorder]) -> dict[str, int]:
    """Per read model, how many notification ids it is behind `head` (the ledger's last)."""
    return {
        name: head - (view.max_tracking_id(APPLICATION_NAME) or 0) for name, view in views.items()
    }
