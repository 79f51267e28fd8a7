"""The steps read model and its report: worked examples, and figures equal to a recount here,
plainly, from the events.

Worked examples, received by 000.21.20.H56 in March 2026 (working hours 07:00-11:30 and
13:30-17:00; times Asia/Ho_Chi_Minh), the report asked for March on 4 May:

- W1, two working days, steps a, b, c, d of 4 h (units u-a … u-d): every step on time by the
  date rule, 4 + 4 + 4 + 0 h over; the dossier late (due Tue 3/3 17:00, resolved Thu 5/3).
- W2, four steps of 8 h: late at step 2 (tham-dinh in phong-chuyen-mon, 20 h used, 12 h over).
- W3, liên thông: tham-dinh (16 h) done by 000.00.13.H56, 24 h used (8 h over); tra-ket-qua
  begun Thu 5/3 11:00, due Fri 11:00, resolved Fri 6/3 15:00 (on time, 10 h used, 2 h over);
  the dossier is late (due Thu 5/3 17:00).
- W4, tiep-nhan Fri 27/3 07:00-15:00; tham-dinh begun Fri 27/3 15:00, due Mon 30/3 15:00,
  ended Thu 2/4: open and overdue at the end of March, finished late in April.
- W5, a step not in the catalogue: xin-y-kien in so-tai-nguyen, Mon 9/3 13:30-16:30 (3 h).
- W6, a supplement inside tham-dinh: asked Tue 17/3 09:00, given Thu 19/3 09:00; tham-dinh
  due Thu 15:00, ended Thu 14:00: on time, 7 h used.
- W7, a repeated step: tiep-nhan, tham-dinh, tiep-nhan again, tham-dinh again, phe-duyet.

Dossiers received by 000.00.31.H56 follow random walks (handovers in and out of order, steps
not in the catalogue, supplements, fees, withdrawals, stops, dossiers left open) for the
recount.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    EventCommand,
    EventData,
    FeePaidData,
    FeeRequestedData,
    Outcome,
    ProcessingStoppedData,
    ReceivedData,
    ResolvedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.dossier import Dossier, dossier_id, record
from domain.status import EventType
from projections.names import ALL
from projections.registry import ReadModels, open_read_models
from projections.step_report import StepFigures, StepsReport, steps_report
from tests.integration.test_projections import append, catch_up
from tests.unit.internal_procedures import (
    ELSEWHERE,
    FOUR_STEPS,
    INTERCONNECTED,
    LAND,
    NO_PLAN,
    OTHER_AGENCY,
    PROCEDURES,
    QUARTERS,
    RECEIVING,
    RULES,
    H,
)
from tests.unit.stories import CALENDAR

RANDOM_AGENCY = "000.00.31.H56"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
NOW = datetime(2026, 5, 4, 10, tzinfo=LOCAL_TZ)
END_OF_MARCH = datetime(2026, 4, 1, tzinfo=LOCAL_TZ) - timedelta(microseconds=1)
E = EventType


def m(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ)


def to(unit: str, step: str | None) -> TransferredData:
    return TransferredData("giao", unit, step)


RESOLVED = ResolvedData(Outcome.APPROVED, electronic_result=False)
WORKED: dict[str, tuple[str, list[tuple[datetime, EventData]]]] = {
    "W1": (QUARTERS, [(m(3, 2, 17), to("u-b", "b")), (m(3, 3, 17), to("u-c", "c")),
                      (m(3, 4, 17), to("u-d", "d")), (m(3, 5, 10), RESOLVED)]),
    "W2": (FOUR_STEPS, [(m(3, 2, 15), to("phong-chuyen-mon", "tham-dinh")),
                        (m(3, 5, 9), to("lanh-dao", "phe-duyet")),
                        (m(3, 5, 16), to("mot-cua", "tra-ket-qua")), (m(3, 6, 10), RESOLVED)]),
    "W3": (INTERCONNECTED, [(m(3, 2, 11), to("phong-ho-tich", "tham-dinh")),
                            (m(3, 5, 11), to("mot-cua", "tra-ket-qua")),
                            (m(3, 6, 15), RESOLVED)]),
    "W4": (FOUR_STEPS, [(m(3, 27, 15), to("phong-chuyen-mon", "tham-dinh")),
                        (m(4, 2, 9), to("lanh-dao", "phe-duyet")), (m(4, 3, 10), RESOLVED)]),
    "W5": (FOUR_STEPS, [(m(3, 9, 9), to("phong-chuyen-mon", "tham-dinh")),
                        (m(3, 9, 13, 30), to("so-tai-nguyen", "xin-y-kien")),
                        (m(3, 9, 16, 30), to("lanh-dao", "phe-duyet")),
                        (m(3, 10, 9), to("mot-cua", "tra-ket-qua")), (m(3, 10, 10), RESOLVED)]),
    "W6": (FOUR_STEPS, [(m(3, 16, 15), to("phong-chuyen-mon", "tham-dinh")),
                        (m(3, 17, 9), SupplementRequestedData("thiếu bản sao")),
                        (m(3, 19, 9), SupplementProvidedData()),
                        (m(3, 19, 14), to("lanh-dao", "phe-duyet")), (m(3, 19, 15), RESOLVED)]),
    "W7": (FOUR_STEPS, [(m(3, 23, 9), to("phong-chuyen-mon", "tham-dinh")),
                        (m(3, 23, 11), to("mot-cua", "tiep-nhan")),
                        (m(3, 23, 14), to("phong-chuyen-mon", "tham-dinh")),
                        (m(3, 24, 9), to("lanh-dao", "phe-duyet")), (m(3, 24, 11), RESOLVED)]),
}  # fmt: skip
RECEIVED_AT = {"W4": m(3, 27, 7)}
"""Each worked dossier is received at 07:00 on the day of its first event (W4: Fri 27/3)."""


def command(code: DossierCode, version: int, at: datetime, data: EventData) -> Submission:
    event_type = EventType(type(data).__name__.removesuffix("Data"))
    event_id = f"{code}-{version}"
    return Submission(
        code, EventCommand(event_id, event_type, at, Actor("cb-1", "officer"), "t", data, event_id)
    )


def worked_code(name: str) -> DossierCode:
    first = RECEIVED_AT.get(name) or WORKED[name][1][0][0].replace(hour=7, minute=0)
    return DossierCode.parse(f"{RECEIVING}-{first:%y%m%d}-{int(name[1:]):04d}")


def worked_submissions() -> list[Submission]:
    found = []
    for name, (procedure, story) in WORKED.items():
        code = worked_code(name)
        first = RECEIVED_AT.get(name) or story[0][0].replace(hour=7, minute=0)
        found.append(command(code, 1, first, ReceivedData(procedure, Channel.ONLINE, "d")))
        for version, (at, data) in enumerate(story, start=2):
            found.append(command(code, version, at, data))
    return found


# --- Random walks -------------------------------------------------------------------------------


def random_walk(rng: random.Random, serial: int) -> list[Submission]:
    """One dossier of 000.00.31.H56: received between 16/2 and 20/4, then handovers, waits and
    perhaps a finish, each 0.5 to 14 working hours after the one before, none after 30/4."""
    procedure = rng.choice([FOUR_STEPS, LAND, NO_PLAN, ELSEWHERE])
    start = m(2, 16, 7) + timedelta(seconds=rng.uniform(0, 63 * 86400))
    at = CALENDAR.next_working_moment(start)
    code = DossierCode.parse(f"{RANDOM_AGENCY}-{at:%y%m%d}-{serial:05d}")
    plan = [step.step for step in PROCEDURES[procedure].steps] or ["tham-dinh", "phe-duyet"]
    units = {s.step: s.unit for s in PROCEDURES[procedure].steps}
    story: list[tuple[datetime, EventData]] = [(at, ReceivedData(procedure, Channel.ONLINE, "d"))]
    reached = 0
    for _ in range(rng.randint(0, 8)):
        at = CALENDAR.add_working_time(at, timedelta(hours=rng.uniform(0.5, 14)))
        roll = rng.random()
        if roll < 0.45:
            reached = (
                min(reached + 1, len(plan) - 1) if rng.random() < 0.8 else rng.randrange(len(plan))
            )
            chosen = plan[reached]
            story.append((at, to(units.get(chosen, "phong-" + chosen), chosen)))
        elif roll < 0.55:
            story.append((at, to("so-tai-nguyen", "xin-y-kien")))
        elif roll < 0.62:
            story.append((at, to("van-thu", None)))
        elif roll < 0.77:
            story.append((at, SupplementRequestedData("thiếu")))
            at = CALENDAR.add_working_time(at, timedelta(hours=rng.uniform(1, 30)))
            if rng.random() < 0.1:
                story.append((at, WithdrawnData(None)))
                break
            story.append((at, SupplementProvidedData()))
        elif roll < 0.85:
            story.append((at, FeeRequestedData(50_000)))
            at = CALENDAR.add_working_time(at, timedelta(hours=rng.uniform(1, 20)))
            story.append((at, FeePaidData(50_000)))
    else:
        finish = rng.random()
        at = CALENDAR.add_working_time(at, timedelta(hours=rng.uniform(0.5, 14)))
        if finish < 0.7:
            story.append((at, RESOLVED))
        elif finish < 0.8:
            story.append((at, WithdrawnData(None)))
        elif finish < 0.86:
            story.append((at, ProcessingStoppedData("không đủ điều kiện")))
    story = [(when, data) for when, data in story if when < m(4, 30, 17)]
    return [command(code, n, when, data) for n, (when, data) in enumerate(story, start=1)]


def random_submissions(dossiers: int, seed: int) -> list[Submission]:
    rng = random.Random(seed)
    walks = [random_walk(rng, serial) for serial in range(1, dossiers + 1)]
    for walk in walks:  # every walk is a valid story (the writer would refuse the others)
        dossier = None
        for submission in walk:
            dossier = record(dossier, submission.code, submission.command, RULES, NOW).dossier
    everything = [submission for walk in walks for submission in walk]
    return sorted(everything, key=lambda submission: submission.command.occurred_at)


@pytest.fixture(scope="module")
def models(database: Database, ledger: DossierLedger) -> Iterator[ReadModels]:
    append(ledger, worked_submissions() + random_submissions(250, seed=15), rules=RULES)
    for name in ALL:
        catch_up(name, database, ledger, page_size=37)
    opened = open_read_models(database)
    yield opened
    opened.close()


def report(
    models: ReadModels, period: tuple[date, date] = MARCH, now: datetime = NOW, **scope: Any
) -> StepsReport:
    return steps_report(
        models.steps,
        models.dossier_status,
        first_day=period[0],
        last_day=period[1],
        now=now,
        calendar=CALENDAR,
        limit=1000,
        **scope,
    )


def figures(row: StepFigures) -> tuple[Any, ...]:
    c = row.counts
    return (
        c.finished_early, c.finished_on_time, c.finished_late, c.finished_unplanned,
        row.open, row.open_overdue, c.working_time_used, c.working_time_allowed, c.overrun,
        c.unplanned_working_time, c.repeated,
    )  # fmt: skip


# --- The worked examples ------------------------------------------------------------------------


def test_the_worked_examples_by_step(models: ReadModels) -> None:
    """By hand, per step of 000.21.20.H56 in March (early, on time, late, unplanned, open,
    open and overdue, hours used, allowed, over, unplanned hours, repeated):

    - tiep-nhan: W2 6 h, W3 4 h, W4 6 h, W5 2 h, W6 6 h, W7 2 h on time (of 8 h each), and W7's
      repeat (11:00-14:00, 1 h of the 6 h left, due Tue 9:00): early.
    - tham-dinh: W5 (2.5 h, due Tue 10/3 9:00) and W7's first (2 h) early; W6 (7 h) and W7's
      repeat (5 h of 6) on time; W2 late (20 h, 12 h over); W4 open and overdue.
    - phe-duyet: W2 (5 h), W6 (1 h), W7 (2 h) early, W5 (Mon 16:30-Tue 9:00, 2.5 h; due Tue
      16:30) on time.
    - tra-ket-qua: W5 (1 h) early, W2 (4 h) and W3 (10 h, 2 h over) on time.
    - a, b, c: on time, 8 h each (4 over); d on time, 3 h. xin-y-kien: 3 h, not planned."""
    rows = {(row.unit, row.step): figures(row) for row in report(models, agency=RECEIVING).steps}
    zero = 0 * H
    assert rows == {
        ("mot-cua", "tiep-nhan"): (1, 6, 0, 0, 0, 0, 27 * H, 54 * H, zero, zero, 1),
        ("phong-chuyen-mon", "tham-dinh"): (2, 2, 1, 0, 1, 1, 36.5 * H, 38 * H, 12 * H, zero, 1),
        ("lanh-dao", "phe-duyet"): (3, 1, 0, 0, 0, 0, 10.5 * H, 32 * H, zero, zero, 0),
        ("mot-cua", "tra-ket-qua"): (1, 2, 0, 0, 0, 0, 15 * H, 24 * H, 2 * H, zero, 0),
        ("u-a", "a"): (0, 1, 0, 0, 0, 0, 8 * H, 4 * H, 4 * H, zero, 0),
        ("u-b", "b"): (0, 1, 0, 0, 0, 0, 8 * H, 4 * H, 4 * H, zero, 0),
        ("u-c", "c"): (0, 1, 0, 0, 0, 0, 8 * H, 4 * H, 4 * H, zero, 0),
        ("u-d", "d"): (0, 1, 0, 0, 0, 0, 3 * H, 4 * H, zero, zero, 0),
        ("so-tai-nguyen", "xin-y-kien"): (0, 0, 0, 1, 0, 0, zero, zero, zero, 3 * H, 0),
    }


def test_units_are_ranked_by_late_steps_then_by_overrun(models: ReadModels) -> None:
    """phong-chuyen-mon has 2 late steps (W2 late, W4 overdue at the end); u-a, u-b and u-c
    overran 4 h each (a tie: by unit), mot-cua 2 h; the rest none."""
    units = report(models, agency=RECEIVING).units
    assert [(u.unit, u.late, u.counts.overrun) for u in units] == [
        ("phong-chuyen-mon", 2, 12 * H),
        ("u-a", 0, 4 * H),
        ("u-b", 0, 4 * H),
        ("u-c", 0, 4 * H),
        ("mot-cua", 0, 2 * H),
        ("lanh-dao", 0, 0 * H),
        ("so-tai-nguyen", 0, 0 * H),
        ("u-d", 0, 0 * H),
    ]
    by_overrun = report(models, agency=RECEIVING, order="overrun").units
    assert [u.unit for u in by_overrun][:5] == ["phong-chuyen-mon", "u-a", "u-b", "u-c", "mot-cua"]


def test_late_dossiers_are_attributed_to_the_steps_that_overran(models: ReadModels) -> None:
    """W1 (12 h over: a, b, c, each on time), W2 (12 h: tham-dinh) and W3 (10 h: tham-dinh in
    the other agency, tra-ket-qua); W4 finished in April."""
    found = report(models, agency=RECEIVING)
    attributed = [
        (d.code, d.overrun, [(s.run.step, s.run.agency, s.overrun) for s in d.overran])
        for d in found.late_dossiers
    ]
    assert attributed == [
        (str(worked_code("W1")), 12 * H, [("a", RECEIVING, 4 * H), ("b", RECEIVING, 4 * H),
                                           ("c", RECEIVING, 4 * H)]),
        (str(worked_code("W2")), 12 * H, [("tham-dinh", RECEIVING, 12 * H)]),
        (str(worked_code("W3")), 10 * H, [("tham-dinh", OTHER_AGENCY, 8 * H),
                                           ("tra-ket-qua", RECEIVING, 2 * H)]),
    ]  # fmt: skip
    assert found.late_dossiers_total == 3


def test_an_interconnected_dossier_is_late_in_the_second_agency(models: ReadModels) -> None:
    other = report(models, agency=OTHER_AGENCY)
    assert [
        (row.unit, row.step, row.counts.finished_late, row.counts.overrun) for row in other.steps
    ] == [("phong-ho-tich", "tham-dinh", 1, 8 * H)]
    assert [d.code for d in other.late_dossiers] == [str(worked_code("W3"))]


def test_a_past_period_stands_as_it_was_at_its_end(models: ReadModels) -> None:
    """Asked on 1 April 9:00 (W4's tham-dinh still open) and on 4 May: the same March. April
    counts W4's tham-dinh finished late (ended Thu 2/4) and its phe-duyet (Thu 2/4 9:00, due Fri
    9:00, resolved Fri 10:00) on time."""
    early = report(models, now=m(4, 1, 9), agency=RECEIVING)
    late = report(models, agency=RECEIVING)
    assert early.as_of == late.as_of == END_OF_MARCH
    assert [figures(r) for r in early.steps] == [figures(r) for r in late.steps]
    april = report(models, period=(date(2026, 4, 1), date(2026, 4, 30)), agency=RECEIVING)
    rows = {row.step: row for row in april.steps}
    assert (rows["tham-dinh"].counts.finished_late, rows["tham-dinh"].open) == (1, 0)
    assert rows["phe-duyet"].counts.finished_on_time == 1
    assert [d.code for d in april.late_dossiers] == [str(worked_code("W4"))]


# --- The recount, from the events -----------------------------------------------------------------


@dataclass
class Counted:
    """A step as counted here from the events' own fields."""

    agency: str
    unit: str
    step: str
    allowed: timedelta | None
    started: datetime
    due: datetime | None
    repeated: bool = False
    pauses: list[list[Any]] = field(default_factory=list)
    finished: datetime | None = None

    def end(self) -> datetime | None:
        """Finished while waiting: judged when the wait began."""
        if self.finished is None:
            return None
        if self.pauses and self.pauses[-1][1] is None:
            return self.pauses[-1][0]  # type: ignore[no-any-return]
        return self.finished

    def used(self) -> timedelta:
        end = self.end()
        assert end is not None
        worked = CALENDAR.working_time_between(self.started, end)
        for since, until in self.pauses:
            worked -= CALENDAR.working_time_between(since, min(until or end, end))
        return worked


def local(instant: datetime) -> date:
    return instant.astimezone(LOCAL_TZ).date()


def counted_steps(events: list[Any], code: str) -> list[Counted]:
    """The dossier's steps from its events: begun by Received (the first step of its internal
    procedure) and by Transferred naming one; stopped and resumed with the clock; ended by the
    next step and by the finish."""
    steps: list[Counted] = []
    current: Counted | None = None
    for event in events:
        at = event.occurred_at
        if isinstance(event, Dossier.Received) and event.steps:
            first = event.steps[0]
            agency = first.agency or code.split("-", 1)[0]
            current = Counted(
                agency, first.unit, first.step, first.working_time, at, event.step_due_at
            )
            steps.append(current)
        elif isinstance(event, Dossier.Transferred) and event.step_agency is not None:
            if current is not None:
                current.finished = at
            current = Counted(
                event.step_agency, event.to_unit, event.step, event.step_allowed, at,
                event.step_due_at, "repeated" in event.step_flags,
            )  # fmt: skip
            steps.append(current)
        elif current is None:
            continue
        elif isinstance(event, Dossier.SupplementRequested) or (
            isinstance(event, Dossier.FeeRequested) and event.pauses_clock
        ):
            current.pauses.append([at, None])
        elif isinstance(event, Dossier.SupplementProvided) or (
            isinstance(event, Dossier.FeePaid) and event.paused_at is not None
        ):
            current.pauses[-1][1] = at
            if current.allowed is not None:
                current.due = event.step_due_at
        elif isinstance(event, Dossier.Resolved | Dossier.Withdrawn | Dossier.ProcessingStopped):
            current.finished, current = at, None
    return steps


def dossier_late(events: list[Any]) -> bool:
    """The national rule: withdrawn on time; two supplementation requests late; else the local
    date of the finish (of the wait's start) against that of the original due date."""
    finish = events[-1]
    if not isinstance(finish, Dossier.Resolved | Dossier.ProcessingStopped):
        return False
    due, requests, paused = None, 0, None
    for event in events:
        if isinstance(event, Dossier.Received):
            due = event.due_at
        elif isinstance(event, Dossier.SupplementRequested):
            requests, paused = requests + 1, event.occurred_at
        elif isinstance(event, Dossier.SupplementProvided):
            due, paused = event.original_due_at, None
        elif isinstance(event, Dossier.FeeRequested) and event.pauses_clock:
            paused = event.occurred_at
        elif isinstance(event, Dossier.FeePaid) and event.paused_at is not None:
            due, paused = event.original_due_at, None
    assert due is not None
    return requests > 1 or local(paused or finish.occurred_at) > local(due)


def recount(
    ledger: DossierLedger, codes: list[str], period: tuple[date, date], agency: str | None
) -> tuple[dict[tuple[str, str, str], list[Any]], dict[str, list[tuple[str, str, timedelta]]]]:
    """Per agency, unit and step: early, on time, late, unplanned, open, open and overdue, used,
    allowed, over, unplanned hours, repeated; and the late dossiers' steps that overran."""
    first, last = period
    as_of = datetime.combine(last + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
    as_of -= timedelta(microseconds=1)
    zero = timedelta()
    rows: dict[tuple[str, str, str], list[Any]] = {}
    late: dict[str, list[tuple[str, str, timedelta]]] = {}
    for code in codes:
        events = list(ledger.events.get(dossier_id(DossierCode.parse(code))))
        events = [event for event in events if event.occurred_at <= as_of]  # type: ignore[attr-defined]
        steps = counted_steps(events, code)
        for counted in steps:
            if agency is not None and counted.agency != agency:
                continue
            key = (counted.agency, counted.unit, counted.step)
            row = rows.setdefault(key, [0, 0, 0, 0, 0, 0, zero, zero, zero, zero, 0])
            if counted.finished is None:
                row[4] += 1
                moment = (
                    counted.pauses[-1][0]
                    if counted.pauses and counted.pauses[-1][1] is None
                    else as_of
                )
                row[5] += counted.due is not None and local(moment) > local(counted.due)
                continue
            if not first <= local(counted.finished) <= last:
                continue
            used = counted.used()
            row[10] += counted.repeated
            if counted.allowed is None or counted.due is None:
                row[3] += 1
                row[9] += used
                continue
            end, due = local(counted.end() or counted.finished), local(counted.due)
            row[0 if end < due else 1 if end == due else 2] += 1
            row[6] += used
            row[7] += counted.allowed
            row[8] += max(used - counted.allowed, zero)
        finished = events and isinstance(events[-1], Dossier.Resolved | Dossier.ProcessingStopped)
        in_scope = agency is None or any(counted.agency == agency for counted in steps)
        in_period = finished and first <= local(events[-1].occurred_at) <= last
        if in_period and steps and in_scope and dossier_late(events):
            late[code] = [
                (c.step, c.agency, c.used() if c.allowed is None else c.used() - c.allowed)
                for c in steps
                if (c.allowed is None and c.used() > zero)
                or (c.allowed is not None and c.used() > c.allowed)
            ]
    return rows, late


def all_codes(models: ReadModels) -> list[str]:
    codes = [str(worked_code(name)) for name in WORKED]
    with models.steps.datastore.get_connection() as connection:
        rows = connection.execute("SELECT code FROM dossier_status ORDER BY code").fetchall()
    return sorted(set(codes) | {row["code"] for row in rows})


@pytest.mark.parametrize(
    ("period", "agency"),
    [
        (MARCH, None),
        (MARCH, RANDOM_AGENCY),
        ((date(2026, 2, 16), date(2026, 4, 30)), None),
        ((date(2026, 4, 6), date(2026, 4, 12)), RANDOM_AGENCY),
    ],
)
def test_the_report_equals_a_recount_from_the_events(
    models: ReadModels, ledger: DossierLedger, period: tuple[date, date], agency: str | None
) -> None:
    expected_rows, expected_late = recount(ledger, all_codes(models), period, agency)
    found = report(models, period=period, agency=agency)

    rows = {(r.agency, r.unit, r.step): list(figures(r)) for r in found.steps}
    assert rows == {key: row for key, row in expected_rows.items() if any(row)}
    late = {
        d.code: [(s.run.step, s.run.agency, s.overrun or s.working_time_used) for s in d.overran]
        for d in found.late_dossiers
    }
    assert late == expected_late
    assert found.late_dossiers_total == len(expected_late)
    # The recount is not empty: the random walks took every path.
    if period[1] - period[0] > timedelta(days=20):
        totals = [sum(row[i] for row in expected_rows.values()) for i in range(6)]
        assert all(totals), totals
        assert sum(row[10] for row in expected_rows.values()) > 0
