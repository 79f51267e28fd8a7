"""The dossiers open at the end of a day, as a past period's report counts them: read from
`timeliness_open_days` (ended spells, a row per agency, procedure and day) and the spells not
ended yet, they equal a plain recount of every spell that held the day's last instant."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from application.bootstrap import Database
from application.ledger import DossierLedger
from domain.calendar import LOCAL_TZ
from projections.classification import OpenBounds
from projections.names import TIMELINESS
from projections.registry import open_read_model_view
from projections.report import period_end
from projections.timeliness import OpenCounts, TimelinessView
from tests.integration.test_projections import (
    AGENCIES,
    CALENDAR,
    append,
    catch_up,
    random_histories,
)


@pytest.fixture(scope="module")
def view(database: Database, ledger: DossierLedger) -> TimelinessView:
    append(ledger, random_histories(200, seed=41))
    catch_up(TIMELINESS, database, ledger, page_size=61)  # pages cut through dossiers
    opened = open_read_model_view(database, TIMELINESS)
    assert isinstance(opened, TimelinessView)
    return opened


def spells(view: TimelinessView) -> list[dict[str, Any]]:
    with view.datastore.get_connection() as connection:
        return connection.execute(f"SELECT * FROM {TIMELINESS}_spells").fetchall()


def recount(rows: list[dict[str, Any]], day: date, agency: str | None) -> OpenCounts:
    """The spells holding the day's last instant, classified as the report's rule says."""
    end, day_began = period_end(day), datetime.combine(day, time(), LOCAL_TZ)
    holding = [
        row
        for row in rows
        if row["since"] <= end
        and (row["until"] is None or end < row["until"])
        and agency in (None, row["agency"])
    ]
    overdue = [
        row
        for row in holding
        if row["settled_timeliness"] == "overdue"
        or (
            row["settled_timeliness"] is None
            and (
                row["supplement_requests"] > 1
                or (row["original_due_at"] is not None and row["original_due_at"] < day_began)
            )
        )
    ]
    return OpenCounts(open=len(holding), overdue=len(overdue))


def days_of(rows: list[dict[str, Any]]) -> list[date]:
    instants = [row["since"] for row in rows] + [row["until"] for row in rows if row["until"]]
    first, last = (CALENDAR.local_date(at) for at in (min(instants), max(instants)))
    return [first + timedelta(days=n) for n in range(-1, (last - first).days + 2)]


def test_the_dossiers_open_at_the_end_of_each_day_equal_a_recount_of_the_spells(
    view: TimelinessView,
) -> None:
    rows = spells(view)
    assert any(row["until"] is None for row in rows) and any(row["until"] for row in rows)
    seen = OpenCounts(0, 0)
    for day in days_of(rows):
        for agency in (None, AGENCIES[0]):
            bounds = OpenBounds.at(period_end(day), CALENDAR)
            counted = view.count_open_at(agency=agency, procedure_code=None, bounds=bounds)
            assert counted == recount(rows, day, agency), (day, agency)
            seen = OpenCounts(seen.open + counted.open, seen.overdue + counted.overdue)
    assert seen.open > seen.overdue > 0  # the days had open dossiers, some of them overdue


def test_an_instant_within_a_day_is_counted_from_every_spell_holding_it(
    view: TimelinessView,
) -> None:
    rows = spells(view)
    for day in days_of(rows)[::5]:
        noon = datetime.combine(day, time(12), LOCAL_TZ)
        counted = view.count_open_at(
            agency=None, procedure_code=None, bounds=OpenBounds.at(noon, CALENDAR)
        )
        assert counted.open == sum(
            1
            for row in rows
            if row["since"] <= noon and (row["until"] is None or noon < row["until"])
        )


def test_open_days_created_beside_existing_spells_are_filled_from_them(
    database: Database, view: TimelinessView
) -> None:
    """An upgrade: the table appears beside spells written by an earlier version."""
    statement = f"SELECT * FROM {TIMELINESS}_open_days ORDER BY agency, procedure_code, day"
    with view.datastore.get_connection() as connection:
        before = connection.execute(statement).fetchall()
        connection.execute(f"DELETE FROM {TIMELINESS}_open_days")
        connection.commit()
    assert before
    reopened = open_read_model_view(database, TIMELINESS)
    try:
        with reopened.datastore.get_connection() as connection:
            assert connection.execute(statement).fetchall() == before
    finally:
        reopened.datastore.close()
