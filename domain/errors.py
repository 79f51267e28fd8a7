"""Why the ledger refuses an event: named exceptions with a stable rule and the field at fault.

`rule` is a machine-readable slug (it ends up in the problem document's `type`), `field` the wire
field the sender should fix (`type`, `occurred_at`, `data.procedure_code`, …), and the message says
it in plain English. The mapping to HTTP lives in `api/`, once.
"""

# Business names (TransitionNotAllowed, not TransitionNotAllowedError): the project's naming.

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.status import TRANSITIONS, EventType, Status


class DomainError(Exception):
    """A business rule refused what was asked."""

    def __init__(self, message: str, *, rule: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.field = field


class TransitionNotAllowed(DomainError):
    """The event is not allowed in the dossier's current status (the one transition table)."""

    def __init__(self, status: Status | None, event_type: EventType) -> None:
        self.status = status
        self.event_type = event_type
        allowed = ", ".join(sorted(TRANSITIONS[status])) or "none"
        if status is None:
            where = "the dossier does not exist yet"
        else:
            where = f"the dossier is in status {status.label}"
        message = f"{event_type} is not allowed when {where}; allowed there: {allowed}"
        super().__init__(message, rule="transition_not_allowed", field="type")


class OccurredAtBeforePrevious(DomainError):
    """Events of one dossier are in the order they happened: occurred_at never goes back."""

    def __init__(self, occurred_at: datetime, previous: datetime) -> None:
        self.occurred_at = occurred_at
        self.previous = previous
        message = (
            f"occurred_at {occurred_at.isoformat()} is before the dossier's previous event "
            f"({previous.isoformat()}); events of a dossier must be sent in the order they happened"
        )
        super().__init__(message, rule="occurred_at_before_previous", field="occurred_at")


class OccurredAtInFuture(DomainError):
    """occurred_at may run ahead of the ledger's clock by a small clock skew, no more."""

    def __init__(self, occurred_at: datetime, recorded_at: datetime, skew: timedelta) -> None:
        self.occurred_at = occurred_at
        self.recorded_at = recorded_at
        message = (
            f"occurred_at {occurred_at.isoformat()} is in the future: the ledger's clock says "
            f"{recorded_at.isoformat()} and tolerates {skew.total_seconds():g} s of clock skew"
        )
        super().__init__(message, rule="occurred_at_in_future", field="occurred_at")


class UnknownProcedure(DomainError):
    """The procedure code is not in the catalogue, so no processing time is known."""

    def __init__(self, procedure_code: str) -> None:
        self.procedure_code = procedure_code
        message = f"procedure {procedure_code!r} is not in the ledger's procedure catalogue"
        super().__init__(message, rule="unknown_procedure", field="data.procedure_code")


class DistrictLevelAbolished(DomainError):
    """A district-level procedure for a dossier received on or after 1 July 2025: since then
    local government has two levels (province, commune) and no district handles dossiers."""

    def __init__(self, procedure_code: str, received_on: date) -> None:
        self.procedure_code = procedure_code
        message = (
            f"procedure {procedure_code!r} is a district-level procedure; district governments "
            f"ceased on 2025-07-01 and this dossier was received on {received_on.isoformat()}: "
            "use the procedure's province or commune version"
        )
        super().__init__(message, rule="district_level_abolished", field="data.procedure_code")


class EventIdReused(DomainError):
    """The same event_id was applied before with different content: a retry must be identical."""

    def __init__(self, event_id: str, version: int) -> None:
        self.event_id = event_id
        self.version = version
        message = (
            f"event_id {event_id!r} was already recorded (version {version}) with different "
            "content; a retry must repeat the event exactly, a new event needs a new event_id"
        )
        super().__init__(message, rule="event_id_reused", field="event_id")


class InvalidEventData(DomainError):
    """A value that its type allows but the rules do not (a negative fee, an empty reason, …)."""

    def __init__(self, field: str, message: str, *, rule: str = "invalid_value") -> None:
        super().__init__(f"{field}: {message}", rule=rule, field=field)


class InvalidDossierCode(DomainError):
    """A dossier code (mã hồ sơ) that does not follow `{agency}-{yyMMdd}-{serial}`."""

    def __init__(self, text: str, part: str, problem: str) -> None:
        self.text = text
        self.part = part
        message = f"invalid dossier code {text!r}: {problem}"
        super().__init__(message, rule="invalid_dossier_code", field="dossier_code")


class ExpectedVersionMismatch(DomainError):
    """The sender's expected_version is not the dossier's current version (0: does not exist)."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        if expected == 0:
            message = f"expected a new dossier (expected_version 0) but it is at version {actual}"
        else:
            message = f"expected the dossier at version {expected} but it is at version {actual}"
        super().__init__(message, rule="expected_version_mismatch", field="expected_version")
