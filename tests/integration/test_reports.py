"""The timeliness report's figures equal figures counted here, plainly, from the events.

One agency's October 2026, asked for at 10:00 on 6 November: dossiers early, on time and late,
late despite an apology letter, withdrawn after the due date, two supplementation requests, one,
refused at receipt, stopped while waiting for a supplement, open and overdue, open in time, open
and waiting, a backlog from September, dossiers received in October and finished in November,
received in November, and another agency's dossier.

The report describes October as it stood at its end (Decision 766/QĐ-TTg, indicator 2.1: an
unfinished dossier is judged at the end of the period): the independent count below reads only
the events that had happened by the end of 31 October.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from application.bootstrap import Database
from application.ledger import DossierLedger
from application.writer import Submission
from domain.calendar import LOCAL_TZ
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    DeadlineExtendedData,
    EventCommand,
    EventData,
    FeeRequestedData,
    Outcome,
    ProcessingStoppedData,
    ReceiptRefusedData,
    ReceivedData,
    ResolvedData,
    SubmittedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.dossier import Dossier, dossier_id
from domain.status import EventType
from projections.names import ALL
from projections.registry import ReadModels, open_read_models
from projections.report import TimelinessReport, timeliness_report
from tests.integration.test_projections import CALENDAR, append, catch_up

AGENCY = "000.00.31.H56"
OTHER_AGENCY = "000.00.13.H56"
FIVE_DAYS, THREE_DAYS, TEN_CALENDAR_DAYS = "1.001757", "1.001612", "2.000488"
FIRST_DAY, LAST_DAY = date(2026, 10, 1), date(2026, 10, 31)
NOW = datetime(2026, 11, 6, 10, tzinfo=LOCAL_TZ)
E = EventType


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LOCAL_TZ)


def received(procedure: str, channel: Channel = Channel.IN_PERSON) -> ReceivedData:
    return ReceivedData(procedure, channel, "digest", None)


def resolved(electronic: bool = False) -> ResolvedData:
    return ResolvedData(Outcome.APPROVED, electronic, None)


def paused() -> SupplementRequestedData:
    return SupplementRequestedData("thiếu giấy tờ")


@dataclass(frozen=True)
class Case:
    """A dossier's story and what it should count as in October (None: not counted)."""

    serial: int
    steps: list[tuple[EventType, datetime, EventData]]
    label: str | None
    agency: str = AGENCY


CASES = [
    Case(1, [(E.RECEIVED, at(10, 5), received(FIVE_DAYS)),
             (E.RESOLVED, at(10, 8, 15), resolved(electronic=True))], "early"),
    Case(2, [(E.RECEIVED, at(10, 5, 10), received(FIVE_DAYS, Channel.ONLINE)),
             (E.RESOLVED, at(10, 12, 16), resolved())], "on_time"),
    Case(3, [(E.RECEIVED, at(10, 6), received(FIVE_DAYS, Channel.POSTAL)),
             (E.RESOLVED, at(10, 14), resolved(electronic=True))], "late"),
    Case(4, [(E.RECEIVED, at(10, 6, 10), received(FIVE_DAYS)),
             (E.DEADLINE_EXTENDED, at(10, 12), DeadlineExtendedData(at(10, 20), "thư xin lỗi")),
             (E.RESOLVED, at(10, 16), resolved())], "late"),
    Case(5, [(E.RECEIVED, at(10, 7), received(THREE_DAYS)),
             (E.WITHDRAWN, at(10, 19), WithdrawnData("rút hồ sơ"))], "on_time"),
    Case(6, [(E.RECEIVED, at(10, 7), received(FIVE_DAYS, Channel.ONLINE)),
             (E.SUPPLEMENT_REQUESTED, at(10, 8), paused()),
             (E.SUPPLEMENT_PROVIDED, at(10, 9), SupplementProvidedData()),
             (E.SUPPLEMENT_REQUESTED, at(10, 12), paused()),
             (E.SUPPLEMENT_PROVIDED, at(10, 13), SupplementProvidedData()),
             (E.RESOLVED, at(10, 14), resolved())], "late"),
    Case(7, [(E.RECEIVED, at(10, 5), received(THREE_DAYS)),
             (E.SUPPLEMENT_REQUESTED, at(10, 6), paused()),
             (E.SUPPLEMENT_PROVIDED, at(10, 8), SupplementProvidedData()),
             (E.RESOLVED, at(10, 9), resolved())], "early"),
    Case(8, [(E.RECEIPT_REFUSED, at(10, 8), ReceiptRefusedData("không thuộc thẩm quyền"))],
         "refused"),
    Case(9, [(E.SUBMITTED, at(10, 8, 8), SubmittedData(THREE_DAYS, Channel.ONLINE)),
             (E.RECEIPT_REFUSED, at(10, 9), ReceiptRefusedData("hồ sơ không hợp lệ"))],
         "refused"),
    Case(10, [(E.RECEIVED, at(10, 1), received(THREE_DAYS)),
              (E.SUPPLEMENT_REQUESTED, at(10, 2), paused()),
              (E.PROCESSING_STOPPED, at(10, 20), ProcessingStoppedData("quá hạn bổ sung"))],
         "early"),
    Case(11, [(E.RECEIVED, at(10, 21), received(FIVE_DAYS)),
              (E.TRANSFERRED, at(10, 22), TransferredData("mot-cua", "phong-chuyen-mon"))],
         "open_overdue"),
    Case(12, [(E.RECEIVED, at(10, 30, 10), received(TEN_CALENDAR_DAYS, Channel.ONLINE))],
         "open_in_time"),
    Case(13, [(E.RECEIVED, at(10, 29), received(FIVE_DAYS)),
              (E.SUPPLEMENT_REQUESTED, at(10, 30), paused())], "open_in_time"),
    Case(14, [(E.RECEIVED, at(9, 25), received(FIVE_DAYS)),
              (E.FEE_REQUESTED, at(9, 28), FeeRequestedData(50_000))], "open_overdue"),
    # Received Friday 30/10 09:00, 3 working days: due Wednesday 4/11 09:00; resolved 2/11,
    # after the period: open and in time at the end of 31/10.
    Case(15, [(E.RECEIVED, at(10, 30), received(THREE_DAYS)),
              (E.RESOLVED, at(11, 2), resolved())], "open_in_time"),
    Case(16, [(E.RECEIVED, at(9, 28), received(FIVE_DAYS)),
              (E.RESOLVED, at(10, 2), resolved(electronic=True))], "early"),
    Case(17, [(E.RECEIVED, at(10, 5), received(FIVE_DAYS)),
              (E.RESOLVED, at(10, 8), resolved())], None, agency=OTHER_AGENCY),
    Case(18, [(E.RECEIVED, at(11, 2), received(FIVE_DAYS))], None),
    Case(19, [(E.SUBMITTED, at(10, 15), SubmittedData(FIVE_DAYS, Channel.ONLINE)),
              (E.WITHDRAWN, at(10, 16), WithdrawnData(None))], None),
]  # fmt: skip


def code_of(case: Case) -> DossierCode:
    first_day = case.steps[0][1]
    return DossierCode.parse(f"{case.agency}-{first_day:%y%m%d}-{case.serial:04d}")


def submissions() -> list[Submission]:
    found = []
    for case in CASES:
        code = code_of(case)
        for version, (event_type, occurred_at, data) in enumerate(case.steps, start=1):
            event_id = f"report-{case.serial}-{version}"
            command = EventCommand(
                event_id, event_type, occurred_at, Actor("cb-1", "officer"), "test", data, event_id
            )
            found.append(Submission(code, command))
    return found


@pytest.fixture(scope="module")
def models(database: Database, ledger: DossierLedger) -> Iterator[ReadModels]:
    append(ledger, submissions())
    for name in ALL:
        catch_up(name, database, ledger, page_size=5)
    opened = open_read_models(database)
    yield opened
    opened.close()


# --- The independent count, from the events --------------------------------------------------


PERIOD_END = datetime(2026, 11, 1, tzinfo=LOCAL_TZ)
"""Midnight after 31 October: what happened from then on is after the period."""


def in_period(instant: datetime) -> bool:
    return FIRST_DAY <= instant.astimezone(LOCAL_TZ).date() <= LAST_DAY


def local_day(instant: datetime) -> date:
    return instant.astimezone(LOCAL_TZ).date()


FINISHES = (Dossier.Resolved, Dossier.Withdrawn, Dossier.ProcessingStopped)


def count_dossier(events: list[Any], figures: dict[str, Any]) -> str | None:
    """Add one dossier's events to `figures`; its label as CASES names them."""
    events = [e for e in events if e.occurred_at < PERIOD_END]
    receipt = next((e for e in events if isinstance(e, Dossier.Received)), None)
    finish = next((e for e in events if isinstance(e, FINISHES)), None)
    label = None
    if any(isinstance(e, Dossier.ReceiptRefused) and in_period(e.occurred_at) for e in events):
        figures["refused"] += 1
        return "refused"
    if receipt is None:
        return None
    if in_period(receipt.occurred_at):
        figures["received"] += 1
        figures["received_online"] += receipt.channel == "online"
        label = "received_only"
    due = receipt.due_at
    requests, paused_at, waited = 0, None, timedelta()
    for event in events:
        if finish is not None and event.originator_version > finish.originator_version:
            break
        if isinstance(event, Dossier.SupplementRequested):
            requests, paused_at = requests + 1, event.occurred_at
        if isinstance(event, Dossier.SupplementProvided):
            due, paused_at = event.original_due_at, None
            waited += CALENDAR.working_time_between(event.paused_at, event.occurred_at)
    if finish is None:
        # Judged on 31 October (a dossier due that day could still be resolved on time).
        moment = paused_at or PERIOD_END - timedelta(microseconds=1)
        overdue = requests > 1 or local_day(moment) > local_day(due)
        figures["open"] += 1
        figures["open_overdue"] += overdue
        return "open_overdue" if overdue else "open_in_time"
    if not in_period(finish.occurred_at):
        return label
    if isinstance(finish, Dossier.Withdrawn):
        label = "on_time"
    elif requests > 1:
        label = "late"
    else:
        finished_on, due_on = local_day(paused_at or finish.occurred_at), local_day(due)
        label = "early" if finished_on < due_on else "on_time" if finished_on == due_on else "late"
    figures[label] += 1
    if isinstance(finish, Dossier.Resolved):
        figures["resolved"] += 1
        figures["resolved_electronic"] += finish.electronic_result
        worked = CALENDAR.working_time_between(receipt.occurred_at, finish.occurred_at)
        figures["processing"] += worked - waited
    return label


def counted_from_events(ledger: DossierLedger) -> tuple[dict[str, Any], dict[int, str | None]]:
    figures: dict[str, Any] = dict.fromkeys(
        ["received", "received_online", "refused", "early", "on_time", "late", "resolved",
         "resolved_electronic", "open", "open_overdue"], 0)  # fmt: skip
    figures["processing"] = timedelta()
    labels = {}
    for case in CASES:
        events = list(ledger.events.get(dossier_id(code_of(case))))
        if case.agency == AGENCY:
            labels[case.serial] = count_dossier(events, figures)
    return figures, labels


# --- Tests ----------------------------------------------------------------------------------


def report(models: ReadModels, **scope: str) -> TimelinessReport:
    return timeliness_report(
        models.timeliness,
        first_day=FIRST_DAY,
        last_day=LAST_DAY,
        now=NOW,
        calendar=CALENDAR,
        **scope,
    )


def test_the_independent_count_labels_each_case_as_intended(
    models: ReadModels, ledger: DossierLedger
) -> None:
    _figures, labels = counted_from_events(ledger)
    assert labels == {case.serial: case.label for case in CASES if case.agency == AGENCY}


def test_the_report_of_an_agency_equals_the_count_from_the_events(
    models: ReadModels, ledger: DossierLedger
) -> None:
    figures, _labels = counted_from_events(ledger)
    agency = report(models, agency=AGENCY)

    counts = agency.counts
    assert (counts.received, counts.received_online, counts.refused) == (
        figures["received"], figures["received_online"], figures["refused"])  # fmt: skip
    assert (counts.finished_early, counts.finished_on_time, counts.finished_late) == (
        figures["early"], figures["on_time"], figures["late"])  # fmt: skip
    assert (agency.open.open, agency.open.overdue) == (figures["open"], figures["open_overdue"])
    finished = figures["early"] + figures["on_time"] + figures["late"]
    in_time = figures["early"] + figures["on_time"] + figures["open"] - figures["open_overdue"]
    assert agency.on_time_rate.numerator == in_time
    assert agency.on_time_rate.denominator == finished + figures["open"]
    assert agency.online_rate.numerator == figures["received_online"]
    assert agency.online_rate.denominator == figures["received"]
    assert agency.electronic_result_rate.numerator == figures["resolved_electronic"]
    assert agency.electronic_result_rate.denominator == figures["resolved"]
    assert agency.average_processing_days.denominator == figures["resolved"]
    assert agency.average_processing_days.numerator == pytest.approx(
        figures["processing"] / CALENDAR.working_day_length
    )
    # And by hand, from CASES' labels:
    assert (agency.on_time_rate.numerator, agency.on_time_rate.denominator) == (9, 14)
    assert (agency.online_rate.numerator, agency.online_rate.denominator) == (3, 12)
    assert (agency.electronic_result_rate.numerator, agency.electronic_result_rate.denominator) == (
        3,
        7,
    )


def test_a_procedure_report_counts_that_procedure_only(models: ReadModels) -> None:
    procedure = report(models, procedure_code=THREE_DAYS)

    # Cases 5 (withdrawn), 7 (early), 9 (refused after submission), 10 (stopped while paused)
    # and 15 (received in October, resolved in November: open at October's end), all of AGENCY.
    assert procedure.counts.received == 4  # 5, 7, 10, 15
    assert procedure.counts.refused == 1
    assert (procedure.counts.finished_early, procedure.counts.finished_on_time) == (2, 1)
    assert procedure.open.open == 1
    assert procedure.on_time_rate.value == 1.0


def test_a_period_with_nothing_has_no_rates(models: ReadModels) -> None:
    empty = timeliness_report(
        models.timeliness,
        agency="000.00.99.H56",
        first_day=date(2026, 1, 1),
        last_day=date(2026, 1, 31),
        now=NOW,
        calendar=CALENDAR,
    )
    assert empty.on_time_rate.value is None
    assert empty.average_processing_days.value is None


def test_the_report_answers_fast(models: ReadModels) -> None:
    started = time.perf_counter()
    report(models, agency=AGENCY)
    assert time.perf_counter() - started < 0.2
