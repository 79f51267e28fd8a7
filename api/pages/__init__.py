"""Web pages for people: the citizen's lookup (`/`), the inspectors' pages (`/inspect`) and the
province's dashboard (`/dashboard`), server-rendered with every asset served from `/static`."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import TooManyRequestsException
from litestar.static_files import create_static_files_router

from api.pages.common import STATIC_DIR, switch_language, template_config
from api.pages.dashboard import dashboard, dashboard_csv
from api.pages.inspect import (
    dossier_bundle,
    dossier_timeline,
    inspect_home,
    list_csv,
    sign_in,
    sign_in_page,
    sign_out,
)
from api.pages.lookup import lookup, lookup_page, too_many_lookups

__all__ = ["page_routes", "template_config"]


def page_routes(rate_limit: list[Any]) -> list[Any]:
    """The pages' routes; `rate_limit` is the public API's middleware (the same count)."""
    return [
        lookup_page,
        switch_language,
        Router(
            path="/",
            route_handlers=[lookup],
            middleware=rate_limit,
            exception_handlers={TooManyRequestsException: too_many_lookups},
        ),
        sign_in_page,
        sign_in,
        sign_out,
        inspect_home,
        list_csv,
        dossier_timeline,
        dossier_bundle,
        dashboard,
        dashboard_csv,
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            cache_control=CacheControlHeader(max_age=3600, public=True),
        ),
    ]
