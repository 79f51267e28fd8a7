"""The public: where is my dossier? One dossier, with the secret printed on the receipt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter

from api.answers import JsonAnswer, json_answer
from api.ingest import status_out
from api.problems import ProblemError
from api.schemas import PublicDossierOut, shown
from application.runtime import Runtime
from domain.code import DossierCode
from domain.errors import DomainError
from projections.public_lookup import PublicDossier
from projections.queries import Queries

NOT_FOUND = "no dossier with this code and lookup secret"


def public_rate_limit(per_minute: int) -> list[DefineMiddleware]:
    """Per client address: dossier codes are sequential, and secrets must not be guessable.

    0 turns the limit off (a reverse proxy in front limits rates itself).
    """
    if per_minute == 0:
        return []
    return [RateLimitConfig(rate_limit=("minute", per_minute)).middleware]


def not_found() -> ProblemError:
    # The same answer for an unknown code, a malformed one and a wrong secret: nothing to learn.
    return ProblemError(404, "dossier_not_found", NOT_FOUND, title="Dossier not found")


async def find_public_dossier(
    runtime: Runtime, queries: Queries, code: str, secret: str
) -> PublicDossier | None:
    """The dossier with this code if `secret` is its lookup secret, else None (whichever failed):
    the API's lookup and the lookup page both ask this."""
    try:
        known_form = str(DossierCode.parse(code))
    except DomainError:
        known_form = ""  # no dossier has it; looked up all the same, so timing tells nothing
    row = await queries.public.get(known_form)
    digest = None if row is None else row.lookup_secret_digest
    if not runtime.secrets.matches(secret, digest) or row is None:
        return None
    return row


class PublicController(Controller):
    path = "/v1/public/dossiers"
    tags = ["public"]

    @get(
        "/{code:str}",
        summary="A dossier's status, for the applicant",
        description=(
            "Needs the lookup secret printed on the receipt in the `X-Lookup-Secret` header. "
            "Answers status, procedure, agency, dates and timeliness, nothing about people. "
            "An unknown code and a wrong secret get the same 404. Rate-limited per client."
        ),
        responses={200: ResponseSpec(PublicDossierOut, description="The dossier's status")},
    )
    async def lookup(
        self,
        runtime: NamedDependency[Runtime],
        queries: NamedDependency[Queries],
        code: FromPath[str],
        secret: Annotated[
            str, HeaderParameter(name="X-Lookup-Secret", min_length=1, max_length=64)
        ],
    ) -> JsonAnswer:
        row = await find_public_dossier(runtime, queries, code, secret)
        if row is None:
            raise not_found()
        timeliness = row.timeliness(datetime.now(UTC), runtime.rules.calendar)
        answer = PublicDossierOut(
            code=row.code,
            status=status_out(row.status),
            procedure={"code": row.procedure_code, "name": row.procedure_name},
            agency=row.agency,
            agency_name=runtime.agencies.get(row.agency),
            received_at=shown(row.received_at),
            due_at=shown(row.due_at),
            timeliness=None if timeliness is None else timeliness.value,
            updated_at=shown(row.updated_at),
        )
        return json_answer(answer)
