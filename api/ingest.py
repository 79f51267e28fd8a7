"""Handling systems post dossier events: one at a time, or in batches."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_403_FORBIDDEN
from litestar.types import Empty

from api import contract
from api.answers import JsonAnswer, json_answer
from api.auth import authorized, current_key
from api.bodies import WIRE_BYTES, JsonBody, missing_body
from api.headers import scope_header
from api.problems import ProblemError, domain_problem, problem_responses, refused_in_batch
from api.schemas import (
    EXAMPLE_APPENDED,
    EXAMPLE_EVENTS,
    AlreadyAppended,
    Appended,
    AppendedOut,
    BatchOut,
    StatusOut,
    shown,
)
from application import writer as written
from application.keys import ApiKey, Role
from application.ledger import answer_at
from application.runtime import Runtime
from application.secrets import LookupSecrets
from application.writer import AsyncIngestWriter, Outcome, Submission
from domain import commands
from domain.code import DossierCode
from domain.errors import DomainError
from domain.status import EVENT_TYPES, Status
from projections.registry import wait_until

_log = logging.getLogger(__name__)
_CANONICAL = msgspec.json.Encoder(order="deterministic")

_DOMAIN_DATA: dict[type[contract.Data], type[commands.EventData]] = {
    contract.SubmittedData: commands.SubmittedData,
    contract.ReceivedData: commands.ReceivedData,
    contract.ReceiptRefusedData: commands.ReceiptRefusedData,
    contract.TransferredData: commands.TransferredData,
    contract.SupplementRequestedData: commands.SupplementRequestedData,
    contract.SupplementProvidedData: commands.SupplementProvidedData,
    contract.FeeRequestedData: commands.FeeRequestedData,
    contract.FeePaidData: commands.FeePaidData,
    contract.WithdrawnData: commands.WithdrawnData,
    contract.ProcessingStoppedData: commands.ProcessingStoppedData,
    contract.ResolvedData: commands.ResolvedData,
    contract.ResultReturnedData: commands.ResultReturnedData,
    contract.DeadlineExtendedData: commands.DeadlineExtendedData,
    contract.SatisfactionRatedData: commands.SatisfactionRatedData,
    contract.AnnotatedData: commands.AnnotatedData,
}


def status_out(status: Status | None) -> StatusOut | None:
    if status is None:
        return None
    return StatusOut(code=int(status), name_vi=status.name_vi, name_en=status.name_en)


MAX_EVENT_BYTES = 60_000
"""Every stored event is a leaf of the log, and an entry bundle (c2sp.org/tlog-tiles) holds
leaves of at most 65,535 bytes: this leaves room for what the ledger adds when it stores one
(the fields' bounds alone allow more: a hundred items of 2,000 characters)."""


_STORED_FORM_SLACK = 256


def to_submission(
    code: DossierCode,
    event: contract.Event,
    source: str,
    secrets: LookupSecrets,
    wire_bytes: int | None = None,
) -> Submission:
    """The wire event as the domain's command: the secret becomes its digest.

    `wire_bytes`, when known, is the length of the event's JSON as sent: the stored form is at
    most a little longer (an omitted `expected_version` written as null, fractions of seconds
    written with six digits), so only an event sent near the bound is encoded again to be judged.
    """
    near_bound = wire_bytes is None or wire_bytes + _STORED_FORM_SLACK > MAX_EVENT_BYTES
    if near_bound and len(msgspec.json.encode(event)) > MAX_EVENT_BYTES:
        raise ProblemError(
            422,
            "event_too_large",
            f"an event is at most {MAX_EVENT_BYTES} bytes of JSON: the transparency log's entry"
            " bundles hold entries of up to 64 KiB",
        )
    data = event.data  # type: ignore[attr-defined]
    fields = msgspec.structs.asdict(data)
    if isinstance(data, contract.ReceivedData):
        fields["lookup_secret_digest"] = secrets.digest(fields.pop("lookup_secret"))
    elif isinstance(data, contract.SupplementRequestedData):
        fields["items"] = tuple(data.items)
    command = commands.EventCommand(
        event_id=event.event_id,
        type=EVENT_TYPES[event.__struct_config__.tag],  # type: ignore[index]
        occurred_at=event.occurred_at,
        actor=commands.Actor(id=event.actor.id, role=event.actor.role),
        source=source,
        data=_DOMAIN_DATA[type(data)](**fields),
        fingerprint=fingerprint(str(code), event, source),
    )
    return Submission(code=code, command=command, expected_version=event.expected_version)


def fingerprint(code: str, event: contract.Event, source: str) -> str:
    """What makes a retry the same event: everything the sender said but expected_version.

    Fields left at their defaults are not part of it, so `{"note": null}` and `{}` are the same.
    """
    canonical = _CANONICAL.encode(
        [
            code,
            source,
            event.__struct_config__.tag,
            event.occurred_at.astimezone(UTC),
            event.actor,
            event.data,  # type: ignore[attr-defined]
        ]
    )
    return hashlib.sha256(canonical).hexdigest()


def parse_code(text: str) -> DossierCode:
    return DossierCode.parse(text)  # a malformed code is a DomainError: 422 naming the part


def forbidden_for(key: ApiKey, code: DossierCode) -> ProblemError | None:
    if key.may_post_for(code):
        return None
    agencies = ", ".join(key.agencies) or "none"
    return ProblemError(
        HTTP_403_FORBIDDEN,
        "agency_not_allowed",
        f"this key may post only for dossiers of agencies {agencies}; {code} is not one of them",
        field="dossier_code",
    )


def may_post_for_path(connection: ASGIConnection[Any, Any, Any, Any], key: ApiKey) -> None:
    """Authority before the body: the dossier in the path must be of the key's agency."""
    code = parse_code(connection.path_params["code"])
    if forbidden := forbidden_for(key, code):
        raise forbidden
    connection.scope["state"]["dossier_code"] = code


def lookup_url(base: str, code: DossierCode, event: contract.Event) -> str | None:
    """The public page with the code and the secret in the fragment (never sent to a server)."""
    if not isinstance(event, contract.ReceivedEvent):
        return None
    secret = quote(event.data.lookup_secret, safe="")
    return f"{base.rstrip('/')}/#code={code}&secret={secret}"


def page_address(request: Request[Any, Any, Any]) -> str:
    """The address the sender reached the ledger at (LEDGER_PUBLIC_URL, if set, wins)."""
    scope = request.scope
    host = scope_header(scope, b"host")
    if host is None:
        server = scope.get("server") or ("localhost", 80)
        return f"{scope['scheme']}://{server[0]}:{server[1]}"
    return f"{scope['scheme']}://{host}"


CONSISTENCY_TIMEOUT = 10.0
CONSISTENT = QueryParameter(
    description="wait until the read models have applied the event (read-your-writes)"
)


class Ingest:
    """What both endpoints do once the events are decoded: append, wait if asked, answer.

    One per application (the endpoints' only dependency: Litestar resolves two or more
    dependencies of a handler in a task group, a tenth of a single post's time).
    """

    def __init__(self, runtime: Runtime, writer: AsyncIngestWriter) -> None:
        self.runtime = runtime
        self.writer = writer
        self.public_url = runtime.settings.public_url

    async def append(self, submissions: Sequence[Submission], consistent: bool) -> list[Outcome]:
        outcomes = await self.writer.submit(submissions)
        if consistent:
            positions = [
                o.position for o in outcomes if isinstance(o, written.Appended) and o.position
            ]
            views = self.runtime.views
            if positions and views:
                try:
                    await asyncio.to_thread(
                        wait_until, views.values(), max(positions), CONSISTENCY_TIMEOUT
                    )
                except TimeoutError:
                    # The events are stored; only the read models lag (is a projector running?).
                    _log.warning("read models did not catch up within %ss", CONSISTENCY_TIMEOUT)
        return outcomes

    def answer(
        self, outcome: written.Appended, event: contract.Event, base_url: str
    ) -> AppendedOut:
        position: int | None
        if outcome.already:  # the first answer, looked up in the database
            status, due_at, position = answer_at(self.runtime.ledger, outcome.code, outcome.version)
        else:
            status, due_at, position = outcome.status, outcome.due_at, outcome.position
        assert position is not None
        answer_type = AlreadyAppended if outcome.already else Appended
        return answer_type(
            dossier_code=str(outcome.code),
            event_id=outcome.event_id,
            version=outcome.version,
            position=position,
            status=status_out(status),
            due_at=shown(due_at),
            lookup_url=lookup_url(self.public_url or base_url, outcome.code, event),
        )

    def answers(
        self,
        outcomes: Sequence[Outcome],
        events: Sequence[contract.Event],
        indexes: list[int],
        base_url: str,
    ) -> list[Any]:
        answers: list[Any] = []
        for index, outcome, event in zip(indexes, outcomes, events, strict=True):
            if isinstance(outcome, DomainError):
                answers.append(refused_in_batch(domain_problem(outcome, f"events/{index}")))
            else:
                answers.append(self.answer(outcome, event, base_url))
        return answers


_EVENT_BODY = JsonBody.of(contract.decode_event)
_BATCH_BODY = JsonBody.of(contract.decode_batch)
_SINGLE_EXAMPLES = [Example(summary=str(event["type"]), value=event) for event in EXAMPLE_EVENTS]


class IngestController(Controller):
    """For handling systems (role `handler`, scoped to agency codes)."""

    path = "/v1"
    tags = ["handling systems"]

    @post(
        "/dossiers/{code:str}/events",
        summary="Append one event to a dossier",
        description=(
            "Idempotent by event_id: the same event posted again answers 200 already_appended "
            "with the first answer. Refusals are RFC 9457 problem documents naming the field and "
            "the rule (409 when the event conflicts with the dossier's history). The key's "
            "agency is checked before the body."
        ),
        middleware=[authorized(Role.HANDLER, then=may_post_for_path)],
        dto=_EVENT_BODY,
        return_dto=None,
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_201_CREATED: ResponseSpec(Appended, description="Appended: stored now"),
            HTTP_200_OK: ResponseSpec(
                AlreadyAppended, description="Already appended: the first answer, again"
            ),
            **problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
        },
    )
    async def append_event(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[
            contract.EventIn,
            Body(
                description="One dossier event; `type` chooses the fields of `data`",
                examples=_SINGLE_EXAMPLES,
            ),
        ],
        ingest: NamedDependency[Ingest],
        consistent: Annotated[bool, CONSISTENT] = False,
    ) -> JsonAnswer:
        # Litestar hands Empty for a missing body, whatever the annotation says.
        if data is Empty:  # type: ignore[comparison-overlap]
            raise missing_body()
        key = current_key(request)
        base_url = page_address(request) if isinstance(data, contract.ReceivedEvent) else ""
        state = request.scope["state"]
        dossier: DossierCode = state["dossier_code"]
        submission = to_submission(
            dossier, data, key.name, ingest.runtime.secrets, state.get(WIRE_BYTES)
        )
        (outcome,) = await ingest.append([submission], consistent)
        if isinstance(outcome, DomainError):
            raise outcome
        if outcome.already:
            answer = await asyncio.to_thread(ingest.answer, outcome, data, base_url)
            return json_answer(answer, HTTP_200_OK)
        return json_answer(ingest.answer(outcome, data, base_url), HTTP_201_CREATED)

    @post(
        "/events:batch",
        summary="Append many events, across dossiers",
        description=(
            "Each event gets its own outcome, in order: an answer like the single-event "
            "endpoint's, or a problem document (with `instance` events/INDEX). Valid events are "
            "stored even when others are refused. At most LEDGER_BATCH_LIMIT events (1,000 by "
            f"default). Example answer item: {msgspec.json.encode(EXAMPLE_APPENDED).decode()}"
        ),
        middleware=[authorized(Role.HANDLER)],
        dto=_BATCH_BODY,
        return_dto=None,
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413, 415, 422, 503),
    )
    async def append_batch(
        self,
        data: Annotated[
            contract.BatchIn,
            Body(
                description="Events across dossiers: the single endpoint's fields and dossier_code",
                examples=[
                    Example(
                        summary="Two events in a batch",
                        value={
                            "events": [
                                {"dossier_code": "000.00.31.H56-260213-0001", **event}
                                for event in EXAMPLE_EVENTS[:2]
                            ]
                        },
                    )
                ],
            ),
        ],
        request: Request[Any, Any, Any],
        ingest: NamedDependency[Ingest],
        consistent: Annotated[bool, CONSISTENT] = False,
    ) -> BatchOut:
        key = current_key(request)
        base_url = page_address(request)
        # Litestar hands Empty for a missing body, whatever the annotation says.
        if data is Empty:  # type: ignore[comparison-overlap]
            raise missing_body()
        raws: list[msgspec.Raw] = data  # type: ignore[assignment]  # decoded raw, item by item
        limit = ingest.runtime.settings.batch_limit
        if not raws:
            raise ProblemError(422, "empty_batch", "the batch has no events", field="events")
        if len(raws) > limit:
            raise ProblemError(
                413,
                "batch_too_large",
                f"a batch holds at most {limit} events, not {len(raws)}",
                field="events",
            )
        results: list[Any] = [None] * len(raws)
        submissions: list[Submission] = []
        events: list[contract.Event] = []
        indexes: list[int] = []
        for index, raw in enumerate(raws):
            try:
                event, submission = _batch_submission(raw, key, ingest.runtime.secrets)
            except ProblemError as problem:
                results[index] = refused_in_batch(problem.problem(f"events/{index}"))
                continue
            except DomainError as refusal:
                results[index] = refused_in_batch(domain_problem(refusal, f"events/{index}"))
                continue
            submissions.append(submission)
            events.append(event)
            indexes.append(index)
        outcomes = await ingest.append(submissions, consistent) if submissions else []
        if any(isinstance(o, written.Appended) and o.already for o in outcomes):
            answers = await asyncio.to_thread(ingest.answers, outcomes, events, indexes, base_url)
        else:
            answers = ingest.answers(outcomes, events, indexes, base_url)
        for index, answer in zip(indexes, answers, strict=True):
            results[index] = answer
        return BatchOut(results=results)


def _batch_submission(
    raw: msgspec.Raw, key: ApiKey, secrets: LookupSecrets
) -> tuple[contract.Event, Submission]:
    """One batch item: its dossier's agency first, then the event itself."""
    try:
        event = contract.decode_batch_item(raw)
    except ProblemError:
        code_text = contract.batch_item_code(raw)
        if code_text is not None:
            code = parse_code(code_text)
            if forbidden := forbidden_for(key, code):
                raise forbidden from None
        raise
    code = parse_code(event.dossier_code)  # type: ignore[attr-defined]
    if forbidden := forbidden_for(key, code):
        raise forbidden
    return event, to_submission(code, event, key.name, secrets, len(raw))
