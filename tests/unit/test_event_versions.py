"""Events stored before procedures could set hours, same-day cutoffs, no due date, fee pauses
or result documents still load: their class version 1 is upcast to version 2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import msgspec
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from application.mapper import MsgspecMapper
from domain.dossier import Dossier
from domain.procedures import ProcessingTime, TimeUnit

MAPPER = MsgspecMapper(transcoder=JSONTranscoder())
AT = datetime(2025, 3, 3, 2, tzinfo=UTC)
ENVELOPE = {
    "event_id": "e-1", "occurred_at": AT.isoformat(), "recorded_at": AT.isoformat(),
    "actor_id": "cb-1", "actor_role": "officer", "source": "test", "fingerprint": "fp",
    "timestamp": AT.isoformat(),
}  # fmt: skip


ONE_DOSSIER = uuid4()


def stored(event_class: type[Any], version: int, fields: dict[str, Any]) -> StoredEvent:
    """An event as version 1 of the class stored it: no class_version, none of the new fields."""
    return StoredEvent(
        originator_id=ONE_DOSSIER,
        originator_version=version,
        topic=f"{event_class.__module__}:{event_class.__qualname__}",
        state=msgspec.json.encode(ENVELOPE | fields),
    )


def test_a_version_1_receipt_loads_with_whole_days_no_pause_and_a_document() -> None:
    event = MAPPER.to_domain_event(
        stored(
            Dossier.Received,
            1,
            {
                "dossier_code": "000.00.31.H56-250303-0001", "procedure_code": "1.001757",
                "procedure_name": "x", "processing_time_amount": 5,
                "processing_time_unit": "working_days", "channel": "in_person",
                "lookup_secret_digest": "d", "applicant_ref": None,
                "due_at": "2025-03-10T02:00:00+00:00",
            },
        )
    )  # fmt: skip
    dossier = event.mutate(None)  # type: ignore[attr-defined]
    assert dossier.processing_time == ProcessingTime(5, TimeUnit.WORKING_DAYS)
    assert (dossier.fee_pauses_clock, dossier.result_document) == (False, True)
    assert dossier.due_at == datetime(2025, 3, 10, 2, tzinfo=UTC)


def test_version_1_fee_events_kept_the_clock_running() -> None:
    requested = MAPPER.to_domain_event(stored(Dossier.FeeRequested, 2, {"amount_vnd": 50_000}))
    paid = MAPPER.to_domain_event(stored(Dossier.FeePaid, 3, {"amount_vnd": 50_000}))
    assert requested.pauses_clock is False  # type: ignore[attr-defined]
    assert paid.paused_at is None and paid.due_at is None  # type: ignore[attr-defined]


def test_new_events_round_trip_with_their_class_version() -> None:
    event = MAPPER.to_domain_event(stored(Dossier.FeeRequested, 2, {"amount_vnd": 1}))
    again = MAPPER.to_domain_event(MAPPER.to_stored_event(event))
    assert vars(again) == vars(event)
    assert b'"class_version":2' in MAPPER.to_stored_event(event).state


def test_events_stored_before_internal_procedures_load_and_begin_no_step() -> None:
    """A receipt of version 2 has no internal procedure; a handover of version 1 named a step as
    a label (no step is timed from it); a supplement and a payment of before resume none."""
    received = MAPPER.to_domain_event(
        stored(
            Dossier.Received,
            1,
            {
                "class_version": 2, "dossier_code": "000.00.31.H56-250303-0001",
                "procedure_code": "1.001757", "procedure_name": "x",
                "processing_time_amount": 5, "processing_time_unit": "working_days",
                "same_day_cutoff": None, "fee_pauses_clock": False, "result_document": True,
                "channel": "in_person", "lookup_secret_digest": "d", "applicant_ref": None,
                "due_at": "2025-03-10T02:00:00+00:00",
            },
        )
    )  # fmt: skip
    transferred = MAPPER.to_domain_event(
        stored(
            Dossier.Transferred,
            2,
            {"from_unit": "mot-cua", "to_unit": "phong", "step": "thẩm định", "note": None},
        )
    )
    provided = MAPPER.to_domain_event(
        stored(
            Dossier.SupplementProvided,
            3,
            {"paused_at": AT.isoformat(), "policy": "restart", "due_at": None,
             "original_due_at": None},
        )
    )  # fmt: skip
    paid = MAPPER.to_domain_event(
        stored(Dossier.FeePaid, 4, {"class_version": 2, "amount_vnd": 1, "paused_at": None,
                                    "policy": None, "due_at": None, "original_due_at": None})
    )  # fmt: skip
    assert received.steps == () and received.step_due_at is None  # type: ignore[attr-defined]
    assert transferred.step_agency is None and transferred.step_flags == ()  # type: ignore[attr-defined]
    assert provided.step_due_at is None and paid.step_due_at is None  # type: ignore[attr-defined]
    dossier = transferred.mutate(received.mutate(None))  # type: ignore[attr-defined]
    assert dossier.steps == () and dossier.current_step is None
