"""Events written, the application restarted, the same events read back."""

from __future__ import annotations

from datetime import UTC, datetime

from application.bootstrap import Database, open_ledger
from application.catalogue import load_calendar, load_procedures
from domain.code import DossierCode
from domain.commands import (
    Actor,
    Channel,
    EventCommand,
    ReceivedData,
    Rules,
    SupplementRequestedData,
    TransferredData,
)
from domain.dossier import dossier_id, record
from domain.status import EventType, Status

CODE = DossierCode.parse("000.00.31.H56-260213-0001")
RULES = Rules(calendar=load_calendar(None), procedures=load_procedures(None))


def command(n: int, event_type: EventType, data: object, at: str) -> EventCommand:
    return EventCommand(
        event_id=f"rt-{n}",
        type=event_type,
        occurred_at=datetime.fromisoformat(at),
        actor=Actor(id="cb-0042", role="officer"),
        source="test",
        data=data,  # type: ignore[arg-type]
        fingerprint=f"fp-{n}",
    )


def test_events_survive_a_restart_unchanged(database: Database) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    ledger = open_ledger(database, pool_size=2)
    dossier = None
    for n, (event_type, data, at) in enumerate(
        [
            (
                EventType.RECEIVED,
                ReceivedData("1.001757", Channel.IN_PERSON, "d" * 64, "ref-1"),
                "2026-02-13T10:00:00+07:00",
            ),
            (
                EventType.TRANSFERRED,
                TransferredData("mot-cua", "phong-tu-phap", "thẩm định", "ghi chú"),
                "2026-02-13T14:00:00+07:00",
            ),
            (
                EventType.SUPPLEMENT_REQUESTED,
                SupplementRequestedData("thiếu bản sao", ("CCCD", "sổ hộ khẩu")),
                "2026-02-23T09:00:00+07:00",
            ),
        ]
    ):
        dossier = record(dossier, CODE, command(n, event_type, data, at), RULES, now).dossier
    assert dossier is not None
    ledger.save(dossier)
    written = list(ledger.events.get(dossier_id(CODE)))
    stored = ledger.recorder.select_events(dossier_id(CODE))
    ledger.close()

    reopened = open_ledger(database, pool_size=2)
    try:
        read_back = list(reopened.events.get(dossier_id(CODE)))
        assert read_back == written
        assert [vars(e) for e in read_back] == [vars(e) for e in written]
        assert reopened.recorder.select_events(dossier_id(CODE)) == stored
        restored = reopened.get_dossier(CODE)
        assert restored is not None
        assert restored.status is Status.SUPPLEMENT_REQUESTED
        assert restored.version == 3
        assert restored.due_at == dossier.due_at
        assert restored.supplement_requests == 1
    finally:
        reopened.close()
