"""Realistic demo dossiers of one province, loaded through the ingest writer like any other events.

Several agencies, the sample procedures, a year of receipts (Tết included) and every path of the
status table: resolved early, on time and late, supplements (once and twice), fees, withdrawals,
stops, refusals at receipt, apology letters, ratings, annotations, and dossiers still open.

The procedures with an internal procedure (the sample's 1.001757, 1.001612 and the liên thông
1.012785) go through its steps in order; about one in six is late at a known step (`LATE_STEPS`:
the appraisal, or the other agency's step of the liên thông one), a few stop for a supplement
inside the appraisal or take a step the internal procedure does not have.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from application.runtime import Runtime
from application.writer import Appended, Submission
from domain.calendar import LOCAL_TZ, WorkCalendar
from domain.code import DossierCode
from domain.commands import (
    Actor,
    AnnotatedData,
    Channel,
    DeadlineExtendedData,
    EventCommand,
    FeePaidData,
    FeeRequestedData,
    ProcessingStoppedData,
    Rating,
    ReceiptRefusedData,
    ReceivedData,
    ResolvedData,
    ResultReturnedData,
    SatisfactionRatedData,
    SubmittedData,
    SupplementProvidedData,
    SupplementRequestedData,
    TransferredData,
    WithdrawnData,
)
from domain.commands import (
    Outcome as Resolution,
)
from domain.procedures import DISTRICT_LEVEL, Procedure
from domain.status import EventType

DEMO_SOURCE = "demo"
AGENCIES = (
    "000.00.31.H56",  # a provincial department (Sở)
    "000.00.13.H56",
    "000.00.04.H56",
    "000.20.31.H56",  # a district people's committee
    "000.21.20.H56",  # a commune
)
UNITS = ("bo-phan-mot-cua", "phong-chuyen-mon", "lanh-dao-so", "van-thu")
LATE_STEPS = {"1.012785": "xac-dinh-nghia-vu-tai-chinh"}
"""The step at which a late demo dossier of these procedures overran; any other: `tham-dinh`."""
LATE_AT_STEP = 0.16
PLANNED_WEIGHT = 3  # procedures with an internal procedure are picked this much more often
BATCH = 500
SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 (an alphabet, not a secret)
SAMPLES_FILE = "demo-dossiers.json"
_SAMPLE_KINDS = {
    EventType.RECEIVED: "open",
    EventType.TRANSFERRED: "open",
    EventType.SUPPLEMENT_REQUESTED: "supplement",
    EventType.DEADLINE_EXTENDED: "extended",
    EventType.RESOLVED: "resolved",
    EventType.RESULT_RETURNED: "returned",
}
"""Kinds of demo dossiers worth showing, by the last event they have had so far."""


def demo_secret(code: str, seed: int) -> str:
    """A demo dossier's lookup secret, derived from its code so that it can be shown again.

    Only for demo data: real secrets come from the handling system and are stored as digests.
    """
    digest = hmac.digest(f"dossier-ledger demo {seed}".encode(), code.encode(), hashlib.sha256)
    return "".join(SECRET_ALPHABET[byte % len(SECRET_ALPHABET)] for byte in digest[:6])


@dataclass
class DemoReport:
    dossiers: int = 0
    events: int = 0
    refused: int = 0
    skipped: bool = False
    samples: list[tuple[str, str]] = field(default_factory=list)
    pages_url: str | None = None
    """The public page's address: each sample is then shown with its lookup link."""

    def __str__(self) -> str:
        if self.skipped:
            lines = ["demo data already loaded; nothing to do (use --always to load again)"]
        else:
            lines = [f"demo: {self.dossiers} dossiers, {self.events} events appended"]
        if self.refused:
            lines.append(f"  {self.refused} events refused (see the log)")
        if self.samples:
            lines.append("  try the public lookup with one of these (code, lookup secret):")
        for code, secret in self.samples:
            link = f"  {self.pages_url}/#code={code}&secret={secret}" if self.pages_url else ""
            lines.append(f"    {code}  {secret}{link}")
        return "\n".join(lines)


@dataclass
class _Story:
    """One dossier's events, as (type, occurred_at, data) in order."""

    code: DossierCode
    secret: str
    steps: list[tuple[EventType, datetime, Any]] = field(default_factory=list)
    late_at_step: bool = False

    def add(self, event_type: EventType, occurred_at: datetime, data: Any) -> None:
        self.steps.append((event_type, occurred_at, data))


class _Author:
    """Writes dossier stories that follow the rules: times move forward and stay in the past."""

    def __init__(
        self,
        calendar: WorkCalendar,
        rng: random.Random,
        digest: Callable[[str], str],
        seed: int,
    ) -> None:
        self.calendar = calendar
        self.rng = rng
        self.digest = digest
        self.seed = seed

    def working_moment(self, after: datetime, hours: float) -> datetime:
        return self.calendar.add_working_time(after, timedelta(hours=hours))

    def story(self, code: DossierCode, procedure: Procedure, received: datetime) -> _Story:
        story = _Story(code, demo_secret(str(code), self.seed))
        channel = self._open(story, procedure, received)
        if channel is None:
            return story
        assert procedure.processing_time is not None  # load_demo picks timed procedures
        if procedure.steps:
            finish = self._steps(story, procedure, received)
            electronic = self.rng.random() < 0.35
            story.add(
                EventType.RESOLVED, finish, ResolvedData(Resolution.APPROVED, electronic, None)
            )
            self._return(story, channel, finish)
            return story
        due = self.calendar.due_at(received, procedure.processing_time)
        budget = max(self.calendar.working_time_between(received, due).total_seconds() / 3600, 4.0)
        t = self._process(story, received, budget)
        if t is not None:
            self._finish(story, channel, received, t, budget)
        return story

    def _steps(self, story: _Story, procedure: Procedure, received: datetime) -> datetime:
        """Through the internal procedure in order, each step handed over in its own unit; late
        at the known step now and then (LATE_STEPS), once in a while waiting for a supplement
        during the appraisal or consulting a unit the internal procedure does not have. The
        moment the last step ends."""
        rng = self.rng
        late_step = LATE_STEPS.get(procedure.code, "tham-dinh")
        story.late_at_step = rng.random() < LATE_AT_STEP
        t, unit = received, procedure.steps[0].unit
        for index, planned in enumerate(procedure.steps):
            if index:
                story.add(
                    EventType.TRANSFERRED, t, TransferredData(unit, planned.unit, planned.step)
                )
            unit = planned.unit
            overrun = story.late_at_step and planned.step == late_step
            hours = planned.working_time.total_seconds() / 3600
            hours *= rng.uniform(1.8, 3.0) if overrun else rng.uniform(0.2, 0.9)
            if planned.step == "tham-dinh" and rng.random() < 0.1:
                t = self.working_moment(t, hours / 2)
                missing = SupplementRequestedData("thiếu giấy tờ", ("bản sao sổ đỏ",))
                story.add(EventType.SUPPLEMENT_REQUESTED, t, missing)
                t = self.working_moment(t, rng.uniform(4, 40))
                story.add(EventType.SUPPLEMENT_PROVIDED, t, SupplementProvidedData())
                hours /= 2
            t = self.working_moment(t, hours)
            if planned.step == "tham-dinh" and rng.random() < 0.05:
                consulted = TransferredData(unit, "so-xay-dung", "xin-y-kien")
                story.add(EventType.TRANSFERRED, t, consulted)
                unit = "so-xay-dung"
                t = self.working_moment(t, rng.uniform(1, 6))
        return t

    def _return(self, story: _Story, channel: Channel, finish: datetime) -> None:
        """The result returned, and sometimes rated."""
        rng = self.rng
        returned = self.working_moment(finish, rng.uniform(0.5, 24))
        story.add(EventType.RESULT_RETURNED, returned, ResultReturnedData(channel))
        if rng.random() < 0.4:
            ratings = [
                Rating.VERY_SATISFIED,
                Rating.SATISFIED,
                Rating.SATISFIED,
                Rating.DISSATISFIED,
            ]
            rated_at = returned + timedelta(hours=rng.uniform(1, 48))
            story.add(
                EventType.SATISFACTION_RATED, rated_at, SatisfactionRatedData(rng.choice(ratings))
            )

    def _open(self, story: _Story, procedure: Procedure, received: datetime) -> Channel | None:
        """Submitted online (sometimes refused at receipt), then received: the channel used."""
        rng = self.rng
        online = rng.random() < 0.45
        if online:
            submitted = received - timedelta(hours=rng.uniform(1, 30))
            story.add(EventType.SUBMITTED, submitted, SubmittedData(procedure.code, Channel.ONLINE))
            if rng.random() < 0.04:
                refusal = ReceiptRefusedData("hồ sơ không thuộc thẩm quyền")
                story.add(EventType.RECEIPT_REFUSED, received, refusal)
                return None
        channel = Channel.ONLINE if online else rng.choice([Channel.IN_PERSON, Channel.POSTAL])
        reference = f"ref-{rng.randrange(10**8):08d}"
        story.add(
            EventType.RECEIVED,
            received,
            ReceivedData(procedure.code, channel, self.digest(story.secret), reference),
        )
        return channel

    def _process(self, story: _Story, received: datetime, budget: float) -> datetime | None:
        """Handovers, supplements or fees; None when the story ends here (withdrawn, stopped)."""
        rng = self.rng
        path = rng.random()
        if path < 0.05:
            withdrawn_at = self.working_moment(received, rng.uniform(1, budget / 2))
            story.add(EventType.WITHDRAWN, withdrawn_at, WithdrawnData("công dân rút hồ sơ"))
            return None
        t = self.working_moment(received, rng.uniform(0.2, 2))
        story.add(EventType.TRANSFERRED, t, TransferredData(UNITS[0], UNITS[1]))
        if path < 0.25:
            for _ in range(2 if rng.random() < 0.2 else 1):
                t = self.working_moment(t, rng.uniform(1, budget / 3))
                missing = SupplementRequestedData("thiếu giấy tờ", ("bản sao CCCD",))
                story.add(EventType.SUPPLEMENT_REQUESTED, t, missing)
                t = self.working_moment(t, rng.uniform(4, 40))
                story.add(EventType.SUPPLEMENT_PROVIDED, t, SupplementProvidedData())
        elif path < 0.33:
            t = self.working_moment(t, rng.uniform(1, budget / 3))
            amount = rng.choice([50_000, 100_000, 200_000, 500_000])
            story.add(EventType.FEE_REQUESTED, t, FeeRequestedData(amount))
            t = self.working_moment(t, rng.uniform(1, 16))
            story.add(EventType.FEE_PAID, t, FeePaidData(amount))
        elif path < 0.36:
            t = self.working_moment(t, rng.uniform(1, budget))
            stop = ProcessingStoppedData("không đủ điều kiện theo quy định")
            story.add(EventType.PROCESSING_STOPPED, t, stop)
            return None
        if rng.random() < 0.3:
            t = self.working_moment(t, rng.uniform(0.5, budget / 3))
            story.add(EventType.TRANSFERRED, t, TransferredData(UNITS[1], UNITS[2]))
        return t

    def _finish(
        self, story: _Story, channel: Channel, received: datetime, t: datetime, budget: float
    ) -> None:
        """Resolved early, on time or late (sometimes after an apology letter), returned, rated."""
        rng = self.rng
        late = rng.random() < 0.12
        if late and rng.random() < 0.4:
            t = self.working_moment(t, 0.5)
            # Later than any due date the clock may have reached by now, restarts included.
            new_due = self.working_moment(t, budget + 24)
            apology = DeadlineExtendedData(new_due, "thư xin lỗi: cần xác minh thêm")
            story.add(EventType.DEADLINE_EXTENDED, t, apology)
        spent = self.calendar.working_time_between(received, t).total_seconds() / 3600
        remaining = max(budget - spent, 0.5)
        hours = rng.uniform(remaining + 8, remaining + 40) if late else rng.uniform(0.2, remaining)
        finish = self.working_moment(t, hours)
        outcome = rng.choice([Resolution.APPROVED] * 9 + [Resolution.DENIED])
        story.add(EventType.RESOLVED, finish, ResolvedData(outcome, rng.random() < 0.35, None))
        self._return(story, channel, finish)
        if rng.random() < 0.05:
            noted_at = story.steps[-1][1] + timedelta(minutes=5)
            story.add(EventType.ANNOTATED, noted_at, AnnotatedData("đính chính số biên nhận", 1))


def _receiving_agency(procedure: Procedure, rng: random.Random) -> str:
    """Any demo agency; for an interconnected procedure one other than its steps' agencies."""
    others = {step.agency for step in procedure.steps}
    return rng.choice([agency for agency in AGENCIES if agency not in others])


def _receipt_instants(
    calendar: WorkCalendar, now: datetime, count: int, rng: random.Random
) -> Iterator[datetime]:
    """Working moments spread over the past year, denser on some days, in time order."""
    start = now - timedelta(days=365)
    instants = []
    for _ in range(count):
        moment = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
        instants.append(calendar.next_working_moment(moment))
    yield from sorted(instants)


def _commands(story: _Story, now: datetime) -> Iterator[Submission]:
    for version, (event_type, occurred_at, data) in enumerate(story.steps, start=1):
        if occurred_at > now:
            return  # the dossier's story continues after today: it stays open
        command = EventCommand(
            event_id=f"demo-{story.code}-{version}",
            type=event_type,
            occurred_at=occurred_at,
            actor=Actor(
                id=f"cb-{abs(hash((str(story.code), version))) % 900 + 100:04d}", role="officer"
            ),
            source=DEMO_SOURCE,
            data=data,
            fingerprint=f"demo:{story.code}:{version}",
        )
        yield Submission(story.code, command)


def load_demo(
    runtime: Runtime,
    *,
    dossiers: int = 2400,
    seed: int = 2026,
    once: bool = True,
    progress: bool = False,
    now: datetime | None = None,
) -> DemoReport:
    report = DemoReport()
    if once and (runtime.ledger.recorder.max_notification_id() or 0) > 0:
        report.skipped = True
        report.samples = demo_samples(runtime)
        return report
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    calendar = runtime.rules.calendar
    # Stories need a due date to be early or late against, and a level that still exists.
    procedures: Sequence[Procedure] = [
        procedure
        for procedure in runtime.rules.procedures.values()
        if procedure.processing_time is not None and procedure.level != DISTRICT_LEVEL
        for _weight in range(PLANNED_WEIGHT if procedure.steps else 1)
    ]
    author = _Author(calendar, rng, runtime.secrets.digest, seed)
    samples: dict[str, str] = {}
    serials: dict[tuple[str, str], int] = {}
    submissions: list[Submission] = []
    for received in _receipt_instants(calendar, now, dossiers, rng):
        procedure = rng.choice(procedures)
        agency = _receiving_agency(procedure, rng)
        day = received.astimezone(LOCAL_TZ).strftime("%y%m%d")
        serial = serials[(agency, day)] = serials.get((agency, day), 0) + 1
        code = DossierCode.parse(f"{agency}-{day}-{serial:04d}")
        story = author.story(code, procedure, received)
        commands = list(_commands(story, now))
        if commands and (kind := _SAMPLE_KINDS.get(commands[-1].command.type)):
            samples[kind] = str(code)  # the latest of each kind: the most recent receipts
        if story.late_at_step and len(commands) == len(story.steps):
            samples["late_at_step"] = str(code)
        submissions.extend(commands)
        report.dossiers += 1
    report.events, report.refused = _append_all(runtime, submissions, progress)
    codes = sorted(samples.values())
    path = runtime.settings.data_dir / SAMPLES_FILE
    path.write_text(json.dumps({"seed": seed, "codes": codes}, indent=1) + "\n")
    report.samples = [(code, demo_secret(code, seed)) for code in codes]
    return report


def demo_samples(runtime: Runtime) -> list[tuple[str, str]]:
    """The sample dossiers of the demo data loaded here, with their lookup secrets (derived)."""
    path = runtime.settings.data_dir / SAMPLES_FILE
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [(code, demo_secret(code, int(recorded["seed"]))) for code in recorded["codes"]]


def _append_all(runtime: Runtime, submissions: list[Submission], progress: bool) -> tuple[int, int]:
    from rich.progress import Progress  # noqa: PLC0415

    appended = refused = 0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("loading demo events", total=len(submissions))
        for start in range(0, len(submissions), BATCH):
            chunk = submissions[start : start + BATCH]
            for outcome in runtime.writer.append(chunk):
                if isinstance(outcome, Appended):
                    appended += 1
                else:
                    refused += 1
            bar.advance(task, len(chunk))
    return appended, refused
