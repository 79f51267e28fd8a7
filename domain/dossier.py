"""The Dossier aggregate (hồ sơ thủ tục hành chính): its events, its state, and `record`.

Every event is named as its wire `type` (`Dossier.Received`, …), carries who, when and from which
system, and stores everything the ledger computed (procedure name, processing time, due dates), so
a dossier replays without the procedure catalogue or the work calendar.

A history may begin with Submitted, Received or ReceiptRefused, so there is no single "Created"
event: the opening events build the aggregate themselves when they are the first (see `Opening`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, BaseAggregate

from domain.calendar import WorkCalendar
from domain.code import DossierCode
from domain.commands import (
    AnnotatedData,
    Channel,
    DeadlineExtendedData,
    EventCommand,
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
    SupplementPolicy,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.errors import (
    DistrictLevelAbolished,
    EventIdReused,
    ExpectedVersionMismatch,
    InvalidEventData,
    OccurredAtBeforePrevious,
    OccurredAtInFuture,
    TransitionNotAllowed,
    UnknownProcedure,
)
from domain.procedures import PlannedStep, Procedure, ProcessingTime, TimeUnit
from domain.status import EVENT_TYPES, EventType, Status, is_allowed, status_after
from domain.steps import StepChange, StepFlag, StepRun, resumed_due, start_step
from domain.timeliness import Timeliness, classify

LEDGER_NAMESPACE = UUID("5907bb6b-6451-4250-82b1-e92688793389")
"""Fixed forever: dossier ids are uuid5(LEDGER_NAMESPACE, code), so one code is one dossier."""

_A = TypeVar("_A", bound=BaseAggregate[UUID])


def dossier_id(code: DossierCode) -> UUID:
    return _id_of(str(code))


_NAMESPACE_HASH = hashlib.sha1(LEDGER_NAMESPACE.bytes, usedforsecurity=False)
_VERSION_5 = (5 << 76) | (0x8000 << 48)  # RFC 9562: version 5, variant 10
_NOT_VERSION_BITS = ~((0xF000 << 64) | (0xC000 << 48))


@lru_cache(maxsize=100_000)
def _id_of(code: str) -> UUID:
    """uuid5(LEDGER_NAMESPACE, code), computed as uuid.uuid5 does with a third of its work (the
    namespace is hashed once; the ingest path asks for the id of every new dossier)."""
    digest = _NAMESPACE_HASH.copy()
    digest.update(code.encode())
    value = int.from_bytes(digest.digest()[:16])
    return UUID(int=(value & _NOT_VERSION_BITS) | _VERSION_5)


def in_utc(instant: datetime) -> datetime:
    """Events store instants in UTC; they are shown in Asia/Ho_Chi_Minh."""
    return instant.astimezone(UTC)


class Applied(NamedTuple):
    """An event_id the dossier has applied: at which version, with which request fingerprint."""

    version: int
    fingerprint: str


@dataclass(frozen=True)
class Envelope:
    """The fields every event carries besides its own data."""

    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    actor_role: str
    source: str
    fingerprint: str

    @classmethod
    def of(cls, command: EventCommand, recorded_at: datetime) -> Envelope:
        return cls(
            event_id=command.event_id,
            occurred_at=in_utc(command.occurred_at),
            recorded_at=in_utc(recorded_at),
            actor_id=command.actor.id,
            actor_role=command.actor.role,
            source=command.source,
            fingerprint=command.fingerprint,
        )


class Dossier(Aggregate):
    """One dossier's history and its current state.

    State for read models and the API: code (agency, receipt_date), procedure_code,
    procedure_name, processing_time (None: no appointment date), fee_pauses_clock,
    result_document, channel, status, submitted_at, received_at, due_at (the appointment date,
    moved by an apology letter), original_due_at (the one timeliness counts), paused_at (set
    while the clock is stopped: waiting for a supplement, or for fees when they pause it),
    resolved_at, returned_at, finished_at, outcome, electronic_result, result_ref,
    return_channel, supplement_requests, extensions (apology letters), extended_after_due,
    rating, lookup_secret_digest, applicant_ref, last_occurred_at, version; step_plan (the
    internal procedure at receipt) and steps (each step as it happened: domain.steps).
    """

    class Event(Aggregate.Event):
        """Every dossier event: the sender's idempotency key, when, who, and from which system."""

        event_id: str
        occurred_at: datetime
        recorded_at: datetime
        actor_id: str
        actor_role: str
        source: str
        fingerprint: str

        @property
        def type(self) -> EventType:
            return EVENT_TYPES[type(self).__name__]

        def apply(self, aggregate: Dossier) -> None:
            aggregate.status = status_after(aggregate.status, self.type)
            aggregate.last_occurred_at = self.occurred_at
            aggregate.applied[self.event_id] = Applied(self.originator_version, self.fingerprint)
            self.update(aggregate)
            if self.moves_steps and aggregate.follows_steps:
                aggregate.follow_steps(self)

        def update(self, dossier: Dossier) -> None:
            """What the event changes besides the status and the steps (each event class says)."""

        moves_steps = False
        """Whether `step_change` may change a step (the classes that override it say so)."""

        def step_change(self, current: StepRun | None) -> StepChange:
            """What the event does to the step in progress, `current` (each event class that
            begins, stops, resumes or ends a step says); read models follow steps with it."""
            return StepChange(None, current)

    class Opening(Event):
        """An event that may begin a history; it names the dossier by its code."""

        dossier_code: str

        def mutate(self, aggregate: _A | None) -> _A | None:
            if aggregate is None:
                code = DossierCode.parse(self.dossier_code)
                # eventsourcing types mutate() for any aggregate; this one is always a Dossier.
                aggregate = cast(_A, Dossier.shell(code, self.originator_id, self.timestamp))
            return super().mutate(aggregate)

    class Submitted(Opening):
        procedure_code: str
        procedure_name: str
        channel: Channel

        def update(self, dossier: Dossier) -> None:
            dossier.submitted_at = self.occurred_at
            dossier.procedure_code = self.procedure_code
            dossier.procedure_name = self.procedure_name
            dossier.channel = Channel(self.channel)

    class Received(Opening):
        """The procedure's rules at receipt travel with the dossier: its processing time (None:
        no appointment date, then `due_at` is None too), a same-day cutoff ("15:00"), whether
        waiting for fees stops the clock, whether the result is a document (4.1), and its
        internal procedure (`steps`), whose first step begins now, due at `step_due_at`."""

        moves_steps = True

        class_version = 3

        procedure_code: str
        procedure_name: str
        processing_time_amount: int | None
        processing_time_unit: TimeUnit | None
        same_day_cutoff: str | None
        fee_pauses_clock: bool
        result_document: bool
        channel: Channel
        lookup_secret_digest: str
        applicant_ref: str | None
        due_at: datetime | None
        steps: tuple[PlannedStep, ...]
        step_due_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 knew whole days only, no fee pauses, and counted every result in 4.1."""
            state.update(same_day_cutoff=None, fee_pauses_clock=False, result_document=True)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Version 2 knew no internal procedures."""
            state.update(steps=(), step_due_at=None)

        def update(self, dossier: Dossier) -> None:
            dossier.received_at = self.occurred_at
            dossier.procedure_code = self.procedure_code
            dossier.procedure_name = self.procedure_name
            dossier.processing_time = _processing_time(
                self.processing_time_amount, self.processing_time_unit, self.same_day_cutoff
            )
            dossier.fee_pauses_clock = self.fee_pauses_clock
            dossier.result_document = self.result_document
            dossier.channel = Channel(self.channel)
            dossier.lookup_secret_digest = self.lookup_secret_digest
            dossier.applicant_ref = self.applicant_ref
            dossier.due_at = dossier.original_due_at = self.due_at
            if dossier.follows_steps:
                dossier.step_plan = shared_plan(self.steps)

        def step_change(self, current: StepRun | None) -> StepChange:
            if not self.steps:
                return StepChange(None, current)
            first = self.steps[0]
            # The code was read when the event was recorded: its agency is before the first "-".
            agency = first.agency or self.dossier_code.partition("-")[0]
            started = StepRun(
                1,
                first.step,
                first.name,
                first.unit,
                agency,
                self.occurred_at,
                first.working_time,
                self.step_due_at,
            )
            return StepChange(None, started)

    class ReceiptRefused(Opening):
        reason: str

        def update(self, dossier: Dossier) -> None:
            dossier.finished_at = self.occurred_at

    class Transferred(Event):
        """A handover; one that names a `step` begins it in `to_unit` and ends the step in
        progress. The step's facts as the ledger found them in the internal procedure travel
        with it: name, agency, working time allowed, due instant, flags, steps jumped over
        (`step_agency` None: a handover that begins no step)."""

        moves_steps = True

        class_version = 2

        from_unit: str
        to_unit: str
        step: str | None
        note: str | None
        step_name: str | None
        step_agency: str | None
        step_allowed: timedelta | None
        step_due_at: datetime | None
        step_flags: tuple[StepFlag, ...]
        steps_skipped: tuple[str, ...]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 named steps before the ledger knew internal procedures: labels that
            begin no step."""
            state.update(
                step_name=None,
                step_agency=None,
                step_allowed=None,
                step_due_at=None,
                step_flags=(),
                steps_skipped=(),
            )

        def step_change(self, current: StepRun | None) -> StepChange:
            if self.step is None or self.step_agency is None:
                return StepChange(None, current)
            started = StepRun(
                1 if current is None else current.number + 1,
                self.step,
                self.step_name,
                self.to_unit,
                self.step_agency,
                self.occurred_at,
                self.step_allowed,
                self.step_due_at,
                tuple(self.step_flags),
                tuple(self.steps_skipped),
            )
            ended = None if current is None else current.finished(self.occurred_at)
            return StepChange(ended, started)

    class SupplementRequested(Event):
        """The clock stops at occurred_at; due_at is the due date now on hold."""

        moves_steps = True

        reason: str
        items: tuple[str, ...]
        due_at: datetime | None

        def update(self, dossier: Dossier) -> None:
            dossier.paused_at = self.occurred_at
            dossier.supplement_requests += 1

        def step_change(self, current: StepRun | None) -> StepChange:
            return StepChange(None, None if current is None else current.paused(self.occurred_at))

    class SupplementProvided(Event):
        """The clock runs again: due dates as computed under `policy` from the wait that began
        at `paused_at`; the step in progress is due at `step_due_at` (domain.steps)."""

        moves_steps = True

        class_version = 2

        paused_at: datetime
        policy: SupplementPolicy
        due_at: datetime | None
        original_due_at: datetime | None
        step_due_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["step_due_at"] = None

        def update(self, dossier: Dossier) -> None:
            dossier.paused_at = None
            dossier.due_at = self.due_at
            dossier.original_due_at = self.original_due_at

        def step_change(self, current: StepRun | None) -> StepChange:
            if current is None:
                return StepChange(None, None)
            return StepChange(None, current.resumed(self.occurred_at, self.step_due_at))

    class FeeRequested(Event):
        """`pauses_clock`: the procedure says waiting for fees stops the clock (at occurred_at)."""

        moves_steps = True

        class_version = 2

        amount_vnd: int
        pauses_clock: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["pauses_clock"] = False

        def update(self, dossier: Dossier) -> None:
            if self.pauses_clock:
                dossier.paused_at = self.occurred_at

        def step_change(self, current: StepRun | None) -> StepChange:
            if current is None or not self.pauses_clock:
                return StepChange(None, current)
            return StepChange(None, current.paused(self.occurred_at))

    class FeePaid(Event):
        """When the fee request paused the clock, it runs again as after a supplement: the due
        dates computed under `policy` from the wait that began at `paused_at`, the step in
        progress due at `step_due_at` (all None when the clock kept running)."""

        moves_steps = True

        class_version = 3

        amount_vnd: int
        paused_at: datetime | None
        policy: SupplementPolicy | None
        due_at: datetime | None
        original_due_at: datetime | None
        step_due_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(paused_at=None, policy=None, due_at=None, original_due_at=None)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["step_due_at"] = None

        def update(self, dossier: Dossier) -> None:
            if self.paused_at is not None:
                dossier.paused_at = None
                dossier.due_at = self.due_at
                dossier.original_due_at = self.original_due_at

        def step_change(self, current: StepRun | None) -> StepChange:
            if current is None or self.paused_at is None:
                return StepChange(None, current)
            return StepChange(None, current.resumed(self.occurred_at, self.step_due_at))

    class Finishing(Event):
        """An event that finishes the dossier, and the step in progress with it."""

        moves_steps = True

        def step_change(self, current: StepRun | None) -> StepChange:
            ended = None if current is None else current.finished(self.occurred_at)
            return StepChange(ended, None)

    class Withdrawn(Finishing):
        reason: str | None

        def update(self, dossier: Dossier) -> None:
            dossier.finished_at = self.occurred_at

    class ProcessingStopped(Finishing):
        reason: str

        def update(self, dossier: Dossier) -> None:
            dossier.finished_at = self.occurred_at

    class Resolved(Finishing):
        outcome: Outcome
        electronic_result: bool
        result_ref: str | None

        def update(self, dossier: Dossier) -> None:
            dossier.resolved_at = dossier.finished_at = self.occurred_at
            dossier.outcome = Outcome(self.outcome)
            dossier.electronic_result = self.electronic_result
            dossier.result_ref = self.result_ref

    class ResultReturned(Event):
        channel: Channel | None

        def update(self, dossier: Dossier) -> None:
            dossier.returned_at = self.occurred_at
            dossier.return_channel = None if self.channel is None else Channel(self.channel)

    class DeadlineExtended(Event):
        """An apology letter with a new appointment date: due_at moves, original_due_at stays.

        Counted in `extensions`; one written after the appointment date then in force sets
        `extended_after_due`. The national rule allows one, sent before the due date: a second
        or a late one is recorded all the same (the ledger records what happened) and shows.
        """

        new_due_at: datetime
        reason: str

        def update(self, dossier: Dossier) -> None:
            dossier.extensions += 1
            if dossier.due_at is not None and self.occurred_at > dossier.due_at:
                dossier.extended_after_due = True
            dossier.due_at = self.new_due_at

    class SatisfactionRated(Event):
        rating: Rating

        def update(self, dossier: Dossier) -> None:
            dossier.rating = Rating(self.rating)

    class Annotated(Event):
        note: str
        refers_to_version: int | None

    @classmethod
    def shell(
        cls,
        code: DossierCode,
        originator_id: UUID,
        timestamp: datetime,
        *,
        follows_steps: bool = True,
    ) -> Dossier:
        """A dossier with no history yet (version 0): its first event brings it to life.

        `follows_steps` False: its events leave `step_plan` and `steps` empty (a read model
        that keeps no steps in its rows need not compute them)."""
        dossier = cls.__new__(cls)
        dossier.__base_init__(originator_id, originator_version=0, timestamp=timestamp)
        dossier._blank_state(code)
        dossier.follows_steps = follows_steps
        return dossier

    def _blank_state(self, code: DossierCode) -> None:
        self.code = code
        self.follows_steps = True
        self.status: Status | None = None
        self.procedure_code: str | None = None
        self.procedure_name: str | None = None
        self.processing_time: ProcessingTime | None = None
        self.fee_pauses_clock = False
        self.result_document = False
        self.channel: Channel | None = None
        self.lookup_secret_digest: str | None = None
        self.applicant_ref: str | None = None
        self.submitted_at: datetime | None = None
        self.received_at: datetime | None = None
        self.due_at: datetime | None = None
        self.original_due_at: datetime | None = None
        self.paused_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.returned_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.outcome: Outcome | None = None
        self.electronic_result: bool | None = None
        self.result_ref: str | None = None
        self.return_channel: Channel | None = None
        self.supplement_requests = 0
        self.extensions = 0
        self.extended_after_due = False
        self.rating: Rating | None = None
        self.last_occurred_at: datetime | None = None
        self.applied: dict[str, Applied] = {}
        self.step_plan: tuple[PlannedStep, ...] = ()
        self.steps: tuple[StepRun, ...] = ()

    @property
    def agency(self) -> str:
        return self.code.agency

    @property
    def receipt_date(self) -> date:
        return self.code.receipt_date

    def timeliness(self, now: datetime, calendar: WorkCalendar) -> Timeliness | None:
        return classify(self, now, calendar)

    @property
    def current_step(self) -> StepRun | None:
        """The step in progress (None: none, or the dossier is finished)."""
        if self.steps and self.steps[-1].finished_at is None:
            return self.steps[-1]
        return None

    def follow_steps(self, event: Dossier.Event) -> None:
        current = self.current_step
        ended, after = event.step_change(current)
        if ended is None and after is current:
            return
        earlier = self.steps[:-1] if current is not None else self.steps
        self.steps = (*earlier, *(run for run in (ended, after) if run is not None))

    # Checks every event passes, in this order, before its own rules.

    def check_allowed(self, event_type: EventType) -> None:
        if not is_allowed(self.status, event_type):
            raise TransitionNotAllowed(self.status, event_type)

    def check_occurred_at(self, occurred_at: datetime, rules: Rules, recorded_at: datetime) -> None:
        if self.last_occurred_at is not None and occurred_at < self.last_occurred_at:
            raise OccurredAtBeforePrevious(occurred_at, self.last_occurred_at)
        if occurred_at > recorded_at + rules.max_clock_skew:
            raise OccurredAtInFuture(occurred_at, recorded_at, rules.max_clock_skew)

    # The business operations, one per event type.

    def submit(self, envelope: Envelope, data: SubmittedData, rules: Rules) -> None:
        """Registered online (nộp trực tuyến), not yet received: no clock runs yet."""
        procedure = known_procedure(rules, data.procedure_code)
        self._trigger(
            self.Submitted,
            envelope,
            dossier_code=str(self.code),
            procedure_code=procedure.code,
            procedure_name=procedure.name,
            channel=data.channel,
        )

    def receive(self, envelope: Envelope, data: ReceivedData, rules: Rules) -> None:
        """Received (tiếp nhận): the clock starts at the next working moment; due_at is stored.

        A district-level procedure is refused for a dossier received on or after 1 July 2025:
        district governments no longer exist (two-level local government).
        """
        procedure = known_procedure(rules, data.procedure_code)
        received_on = rules.calendar.local_date(envelope.occurred_at)
        if not procedure.level_allows_receipt_on(received_on):
            raise DistrictLevelAbolished(procedure.code, received_on)
        limit = procedure.processing_time
        due_at = (
            None if limit is None else in_utc(rules.calendar.due_at(envelope.occurred_at, limit))
        )
        cutoff = None if limit is None else limit.same_day_cutoff
        plan = procedure.steps
        first = None
        if plan:
            first = start_step(
                plan,
                (),
                step=plan[0].step,
                unit=plan[0].unit,
                at=envelope.occurred_at,
                agency=self.agency,
                calendar=rules.calendar,
            )
        self._trigger(
            self.Received,
            envelope,
            dossier_code=str(self.code),
            procedure_code=procedure.code,
            procedure_name=procedure.name,
            processing_time_amount=None if limit is None else limit.amount,
            processing_time_unit=None if limit is None else limit.unit,
            same_day_cutoff=None if cutoff is None else cutoff.strftime("%H:%M"),
            fee_pauses_clock=procedure.fee_pauses_clock,
            result_document=procedure.result_document,
            channel=data.channel,
            lookup_secret_digest=data.lookup_secret_digest,
            applicant_ref=data.applicant_ref,
            due_at=due_at,
            steps=plan,
            step_due_at=None if first is None else first.due_at,
        )

    def refuse_receipt(self, envelope: Envelope, data: ReceiptRefusedData) -> None:
        """Not received (không được tiếp nhận): out of the timeliness denominator."""
        self._trigger(
            self.ReceiptRefused, envelope, dossier_code=str(self.code), reason=data.reason
        )

    def transfer(self, envelope: Envelope, data: TransferredData, rules: Rules) -> None:
        """A handover (a line of the control slip); naming a `step` begins it in `to_unit`, timed
        by the internal procedure received with the dossier (domain.steps.start_step)."""
        run = None
        if data.step is not None:
            run = start_step(
                self.step_plan,
                self.steps,
                step=data.step,
                unit=data.to_unit,
                at=envelope.occurred_at,
                agency=self.agency,
                calendar=rules.calendar,
            )
        self._trigger(
            self.Transferred,
            envelope,
            from_unit=data.from_unit,
            to_unit=data.to_unit,
            step=data.step,
            note=data.note,
            step_name=None if run is None else run.name,
            step_agency=None if run is None else run.agency,
            step_allowed=None if run is None else run.allowed,
            step_due_at=None if run is None else run.initial_due_at,
            step_flags=() if run is None else run.flags,
            steps_skipped=() if run is None else run.skipped,
        )

    def request_supplement(self, envelope: Envelope, data: SupplementRequestedData) -> None:
        """Yêu cầu bổ sung: the clock stops until the applicant supplements the dossier."""
        self._trigger(
            self.SupplementRequested,
            envelope,
            reason=data.reason,
            items=data.items,
            due_at=self._clock().due_at,
        )

    def provide_supplement(self, envelope: Envelope, rules: Rules) -> None:
        """The complete supplement arrives and the clock runs again.

        RESTART (the rule in force): the full processing time counts again from the supplement.
        EXTEND: each due date moves by the time spent waiting (working time for working-day
        procedures, calendar days for calendar-day ones).
        """
        clock = self._clock()
        if clock.paused_at is None:
            raise _broken_invariant("a dossier waiting for a supplement has no paused_at")
        due_at, original = clock.resumed(envelope.occurred_at, rules)
        self._trigger(
            self.SupplementProvided,
            envelope,
            paused_at=clock.paused_at,
            policy=rules.supplement_policy,
            due_at=due_at,
            original_due_at=original,
            step_due_at=resumed_due(self.current_step, envelope.occurred_at, rules.calendar),
        )

    def request_fee(self, envelope: Envelope, data: FeeRequestedData) -> None:
        """Yêu cầu thực hiện nghĩa vụ tài chính: waiting for fees. The clock keeps running,
        unless the procedure says the time for financial obligations is not counted
        (`fee_pauses_clock`, e.g. land procedures): then it stops as for a supplement."""
        self._trigger(
            self.FeeRequested,
            envelope,
            amount_vnd=data.amount_vnd,
            pauses_clock=self.fee_pauses_clock,
        )

    def pay_fee(self, envelope: Envelope, data: FeePaidData, rules: Rules) -> None:
        """The fees are paid; a clock stopped for them runs again by the supplement policy."""
        clock = self._clock()
        paused = clock.paused_at is not None
        due_at, original = clock.resumed(envelope.occurred_at, rules) if paused else (None, None)
        step_due_at = (
            resumed_due(self.current_step, envelope.occurred_at, rules.calendar) if paused else None
        )
        self._trigger(
            self.FeePaid,
            envelope,
            amount_vnd=data.amount_vnd,
            paused_at=clock.paused_at,
            policy=rules.supplement_policy if paused else None,
            due_at=due_at,
            original_due_at=original,
            step_due_at=step_due_at,
        )

    def withdraw(self, envelope: Envelope, data: WithdrawnData) -> None:
        """Rút hồ sơ, at the applicant's request: counts as on time."""
        self._trigger(self.Withdrawn, envelope, reason=data.reason)

    def stop_processing(self, envelope: Envelope, data: ProcessingStoppedData) -> None:
        """Dừng xử lý, with a reason."""
        self._trigger(self.ProcessingStopped, envelope, reason=data.reason)

    def resolve(self, envelope: Envelope, data: ResolvedData) -> None:
        """Đã xử lý xong: the result is ready; timeliness is judged at this moment."""
        self._trigger(
            self.Resolved,
            envelope,
            outcome=data.outcome,
            electronic_result=data.electronic_result,
            result_ref=data.result_ref,
        )

    def return_result(self, envelope: Envelope, data: ResultReturnedData) -> None:
        self._trigger(self.ResultReturned, envelope, channel=data.channel)

    def extend_deadline(self, envelope: Envelope, data: DeadlineExtendedData) -> None:
        """The apology letter (văn bản xin lỗi) sets a later appointment date. The original due
        date stays on record: resolved after it, the dossier still counts as late."""
        due_at = self._clock().due_at
        if due_at is None:
            raise InvalidEventData(
                "type", "the dossier's procedure sets no due date to extend", rule="no_due_date"
            )
        if data.new_due_at <= due_at:
            raise InvalidEventData(
                "data.new_due_at",
                f"must be after the current due date {due_at.isoformat()}",
                rule="new_due_at_not_later",
            )
        self._trigger(
            self.DeadlineExtended, envelope, new_due_at=in_utc(data.new_due_at), reason=data.reason
        )

    def rate_satisfaction(self, envelope: Envelope, data: SatisfactionRatedData) -> None:
        self._trigger(self.SatisfactionRated, envelope, rating=data.rating)

    def annotate(self, envelope: Envelope, data: AnnotatedData) -> None:
        """A note, or a correction of an earlier event by its version: events are never edited."""
        if data.refers_to_version is not None and data.refers_to_version > self.version:
            raise InvalidEventData(
                "data.refers_to_version",
                f"the dossier has no version {data.refers_to_version} (it is at {self.version})",
            )
        self._trigger(
            self.Annotated, envelope, note=data.note, refers_to_version=data.refers_to_version
        )

    def _trigger(self, event_class: type[Dossier.Event], envelope: Envelope, **fields: Any) -> None:
        """The next event of this dossier, applied and pending: what eventsourcing's
        `trigger_event` does, without its copies of the arguments (a tenth of `record`)."""
        build: Callable[..., Dossier.Event] = event_class  # its fields are keyword arguments
        event = build(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=envelope.recorded_at,
            event_id=envelope.event_id,
            occurred_at=envelope.occurred_at,
            recorded_at=envelope.recorded_at,
            actor_id=envelope.actor_id,
            actor_role=envelope.actor_role,
            source=envelope.source,
            fingerprint=envelope.fingerprint,
            **fields,
        )
        event.mutate(self)
        self.pending_events.append(event)

    def _clock(self) -> Clock:
        if self.received_at is None:
            raise _broken_invariant("the clock of a dossier never received")
        if (self.processing_time is None) != (self.due_at is None or self.original_due_at is None):
            raise _broken_invariant("a received dossier has a processing time xor a due date")
        return Clock(self.processing_time, self.due_at, self.original_due_at, self.paused_at)


class Clock(NamedTuple):
    """A received dossier's processing clock; no time and no due dates when the procedure sets
    no appointment date."""

    processing_time: ProcessingTime | None
    due_at: datetime | None
    original_due_at: datetime | None
    paused_at: datetime | None

    def resumed(
        self, resumed_at: datetime, rules: Rules
    ) -> tuple[datetime | None, datetime | None]:
        """The due dates (appointment, original) once a stopped clock runs again.

        RESTART (the rule in force): the full processing time counts again from `resumed_at`.
        EXTEND: each due date moves by the time spent waiting (`moved`).
        """
        if self.processing_time is None or self.due_at is None or self.original_due_at is None:
            return None, None
        calendar = rules.calendar
        if rules.supplement_policy is SupplementPolicy.RESTART:
            restarted = in_utc(calendar.due_at(resumed_at, self.processing_time))
            return restarted, restarted
        return (
            in_utc(self.moved(self.due_at, resumed_at, calendar)),
            in_utc(self.moved(self.original_due_at, resumed_at, calendar)),
        )

    def moved(self, instant: datetime, resumed_at: datetime, calendar: WorkCalendar) -> datetime:
        """`instant` moved by the time the clock was stopped (EXTEND policy): the working time
        waited for working-day and working-hour procedures, the calendar days waited for
        calendar-day ones."""
        assert self.paused_at is not None and self.processing_time is not None
        if self.processing_time.unit == TimeUnit.CALENDAR_DAYS:
            days = calendar.local_date(resumed_at) - calendar.local_date(self.paused_at)
            return calendar.add_calendar_days(instant, days.days) if days.days else instant
        waited = calendar.working_time_between(self.paused_at, resumed_at)
        return calendar.add_working_time(instant, waited) if waited else instant


_PLANS: dict[tuple[PlannedStep, ...], tuple[PlannedStep, ...]] = {}


def shared_plan(steps: Sequence[PlannedStep]) -> tuple[PlannedStep, ...]:
    """One tuple for equal internal procedures: the dossiers of a procedure (thousands in a
    read model's cache) share it instead of each keeping the copy its event was decoded into.
    Plans come from the operator's catalogue, so there are few."""
    plan = tuple(steps)
    return _PLANS.setdefault(plan, plan)


def _processing_time(
    amount: int | None, unit: TimeUnit | None, cutoff: str | None
) -> ProcessingTime | None:
    if amount is None or unit is None:
        return None
    same_day_cutoff = None if cutoff is None else time.fromisoformat(cutoff)
    return ProcessingTime(amount, TimeUnit(unit), same_day_cutoff)


def known_procedure(rules: Rules, code: str) -> Procedure:
    procedure = rules.procedures.get(code)
    if procedure is None:
        raise UnknownProcedure(code)
    return procedure


def _broken_invariant(message: str) -> RuntimeError:
    return RuntimeError(f"broken dossier invariant: {message}")


@dataclass(frozen=True)
class Recorded:
    """The dossier after `record`, the event's version, and whether it was recorded before."""

    dossier: Dossier
    version: int
    already_recorded: bool


def record(  # noqa: PLR0917 (the ingest writer's call, positional as in the design)
    dossier: Dossier | None,
    code: DossierCode,
    command: EventCommand,
    rules: Rules,
    recorded_at: datetime,
    expected_version: int | None = None,
) -> Recorded:
    """Apply one command to a dossier (None: it does not exist yet): the one way in.

    Checks, in order: a retry of an applied event_id (same fingerprint: the first answer, no new
    event; other content: EventIdReused); expected_version (None: unchecked, 0: must not exist);
    the transition table; occurred_at order and clock skew; then the event's own rules. A refused
    command raises a DomainError and leaves the dossier exactly as it was.
    """
    if dossier is not None and (earlier := dossier.applied.get(command.event_id)) is not None:
        if earlier.fingerprint != command.fingerprint:
            raise EventIdReused(command.event_id, earlier.version)
        return Recorded(dossier, earlier.version, already_recorded=True)
    current_version = 0 if dossier is None else dossier.version
    if expected_version is not None and expected_version != current_version:
        raise ExpectedVersionMismatch(expected_version, current_version)
    target = Dossier.shell(code, dossier_id(code), recorded_at) if dossier is None else dossier
    target.check_allowed(command.type)
    target.check_occurred_at(command.occurred_at, rules, recorded_at)
    _dispatch(target, command, Envelope.of(command, recorded_at), rules)
    return Recorded(target, target.version, already_recorded=False)


def _dispatch(  # noqa: PLR0912 (one case per event type reads best as one match)
    dossier: Dossier, command: EventCommand, envelope: Envelope, rules: Rules
) -> None:
    match command.data:
        case SubmittedData() as data:
            dossier.submit(envelope, data, rules)
        case ReceivedData() as data:
            dossier.receive(envelope, data, rules)
        case ReceiptRefusedData() as data:
            dossier.refuse_receipt(envelope, data)
        case TransferredData() as data:
            dossier.transfer(envelope, data, rules)
        case SupplementRequestedData() as data:
            dossier.request_supplement(envelope, data)
        case SupplementProvidedData():
            dossier.provide_supplement(envelope, rules)
        case FeeRequestedData() as data:
            dossier.request_fee(envelope, data)
        case FeePaidData() as data:
            dossier.pay_fee(envelope, data, rules)
        case WithdrawnData() as data:
            dossier.withdraw(envelope, data)
        case ProcessingStoppedData() as data:
            dossier.stop_processing(envelope, data)
        case ResolvedData() as data:
            dossier.resolve(envelope, data)
        case ResultReturnedData() as data:
            dossier.return_result(envelope, data)
        case DeadlineExtendedData() as data:
            dossier.extend_deadline(envelope, data)
        case SatisfactionRatedData() as data:
            dossier.rate_satisfaction(envelope, data)
        case AnnotatedData() as data:
            dossier.annotate(envelope, data)
