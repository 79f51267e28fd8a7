"""Findings 2 and 3: a report describes its period as it stood at the period's end, and
indicators 2.2 and 4.1 are counted as Decision 766/QĐ-TTg counts them.

March 2026 of one agency, asked on 2 April and again on 1 June, after every dossier open at the
end of March had moved on (resolved, supplemented, withdrawn). Decision 766/QĐ-TTg, indicator
2.1: the denominator is the dossiers handled in the period, those carried over from earlier
periods included; a dossier unfinished at the end of the period is judged at that end (in time
or overdue). So March's numbers are fixed once March is over.

Five working days (5 x 8 h) unless said otherwise; times Asia/Ho_Chi_Minh.

- D1: received Mon 23/3 09:00, due Mon 30/3 09:00; resolved 3/4. Open at the end, overdue.
- D2: online, received Thu 26/3 09:00, due Thu 2/4 09:00; resolved 15/4 (late). Open, in time.
- D3: received Fri 27/3 09:00, due Fri 3/4 09:00; supplement asked Mon 30/3, given 6/4,
  resolved 10/4. Open at the end, waiting since 30/3 (before its due date): in time.
- D4: received Mon 23/2 09:00, due Mon 2/3 09:00; resolved Tue 10/3 09:00, electronic.
  Carried over from February; late.
- D5: received Fri 27/2 09:00, due Fri 6/3 09:00; withdrawn 20/4. Carried over; open, overdue.
- D6: received Mon 2/2, resolved Thu 5/2: February's, not March's.
- D7: received Mon 2/3 09:00, resolved Wed 4/3 09:00, electronic: early.
- D8: 2 working days, no document (money paid out): received Mon 9/3 09:00, due and resolved
  Wed 11/3 09:00: on time.
- D9: online, 4 working hours: received Tue 10/3 10:00, due 16:00, resolved 15:00, electronic:
  on time.
- D10: 10 calendar days: received Mon 2/3 09:00, due Thu 12/3 17:00, resolved Tue 10/3 15:00
  on paper: early.
- D11: received Wed 1/4: April's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from application.bootstrap import Database
from application.ledger import DossierLedger
from application.writer import Submission
from domain.calendar import LOCAL_TZ
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    EventCommand,
    EventData,
    Outcome,
    ReceivedData,
    ResolvedData,
    SupplementProvidedData,
    SupplementRequestedData,
    WithdrawnData,
)
from domain.procedures import TimeUnit
from domain.status import EventType
from projections.names import TIMELINESS
from projections.registry import ReadModels, open_read_models
from projections.report import TimelinessReport, timeliness_report
from tests.integration.test_projections import append, catch_up
from tests.unit.stories import (
    CALENDAR,
    FIVE_WORKING_DAYS,
    FOUR_WORKING_HOURS,
    NO_DOCUMENT,
    RULES,
    TEN_CALENDAR_DAYS,
    at,
)

AGENCY = "000.00.31.H56"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
ASKED_FIRST = at(2026, 4, 2, 10)
ASKED_AGAIN = at(2026, 6, 1, 10)


def receipt(procedure: str, channel: Channel = Channel.IN_PERSON) -> ReceivedData:
    return ReceivedData(procedure, channel, "digest")


def resolution(electronic: bool) -> ResolvedData:
    return ResolvedData(Outcome.APPROVED, electronic)


Step = tuple[datetime, EventData]

BY_THE_FIRST_ASKING: dict[int, list[Step]] = {
    1: [(at(2026, 3, 23), receipt(FIVE_WORKING_DAYS))],
    2: [(at(2026, 3, 26), receipt(FIVE_WORKING_DAYS, Channel.ONLINE))],
    3: [(at(2026, 3, 27), receipt(FIVE_WORKING_DAYS)),
        (at(2026, 3, 30), SupplementRequestedData("thiếu giấy tờ"))],
    4: [(at(2026, 2, 23), receipt(FIVE_WORKING_DAYS)), (at(2026, 3, 10), resolution(True))],
    5: [(at(2026, 2, 27), receipt(FIVE_WORKING_DAYS))],
    6: [(at(2026, 2, 2), receipt(FIVE_WORKING_DAYS)), (at(2026, 2, 5), resolution(True))],
    7: [(at(2026, 3, 2), receipt(FIVE_WORKING_DAYS)), (at(2026, 3, 4), resolution(True))],
    8: [(at(2026, 3, 9), receipt(NO_DOCUMENT)), (at(2026, 3, 11), resolution(False))],
    9: [(at(2026, 3, 10, 10), receipt(FOUR_WORKING_HOURS, Channel.ONLINE)),
        (at(2026, 3, 10, 15), resolution(True))],
    10: [(at(2026, 3, 2), receipt(TEN_CALENDAR_DAYS)), (at(2026, 3, 10, 15), resolution(False))],
    11: [(at(2026, 4, 1), receipt(FIVE_WORKING_DAYS))],
}  # fmt: skip

AFTERWARDS: dict[int, list[Step]] = {
    1: [(at(2026, 4, 3), resolution(True))],
    2: [(at(2026, 4, 15), resolution(False))],
    3: [(at(2026, 4, 6), SupplementProvidedData()), (at(2026, 4, 10), resolution(True))],
    5: [(at(2026, 4, 20), WithdrawnData("công dân rút hồ sơ"))],
    11: [(at(2026, 4, 3), resolution(True))],
}


def submissions(stories: dict[int, list[Step]], first_version: dict[int, int]) -> list[Submission]:
    found = []
    for serial, steps in stories.items():
        code = DossierCode.parse(f"{AGENCY}-260301-{serial:04d}")
        for offset, (occurred_at, data) in enumerate(steps):
            version = first_version.get(serial, 1) + offset
            event_id = f"as-of-{serial}-{version}"
            event_type = EventType(type(data).__name__.removesuffix("Data"))
            command = EventCommand(
                event_id, event_type, occurred_at, Actor("cb-1", "officer"), "test", data, event_id
            )
            found.append(Submission(code, command))
    return sorted(found, key=lambda submission: submission.command.occurred_at)


@pytest.fixture(scope="module")
def models(database: Database, ledger: DossierLedger) -> Iterator[ReadModels]:
    opened = open_read_models(database)
    yield opened
    opened.close()


def march(models: ReadModels, now: datetime) -> TimelinessReport:
    return timeliness_report(
        models.timeliness,
        agency=AGENCY,
        first_day=MARCH[0],
        last_day=MARCH[1],
        now=now,
        calendar=CALENDAR,
        procedures=RULES.procedures,
    )


def figures(report: TimelinessReport) -> tuple[object, ...]:
    return (
        report.as_of,
        report.counts,
        report.open,
        report.on_time_rate,
        report.average_processing_days,
        report.average_processing_time_by_procedure,
        report.online_rate,
        report.electronic_result_rate,
    )


def test_a_past_period_gives_the_same_numbers_before_and_after_its_open_dossiers_finish(
    database: Database, ledger: DossierLedger, models: ReadModels
) -> None:
    """Asked on 2/4: 5 dossiers finished in March (D4 late, D7 and D10 early, D8 and D9 on
    time) and 4 open at its end (D1 and D5 overdue, D2 in time, D3 waiting since before its due
    date): 2.1 = (2 + 2 + 2 in time) / 9. Asked again on 1/6, after D1, D2 and D3 were resolved
    (D2 late) and D5 withdrawn in April: the same numbers, to the last counter."""
    append(ledger, submissions(BY_THE_FIRST_ASKING, {}), rules=RULES)
    catch_up(TIMELINESS, database, ledger, page_size=4)
    first = march(models, ASKED_FIRST)

    assert first.as_of == datetime(2026, 4, 1, tzinfo=LOCAL_TZ) - timedelta(microseconds=1)
    assert (first.counts.finished_early, first.counts.finished_on_time) == (2, 2)
    assert first.counts.finished_late == 1
    assert (first.open.open, first.open.overdue) == (4, 2)
    assert (first.on_time_rate.numerator, first.on_time_rate.denominator) == (6, 9)
    assert first.counts.received == 7  # D1-D3 and D7-D10; D4 and D5 were carried over

    versions = {serial: len(steps) + 1 for serial, steps in BY_THE_FIRST_ASKING.items()}
    append(ledger, submissions(AFTERWARDS, versions), rules=RULES)
    catch_up(TIMELINESS, database, ledger, page_size=3)
    again = march(models, ASKED_AGAIN)

    assert figures(again) == figures(first)


def test_the_average_processing_time_is_per_procedure_in_its_own_unit(
    models: ReadModels,
) -> None:
    """Decision 766, 2.2: per procedure, over its dossiers resolved in the period, in the
    procedure's unit.
    Five working days, D4 and D7: D4 23/2 09:00 to 10/3 09:00 is 23/2 6 h + 24-27/2 32 h +
    2-6/3 40 h + 9/3 8 h + 10/3 2 h = 88 h = 11 days; D7 2/3 09:00 to 4/3 09:00 is 16 h = 2
    days; (11 + 2) / 2 = 6.5 working days.
    Two working days, D8: 9/3 09:00 to 11/3 09:00 = 16 h = 2 working days.
    Four working hours, D9: 10:00-11:30 and 13:30-15:00 = 3 working hours.
    Ten calendar days, D10: 2/3 09:00 to 10/3 15:00 = 8 days 6 h = 8.25 calendar days.
    Every procedure together, in working days as before: D10 is 2/3 6 h + 3-6/3 32 h + 9/3
    8 h + 10/3 6 h = 52 h; (88 + 16 + 16 + 3 + 52) h / 8 h / 5 dossiers = 4.375."""
    report = march(models, ASKED_AGAIN)
    by_procedure = {
        average.procedure_code: (average.unit, average.average.value, average.average.denominator)
        for average in report.average_processing_time_by_procedure
    }
    assert by_procedure == {
        FIVE_WORKING_DAYS: (TimeUnit.WORKING_DAYS, 6.5, 2),
        FOUR_WORKING_HOURS: (TimeUnit.WORKING_HOURS, 3.0, 1),
        NO_DOCUMENT: (TimeUnit.WORKING_DAYS, 2.0, 1),
        TEN_CALENDAR_DAYS: (TimeUnit.CALENDAR_DAYS, 8.25, 1),
    }
    assert report.average_processing_days.value == pytest.approx(4.375)


def test_the_electronic_result_rate_counts_procedures_that_give_a_document(
    models: ReadModels,
) -> None:
    """Decision 766, 4.1: dossiers given an electronic result / dossiers resolved, both among
    procedures whose result is a document. Resolved in March: D4, D7, D9 (electronic) and D10
    (paper) give documents; D8 pays money out and gives none. 3 / 4, where dividing by every
    resolved dossier would say 3 / 5."""
    report = march(models, ASKED_AGAIN)
    assert (report.counts.resolved, report.counts.resolved_electronic) == (5, 3)
    rate = report.electronic_result_rate
    assert (rate.numerator, rate.denominator) == (3, 4)


def test_the_online_rate_is_unchanged(models: ReadModels) -> None:
    """3.3: D2 and D9 of the 7 dossiers received in March came online."""
    rate = march(models, ASKED_AGAIN).online_rate
    assert (rate.numerator, rate.denominator) == (2, 7)


def test_a_period_not_over_yet_is_reported_as_of_the_moment_of_asking(
    models: ReadModels,
) -> None:
    """March asked at 10:00 on Tue 24/3: as of that moment. Finished by then: D4 (late), D7,
    D10 (early), D8, D9 (on time). Open then: D1 (received 23/3, due 30/3: in time) and D5
    (overdue since 6/3); D2 and D3 were not received yet."""
    report = march(models, at(2026, 3, 24, 10))
    assert report.as_of == at(2026, 3, 24, 10)
    assert (report.open.open, report.open.overdue) == (2, 1)
    assert report.counts.received == 5  # D1, D7, D8, D9, D10
