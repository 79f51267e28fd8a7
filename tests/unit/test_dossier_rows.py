"""Per-dossier rows: a row turns back into the Dossier it was written from, the next event
applies to it as to the aggregate, a lost or doubled event is refused, and the cache of written
dossiers is trusted only at its own position."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.catalogue import load_calendar, load_procedures
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    EventCommand,
    EventData,
    FeePaidData,
    FeeRequestedData,
    Outcome,
    ReceivedData,
    ResolvedData,
    Rules,
    SupplementProvidedData,
    SupplementRequestedData,
)
from domain.dossier import Dossier, record
from domain.status import EventType
from projections.dossier_rows import (
    RESTORED_ATTRIBUTES,
    DossierCache,
    ProjectionGapError,
    advance,
    restore,
)
from projections.dossier_status import COLUMNS
from projections.timeliness import Tally, Waits, spell_key

RULES = Rules(calendar=load_calendar(None), procedures=load_procedures(None))
CODE = DossierCode.parse("000.00.31.H56-261005-0001")
START = datetime(2026, 10, 5, 2, tzinfo=UTC)  # 09:00 in Hà Nội, a Monday
STEPS: list[tuple[EventType, EventData]] = [
    (EventType.RECEIVED, ReceivedData("1.001757", Channel.ONLINE, "digest", "ref")),
    (EventType.SUPPLEMENT_REQUESTED, SupplementRequestedData("thiếu giấy tờ")),
    (EventType.SUPPLEMENT_PROVIDED, SupplementProvidedData()),
    (EventType.FEE_REQUESTED, FeeRequestedData(50_000)),
    (EventType.FEE_PAID, FeePaidData(50_000)),
]
RECORDED_AT = START + timedelta(days=30)


def command(version: int, event_type: EventType, data: EventData) -> EventCommand:
    return EventCommand(
        f"e-{version}",
        event_type,
        START + timedelta(hours=20 * version),
        Actor("cb-1", "officer"),
        "test",
        data,
        f"f-{version}",
    )


def recorded(
    dossier: Dossier | None, version: int, event_type: EventType, data: EventData
) -> Dossier:
    """The dossier after one more event (the same object, changed, when there is one)."""
    return record(dossier, CODE, command(version, event_type, data), RULES, RECORDED_AT).dossier


def dossier_after(steps: int) -> Dossier:
    dossier = None
    for version, (event_type, data) in enumerate(STEPS[:steps], start=1):
        dossier = recorded(dossier, version, event_type, data)
    assert dossier is not None
    return dossier


def row_of(dossier: Dossier) -> dict[str, Any]:
    return {column.name: column.value(dossier, RULES.calendar) for column in COLUMNS}


KEPT = [name for name in RESTORED_ATTRIBUTES if name in {column.name for column in COLUMNS}]


def state(dossier: Dossier) -> dict[str, Any]:
    """What dossier_status keeps of a dossier."""
    kept = {name: getattr(dossier, name) for name in KEPT}
    return kept | {"code": dossier.code, "version": dossier.version, "at": dossier.modified_on}


def next_event(dossier: Dossier) -> Dossier.Event:
    """Resolve the dossier (it changes) and return the event."""
    resolution = ResolvedData(Outcome.APPROVED, electronic_result=True)
    event = recorded(dossier, 9, EventType.RESOLVED, resolution).collect_events()[-1]
    assert isinstance(event, Dossier.Event)
    return event


def test_a_row_turns_back_into_the_dossier_it_was_written_from() -> None:
    dossier = dossier_after(5)

    assert state(restore(row_of(dossier))) == state(dossier)


def test_the_next_event_applies_to_a_restored_row_as_to_the_aggregate() -> None:
    restored = restore(row_of(dossier_after(5)))
    event = next_event(dossier_after(5))

    assert state(advance(restored, event)) == state(advance(dossier_after(5), event))


def test_an_event_that_does_not_continue_the_row_is_refused() -> None:
    event = next_event(dossier_after(5))  # version 6

    with pytest.raises(ProjectionGapError, match=r"version 6.*at version 4"):
        advance(restore(row_of(dossier_after(4))), event)  # one lost
    with pytest.raises(ProjectionGapError):
        advance(advance(dossier_after(5), event), event)  # doubled
    with pytest.raises(ProjectionGapError):
        advance(None, event)  # no row


def test_the_cache_is_trusted_only_at_the_position_it_was_written_at() -> None:
    cache: DossierCache[str] = DossierCache(max_size=2)
    key = dossier_after(1).id
    cache.check(0)
    cache.stage({key: "written"})
    cache.commit(10)

    cache.check(10)
    assert cache.lookup([key]) == ({key: "written"}, [])
    cache.check(12)  # another writer moved the read model on
    assert cache.lookup([key]) == ({}, [key])


def test_a_failed_page_empties_the_cache() -> None:
    cache: DossierCache[str] = DossierCache()
    key = dossier_after(1).id
    cache.check(0)
    cache.stage({key: "written"})
    cache.commit(10)
    cache.stage({key: "advanced in memory"})
    cache.discard()

    cache.check(10)
    assert cache.lookup([key]) == ({}, [key])


def test_the_tally_counts_receipt_and_resolution_with_the_wait_excluded() -> None:
    tally = Tally(RULES.calendar)
    dossier = None
    for version, (event_type, data) in enumerate(STEPS, start=1):
        before = None if dossier is None else dossier.status
        before_spell = spell_key(dossier)
        dossier = recorded(dossier, version, event_type, data)
        tally.waits.setdefault(dossier.id, Waits())
        event = dossier.collect_events()[-1]
        tally.count(event, before, before_spell, dossier)  # type: ignore[arg-type]
    assert dossier is not None and dossier.received_at is not None
    before = dossier.status
    before_spell = spell_key(dossier)
    event = next_event(dossier)
    tally.count(event, before, before_spell, dossier)

    receipt_day, resolution_day = [counts for _key, counts in sorted(tally.days.items())]
    assert (receipt_day.received, receipt_day.received_online) == (1, 1)
    assert (resolution_day.resolved, resolution_day.resolved_electronic) == (1, 1)
    assert resolution_day.finished_early + resolution_day.finished_on_time == 1
    waited = tally.waits[dossier.id].working
    worked = RULES.calendar.working_time_between(dossier.received_at, event.occurred_at)
    assert waited > timedelta()
    assert resolution_day.processing_working_time == worked - waited
