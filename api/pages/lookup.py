"""`/`: the citizen's lookup. A POSTed form, so the secret never travels in a URL the server sees.

A receipt's link carries code and secret in the fragment (`/#code=…&secret=…`), which the
browser keeps to itself; lookup.js fills the form from it and submits. An unknown code, a
malformed one and a wrong secret read the same. The API's rate limit applies (same store, same
count per client).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import TooManyRequestsException
from litestar.params import Body
from litestar.response import Template

from api.pages.common import is_htmx, language_cookie, page
from api.pages.i18n import LANGUAGES, Words
from api.public import find_public_dossier
from application.runtime import Runtime
from domain.code import DossierCode
from domain.timeliness import Timeliness
from projections.public_lookup import PublicDossier
from projections.queries import Queries
from projections.timeline import Milestone, public_milestones

MAX_SECRET = 64


@dataclass
class LookupForm:
    code: str = ""
    secret: str = ""
    lang: str = ""


@dataclass(frozen=True)
class LookupAnswer:
    dossier: PublicDossier
    timeliness: Timeliness | None
    milestones: list[Milestone]


async def find_dossier(
    runtime: Runtime, queries: Queries, code: str, secret: str
) -> LookupAnswer | None:
    """The API's lookup (api.public), and then the dossier's public milestones."""
    secret = secret if len(secret) <= MAX_SECRET else ""  # as long as the API accepts
    row = await find_public_dossier(runtime, queries, code.strip(), secret)
    if row is None:
        return None
    entries = await queries.histories.history(DossierCode.parse(row.code))
    return LookupAnswer(
        dossier=row,
        timeliness=row.timeliness(datetime.now(UTC), runtime.rules.calendar),
        milestones=public_milestones(entries),
    )


@get("/", include_in_schema=False)
async def lookup_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "lookup.html", form=LookupForm(), answer=None, searched=False)


@post("/lookup", include_in_schema=False, status_code=200)
async def lookup(
    request: Request[Any, Any, Any],
    data: Annotated[LookupForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    runtime: NamedDependency[Runtime],
    queries: NamedDependency[Queries],
) -> Template:
    """The answer (a fragment for HTMX, else the whole page); `lang` switches the language."""
    words = Words(data.lang) if data.lang in LANGUAGES else None
    answer = await find_dossier(runtime, queries, data.code, data.secret)
    form = LookupForm(code=data.code.strip())  # the secret is not sent back
    # HTMX swaps only 2xx answers in place; a whole page says 404 when nothing was found.
    status = 200 if answer is not None or is_htmx(request) else 404
    template = "_lookup_result.html" if is_htmx(request) else "lookup.html"
    response = page(
        request,
        template,
        status,
        words,
        agency_names=runtime.agencies,
        form=form,
        answer=answer,
        searched=True,
    )
    if words is not None:
        response.set_cookie(**language_cookie(words.language))
    return response


def too_many_lookups(request: Request[Any, Any, Any], error: TooManyRequestsException) -> Template:
    template = "_lookup_result.html" if is_htmx(request) else "lookup.html"
    response = page(
        request, template, 429, form=LookupForm(), answer=None, searched=True, too_many=True
    )
    response.headers.update(error.headers or {})
    return response
