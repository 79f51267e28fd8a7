"""The read models in PostgreSQL: rows equal to the replayed dossiers, exactly-once pages, lists
classified like `classify`, a running projector, read-your-writes, lag, and rebuilds."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from application.bootstrap import Database
from application.catalogue import load_calendar, load_procedures
from application.ledger import APPLICATION_NAME, DossierLedger
from application.writer import IngestWriter, Submission
from domain.calendar import LOCAL_TZ
from domain.code import DossierCode
from domain.commands import (
    Actor,
    AnnotatedData,
    Channel,
    DeadlineExtendedData,
    EventCommand,
    EventData,
    FeePaidData,
    FeeRequestedData,
    Outcome,
    ProcessingStoppedData,
    Rating,
    ReceiptRefusedData,
    ReceivedData,
    ResolvedData,
    ResultReturnedData,
    Rules,
    SatisfactionRatedData,
    SubmittedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.dossier import Dossier, record
from domain.status import TRANSITIONS, EventType, Status
from domain.timeliness import FINISHED_STATUSES, Timeliness, classify
from projections.dossier_status import DossierFilter
from projections.names import ALL, AUDIT_LOG, DOSSIER_STATUS, PUBLIC_LOOKUP, STEPS, TIMELINESS
from projections.rebuild import rebuild
from projections.registry import (
    READ_MODELS,
    ReadModels,
    lags,
    open_read_model_view,
    open_read_models,
    start_projections,
    wait_until,
)
from projections.runner import ProjectionRunner
from projections.view import PagedView

RULES = Rules(calendar=load_calendar(None), procedures=load_procedures(None))
CALENDAR = RULES.calendar
NOW = datetime.now(UTC)
AGENCIES = ("000.00.31.H56", "000.20.31.H56", "000.21.20.H56")
PROCEDURES = sorted(RULES.procedures)
E = EventType

# --- Random, valid dossier histories (also used by test_projection_crash) -----------------------


def _data(event_type: EventType, dossier: Dossier | None, rng: random.Random) -> EventData:
    """Data for one event of each type, valid for the dossier as it stands."""
    procedure = (dossier and dossier.procedure_code) or rng.choice(PROCEDURES)
    match event_type:
        case E.SUBMITTED:
            return SubmittedData(procedure, Channel.ONLINE)
        case E.RECEIVED:
            channel = (dossier and dossier.channel) or rng.choice(list(Channel))
            return ReceivedData(procedure, channel, f"digest-{rng.randrange(10**6)}", "ref-1")
        case E.RECEIPT_REFUSED:
            return ReceiptRefusedData("không thuộc thẩm quyền")
        case E.TRANSFERRED:
            return TransferredData("mot-cua", "phong-chuyen-mon", "thẩm định", "ghi chú nội bộ")
        case E.SUPPLEMENT_REQUESTED:
            return SupplementRequestedData("thiếu giấy tờ", ("bản sao CCCD",))
        case E.SUPPLEMENT_PROVIDED:
            return SupplementProvidedData()
        case E.FEE_REQUESTED:
            return FeeRequestedData(100_000)
        case E.FEE_PAID:
            return FeePaidData(100_000)
        case E.WITHDRAWN:
            return WithdrawnData("công dân rút hồ sơ")
        case E.PROCESSING_STOPPED:
            return ProcessingStoppedData("không đủ điều kiện")
        case E.RESOLVED:
            return ResolvedData(rng.choice(list(Outcome)), rng.random() < 0.4, None)
        case E.RESULT_RETURNED:
            return ResultReturnedData(None)
        case E.DEADLINE_EXTENDED:
            assert dossier is not None and dossier.due_at is not None
            return DeadlineExtendedData(dossier.due_at + timedelta(days=2), "thư xin lỗi")
        case E.SATISFACTION_RATED:
            return SatisfactionRatedData(Rating.SATISFIED)
        case E.ANNOTATED:
            return AnnotatedData("đính chính", None)
    raise AssertionError(event_type)


def _history(
    code: DossierCode, received: datetime, rng: random.Random, until: datetime
) -> list[Submission]:
    """A walk through the transition table, in working hours, ending before `until`."""
    dossier: Dossier | None = None
    submissions = []
    at = received
    for version in range(1, rng.randint(2, 12)):
        allowed = sorted(TRANSITIONS[None if dossier is None else dossier.status])
        if dossier is not None and dossier.received_at is not None and dossier.due_at is None:
            allowed.remove(E.DEADLINE_EXTENDED) if E.DEADLINE_EXTENDED in allowed else None
        if dossier is None:
            weights = [1 if t is E.RECEIPT_REFUSED else 6 for t in allowed]
        else:
            weights = [1 if t is E.ANNOTATED else 3 for t in allowed]
        event_type = rng.choices(allowed, weights)[0]
        if dossier is not None:
            at = CALENDAR.add_working_time(at, timedelta(hours=rng.uniform(0.5, 30)))
        if at > until:
            break
        command = EventCommand(
            event_id=f"{code}-{version}",
            type=event_type,
            occurred_at=at,
            actor=Actor(id="cb-0042", role="officer"),
            source="test",
            data=_data(event_type, dossier, rng),
            fingerprint=f"{code}-{version}",
        )
        dossier = record(dossier, code, command, RULES, until).dossier
        submissions.append(Submission(code, command))
    return submissions


def random_histories(dossiers: int, seed: int, until: datetime = NOW) -> list[Submission]:
    """Histories of `dossiers` dossiers received over 60 days, their events in time order.

    Serials start with the seed (below 100), so histories of different seeds never share a code.
    """
    rng = random.Random(seed)
    histories = []
    for serial in range(1, dossiers + 1):
        received = CALENDAR.next_working_moment(
            until - timedelta(days=60) + timedelta(seconds=rng.uniform(0, 55 * 86400))
        )
        received = min(received, until - timedelta(minutes=1))
        day = received.astimezone(LOCAL_TZ).strftime("%y%m%d")
        code = DossierCode.parse(f"{rng.choice(AGENCIES)}-{day}-{seed:02d}{serial:05d}")
        histories.append(_history(code, received, rng, until))
    everything = [submission for history in histories for submission in history]
    return sorted(everything, key=lambda submission: submission.command.occurred_at)


def append(
    ledger: DossierLedger, submissions: list[Submission], batch: int = 500, rules: Rules = RULES
) -> int:
    """Append through the group-commit writer; the ledger's head position afterwards."""
    writer = IngestWriter(ledger, rules)
    writer.start()
    try:
        for start in range(0, len(submissions), batch):
            outcomes = writer.append(submissions[start : start + batch])
            assert not [o for o in outcomes if isinstance(o, Exception)]
    finally:
        writer.stop()
    return ledger.recorder.max_notification_id() or 0


def dossier_ids(ledger: DossierLedger) -> list[UUID]:
    with ledger.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
        rows = connection.execute("SELECT DISTINCT originator_id FROM ledger_events").fetchall()
    return [row["originator_id"] for row in rows]


def expected_status_row(ledger: DossierLedger, dossier_id: UUID) -> dict[str, Any]:
    """What dossier_status should hold, from the replayed aggregate and its last event."""
    dossier: Dossier = ledger.repository.get(dossier_id)
    last_event = list(ledger.events.get(dossier_id))[-1]
    # Settled: finished, clock stopped (a supplement, or fees that pause it), or no due date.
    open_ = dossier.received_at is not None and dossier.status not in FINISHED_STATUSES
    settled = dossier.status in FINISHED_STATUSES or (
        open_ and (dossier.paused_at is not None or dossier.original_due_at is None)
    )
    return {
        "code": str(dossier.code),
        "version": dossier.version,
        "updated_at": last_event.recorded_at,  # type: ignore[attr-defined]
        "agency": dossier.agency,
        "procedure_code": dossier.procedure_code,
        "procedure_name": dossier.procedure_name,
        "channel": dossier.channel,
        "status": dossier.status,
        "submitted_at": dossier.submitted_at,
        "received_at": dossier.received_at,
        "due_at": dossier.due_at,
        "original_due_at": dossier.original_due_at,
        "paused_at": dossier.paused_at,
        "resolved_at": dossier.resolved_at,
        "returned_at": dossier.returned_at,
        "finished_at": dossier.finished_at,
        "supplement_requests": dossier.supplement_requests,
        "extensions": dossier.extensions,
        "extended_after_due": dossier.extended_after_due,
        "outcome": dossier.outcome,
        "electronic_result": dossier.electronic_result,
        "settled_timeliness": classify(dossier, NOW, CALENDAR) if settled else None,
    }


def drop_and_close(views: Iterable[PagedView]) -> None:
    """Drop the tables of views a test opened under names of its own, and close them."""
    for view in views:
        with view.datastore.transaction(commit=True) as cursor:
            for table in view.table_names:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
        view.datastore.close()


def catch_up(view_name: str, database: Database, ledger: DossierLedger, page_size: int) -> None:
    view = open_read_model_view(database, view_name)
    runner = ProjectionRunner(
        [READ_MODELS[view_name].projection_class(view, CALENDAR)], ledger, page_size=page_size
    )
    runner.catch_up(ledger.recorder.max_notification_id() or 0)
    view.datastore.close()


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def head(database: Database, ledger: DossierLedger) -> int:
    """300 dossiers' events, projected a small page at a time (pages cut through dossiers)."""
    position = append(ledger, random_histories(300, seed=7))
    for name in ALL:
        catch_up(name, database, ledger, page_size=97)
    return position


@pytest.fixture(scope="module")
def models(database: Database, head: int) -> Iterator[ReadModels]:
    opened = open_read_models(database)
    yield opened
    opened.close()


# --- Rows -----------------------------------------------------------------------------------


def test_dossier_status_rows_equal_the_replayed_dossiers(
    ledger: DossierLedger, models: ReadModels
) -> None:
    ids = dossier_ids(ledger)
    assert len(ids) == 300
    for dossier_id in ids:
        expected = expected_status_row(ledger, dossier_id)
        row = models.dossier_status.get(expected["code"])
        assert row is not None
        assert vars(row) == expected


def test_the_public_lookup_holds_only_what_the_public_may_see(
    ledger: DossierLedger, models: ReadModels
) -> None:
    with models.public_lookup.datastore.get_connection() as connection:
        columns = {
            row["column_name"]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (PUBLIC_LOOKUP,),
            )
        }
    assert columns == {
        "id", "code", "version", "updated_at", "agency", "status", "procedure_code",
        "procedure_name", "received_at", "due_at", "original_due_at", "paused_at",
        "finished_at", "supplement_requests", "lookup_secret_digest",
    }  # fmt: skip
    for dossier_id in dossier_ids(ledger)[:50]:
        dossier: Dossier = ledger.repository.get(dossier_id)
        public = models.public_lookup.get(str(dossier.code))
        assert public is not None
        assert public.status == dossier.status
        assert public.lookup_secret_digest == dossier.lookup_secret_digest
        assert public.due_at == dossier.due_at
        assert public.timeliness(NOW, CALENDAR) == classify(dossier, NOW, CALENDAR)


def test_an_unknown_code_has_no_row(models: ReadModels) -> None:
    assert models.dossier_status.get("000.00.31.H56-200101-0001") is None
    assert models.public_lookup.get("000.00.31.H56-200101-0001") is None


# --- Exactly once ---------------------------------------------------------------------------


def test_a_page_read_after_another_position_is_stale_and_changes_nothing(
    database: Database, ledger: DossierLedger, models: ReadModels, head: int
) -> None:
    view = models.dossier_status
    before = view.list_dossiers(DossierFilter(), now=NOW, calendar=CALENDAR, limit=1000).rows
    notifications = ledger.recorder.select_notifications(start=head - 20, limit=5)
    events = [ledger.mapper.to_domain_event(n) for n in notifications]
    projection = READ_MODELS[DOSSIER_STATUS].projection_class(view, CALENDAR)
    page_tracking = Tracking(APPLICATION_NAME, notifications[-1].id)
    from projections.view import Page  # noqa: PLC0415

    assert not projection.process_page(Page(head - 21, events, page_tracking))  # type: ignore[arg-type]
    projection.process_event(events[0], Tracking(APPLICATION_NAME, notifications[0].id))

    after = view.list_dossiers(DossierFilter(), now=NOW, calendar=CALENDAR, limit=1000).rows
    assert after == before
    assert view.position(APPLICATION_NAME) == head


# --- Lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days_later", [0, 1, 3, -5, -20])
def test_lists_by_timeliness_agree_with_classify(models: ReadModels, days_later: int) -> None:
    now = NOW + timedelta(days=days_later, hours=days_later * 5)
    everything = models.dossier_status.list_dossiers(
        DossierFilter(), now=now, calendar=CALENDAR, limit=1000
    ).rows
    for timeliness in Timeliness:
        listed = models.dossier_status.list_dossiers(
            DossierFilter(timeliness=timeliness), now=now, calendar=CALENDAR, limit=1000
        )
        expected = [row.code for row in everything if row.timeliness(now, CALENDAR) is timeliness]
        assert [row.code for row in listed.rows] == expected
        assert listed.total == len(expected)
    assert {row.timeliness(now, CALENDAR) for row in everything} >= {
        Timeliness.EARLY,
        Timeliness.LATE,
        Timeliness.OVERDUE,
        None,
    }


def test_a_list_pages_in_code_order_with_its_total(models: ReadModels) -> None:
    agency = AGENCIES[0]
    filters = DossierFilter(agency=agency)
    codes: list[str] = []
    totals: set[int] = set()
    after = None
    while True:
        page = models.dossier_status.list_dossiers(
            filters, now=NOW, calendar=CALENDAR, after=after, limit=7
        )
        codes += [row.code for row in page.rows]
        totals.add(page.total)
        if page.next_after is None:
            break
        after = page.next_after
    everything = models.dossier_status.list_dossiers(
        DossierFilter(), now=NOW, calendar=CALENDAR, limit=1000
    ).rows
    assert codes == sorted(row.code for row in everything if row.agency == agency)
    assert totals == {len(codes)}


def test_lists_filter_by_status_and_procedure(models: ReadModels) -> None:
    everything = models.dossier_status.list_dossiers(
        DossierFilter(), now=NOW, calendar=CALENDAR, limit=1000
    ).rows
    procedure = everything[0].procedure_code or PROCEDURES[0]
    filters = DossierFilter(status=Status.RESOLVED, procedure_code=procedure)
    listed = models.dossier_status.list_dossiers(filters, now=NOW, calendar=CALENDAR, limit=1000)
    assert [row.code for row in listed.rows] == [
        row.code
        for row in everything
        if row.status is Status.RESOLVED and row.procedure_code == procedure
    ]


# --- One reader for many read models --------------------------------------------------------


def fresh_tables(name: str, suffix: str) -> list[tuple[str, str]]:
    """A read model's tables (and their sort keys) under the tables name `name + suffix`."""
    spells = [("timeliness_spells", "id, version")] if name == TIMELINESS else []
    return [
        (table.replace(name, name + suffix, 1), key)
        for table, key in [*READ_MODEL_TABLES[name], *spells]
    ]


def test_read_models_caught_up_together_equal_each_caught_up_alone(
    database: Database, ledger: DossierLedger
) -> None:
    """One runner reads and decodes each page once for all the read models, one of which
    starts ahead of the others; each ends as if caught up alone, and as the events say."""
    head = append(ledger, random_histories(40, seed=11, until=NOW))
    alone = {name: open_read_model_view(database, name, tables=name + "__alone") for name in ALL}
    together = {name: open_read_model_view(database, name, tables=name + "__one") for name in ALL}
    try:
        for name, view in alone.items():
            projection = READ_MODELS[name].projection_class(view, CALENDAR)
            ProjectionRunner([projection], ledger, page_size=89).catch_up(head)
        projections = [READ_MODELS[n].projection_class(v, CALENDAR) for n, v in together.items()]
        ahead = ProjectionRunner([projections[2]], ledger, page_size=61)
        ahead.step()
        ahead.step()
        ahead.close_threads()
        runner = ProjectionRunner(projections, ledger, page_size=73)
        assert 0 == runner.position() < runner.positions()[ALL[2]] < head
        runner.catch_up(head)

        assert runner.positions() == dict.fromkeys(ALL, head)
        for name in ALL:
            for (one, key), (single, _key) in zip(
                fresh_tables(name, "__one"), fresh_tables(name, "__alone"), strict=True
            ):
                assert table_contents(database, one, key) == table_contents(database, single, key)
        # And as the events say: the replayed dossiers, one leaf per event.
        ids = dossier_ids(ledger)
        rows = table_contents(database, "dossier_status__one", "id")
        assert [row["id"] for row in rows] == sorted(ids)
        status_fields = list(expected_status_row(ledger, ids[0]))
        for row in rows:
            expected = expected_status_row(ledger, row["id"])
            assert {field: row[field] for field in status_fields} == expected
        events = table_contents(database, "ledger_events", "notification_id")
        leaves = table_contents(database, "audit_log__one_leaves", "leaf_index")
        assert [leaf["notification_id"] for leaf in leaves] == [
            event["notification_id"] for event in events
        ]
    finally:
        drop_and_close([*alone.values(), *together.values()])


def test_a_failing_read_model_does_not_hold_back_the_others_of_its_runner(
    database: Database, ledger: DossierLedger
) -> None:
    """The read models of one runner share its pages, not its failures: while one fails on
    every page the others reach the head; once it stops failing it catches up as well."""
    head = append(ledger, random_histories(20, seed=12, until=NOW))
    views = {name: open_read_model_view(database, name, tables=name + "__fail") for name in ALL}
    try:
        projections = [READ_MODELS[n].projection_class(v, CALENDAR) for n, v in views.items()]
        broken = projections[1]
        healthy = broken.process_page
        failing = True

        def process_page(page: Any) -> bool:
            if failing:
                raise RuntimeError("a read model's bug")
            return healthy(page)

        broken.process_page = process_page  # type: ignore[method-assign]
        runner = ProjectionRunner(projections, ledger, page_size=29, poll_interval=0.05)
        runner.start()
        try:
            others = [view for name, view in views.items() if name != ALL[1]]
            wait_until(others, head, timeout=20)
            assert views[ALL[1]].position(ledger.name) < head
            assert isinstance(runner.last_error, RuntimeError)
            failing = False
            wait_until(views.values(), head, timeout=20)
        finally:
            runner.stop()
        assert runner.positions() == dict.fromkeys(ALL, head)
    finally:
        drop_and_close(views.values())


def test_a_page_computed_longer_than_five_seconds_is_still_written(
    database: Database, ledger: DossierLedger
) -> None:
    """A page's transaction loads rows, computes in Python, then writes: on a loaded machine the
    computing took longer than eventsourcing's default idle-in-transaction limit (5 s), and the
    server ended the transaction, so the page failed and was tried again for nothing."""
    head = append(ledger, random_histories(5, seed=31, until=NOW))
    view = open_read_model_view(database, DOSSIER_STATUS, tables="slow_page")
    write = view.write

    def slow_write(cursor: Any, events: Any, calendar: Any) -> None:
        time.sleep(6)  # inside the page's transaction, between two statements
        write(cursor, events, calendar)

    view.write = slow_write  # type: ignore[method-assign]
    runner = ProjectionRunner(
        [READ_MODELS[DOSSIER_STATUS].projection_class(view, CALENDAR)], ledger, page_size=head
    )
    try:
        runner.catch_up(head)
        assert view.position(ledger.name) == head
    finally:
        drop_and_close([view])


# --- Running, waiting, lag ------------------------------------------------------------------


def test_a_running_projector_follows_new_events_and_stops_promptly(
    database: Database, ledger: DossierLedger, models: ReadModels, head: int
) -> None:
    runners = start_projections(database, RULES)
    try:
        wait_until(models.by_name().values(), head, timeout=10)
        started = time.monotonic()
        new_head = append(ledger, random_histories(3, seed=99, until=NOW))
        wait_until(models.by_name().values(), new_head, timeout=5)
        assert time.monotonic() - started < 2  # LISTEN wakes the runners
        assert lags(new_head, models.by_name()) == dict.fromkeys(ALL, 0)
        positions = {name: at for runner in runners for name, at in runner.positions().items()}
        assert positions == dict.fromkeys(ALL, new_head)
    finally:
        started = time.monotonic()
        for runner in runners:
            runner.stop()
        assert time.monotonic() - started < 3


def test_waiting_for_a_position_not_reached_times_out(models: ReadModels, head: int) -> None:
    with pytest.raises(TimeoutError):
        wait_until(models.by_name().values(), head + 10_000, timeout=0.3)


def test_lag_is_the_head_minus_the_projected_position(
    database: Database, ledger: DossierLedger
) -> None:
    head = ledger.recorder.max_notification_id() or 0
    view = open_read_model_view(database, TIMELINESS, tables="lag_probe")
    runner = ProjectionRunner(
        [READ_MODELS[TIMELINESS].projection_class(view, CALENDAR)], ledger, page_size=50
    )
    try:
        assert lags(head, {"probe": view}) == {"probe": head}
        runner.step()
        runner.step()
        assert lags(head, {"probe": view}) == {"probe": head - runner.position()}
        assert 0 < runner.position() < head
    finally:
        view.datastore.close()


# --- Rebuild --------------------------------------------------------------------------------


def table_contents(database: Database, table: str, order_by: str) -> list[dict[str, Any]]:
    view = open_read_model_view(database, DOSSIER_STATUS)
    try:
        with view.datastore.get_connection() as connection:
            return connection.execute(f"SELECT * FROM {table} ORDER BY {order_by}").fetchall()
    finally:
        view.datastore.close()


READ_MODEL_TABLES = {
    DOSSIER_STATUS: [("dossier_status", "id"), ("dossier_status_tracking", "application_name")],
    PUBLIC_LOOKUP: [("public_lookup", "id"), ("public_lookup_tracking", "application_name")],
    TIMELINESS: [
        ("timeliness_dossiers", "id"),
        ("timeliness_counters", "agency, procedure_code, day"),
        ("timeliness_tracking", "application_name"),
    ],
    AUDIT_LOG: [
        ("audit_log_leaves", "leaf_index"),
        ("audit_log_subtrees", "level, index"),
        ("audit_log_tracking", "application_name"),
    ],
    STEPS: [
        ("steps_dossiers", "id"),
        ("steps_counters", "agency, unit, step, day"),
        ("steps_tracking", "application_name"),
    ],
}


def index_names(database: Database) -> list[str]:
    return [row["indexname"] for row in table_contents(database, "pg_indexes", "indexname")]


@pytest.mark.parametrize("name", ALL)
def test_a_rebuild_swaps_in_tables_equal_to_the_old_ones(
    database: Database, models: ReadModels, name: str
) -> None:
    tables = READ_MODEL_TABLES[name]
    before = {table: table_contents(database, table, key) for table, key in tables}
    indexes_before = index_names(database)
    positions: list[tuple[int, int]] = []

    rebuilt = rebuild(database, RULES, name, page_size=500, progress=lambda *p: positions.append(p))

    assert {table: table_contents(database, table, key) for table, key in tables} == before
    assert index_names(database) == indexes_before
    assert "rebuild" not in str(table_contents(database, "pg_tables", "tablename"))
    assert positions[-1] == (rebuilt.position, rebuilt.position)
    assert models.by_name()[name].position(APPLICATION_NAME) == rebuilt.position


def test_reads_keep_answering_during_a_rebuild_and_a_running_projector_stays_exact(
    database: Database, ledger: DossierLedger, models: ReadModels
) -> None:
    """Readers never fail; a projector runs and events arrive before, during and after."""
    codes = [row.code for row in models.dossier_status.list_dossiers(
        DossierFilter(), now=NOW, calendar=CALENDAR, limit=50).rows]  # fmt: skip
    stop_reading = threading.Event()
    answers: list[bool] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not stop_reading.is_set():
            try:
                answers.append(models.dossier_status.get(random.choice(codes)) is not None)
            except BaseException as error:
                failures.append(error)

    reader = threading.Thread(target=read)
    runners = start_projections(database, RULES, names=[DOSSIER_STATUS], page_size=20)
    reader.start()
    try:
        more = random_histories(60, seed=5)
        writer = threading.Thread(target=append, args=(ledger, more[: len(more) // 2], 25))
        writer.start()
        rebuild(database, RULES, DOSSIER_STATUS, page_size=40)
        writer.join()
        head = append(ledger, more[len(more) // 2 :], 25)
        wait_until([models.dossier_status], head, timeout=20)
    finally:
        stop_reading.set()
        reader.join()
        for runner in runners:
            runner.stop()
    assert not failures
    assert len(answers) > 10 and all(answers)
    for dossier_id in dossier_ids(ledger):
        expected = expected_status_row(ledger, dossier_id)
        row = models.dossier_status.get(expected["code"])
        assert row is not None and vars(row) == expected


def test_ledger_rebuild_rebuilds_and_says_so(
    database: Database, ledger: DossierLedger, models: ReadModels, tmp_path: Path
) -> None:
    catch_up(TIMELINESS, database, ledger, page_size=500)  # events were added since
    before = table_contents(database, "timeliness_counters", "agency, procedure_code, day")
    environment = {
        **os.environ,
        "LEDGER_DATABASE_URL": database.url,
        "LEDGER_DATA_DIR": str(tmp_path),
    }
    ledger_script = Path(sys.executable).parent / "ledger"

    done = subprocess.run(
        [ledger_script, "rebuild", TIMELINESS, "--batch", "300"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"rebuilt {TIMELINESS} from ")
    assert table_contents(database, "timeliness_counters", "agency, procedure_code, day") == before
