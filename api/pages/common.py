"""What every page shares: its templates, the reader's language, and its security headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from api.pages.i18n import LANGUAGE_COOKIE, LANGUAGES, Words, chosen_language

PAGES_DIR: Final = Path(__file__).parent
STATIC_DIR: Final = PAGES_DIR / "static"
ONE_YEAR: Final = 365 * 24 * 3600

SECURITY_HEADERS: Final = {
    # Every asset comes from the ledger itself: nothing may be loaded from anywhere else.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(PAGES_DIR / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def agency_namer(names: Mapping[str, str]) -> Callable[[str | None], str]:
    """How pages show an agency: its name and code (the code alone when it has no name)."""

    def agency_name(code: str | None) -> str:
        if not code:
            return "—"
        name = names.get(code)
        return f"{name} ({code})" if name else code

    return agency_name


def words_of(request: Request[Any, Any, Any]) -> Words:
    return Words(chosen_language(request.cookies.get(LANGUAGE_COOKIE)))


def page(
    request: Request[Any, Any, Any],
    template: str,
    status_code: int = 200,
    words: Words | None = None,
    agency_names: Mapping[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page (or, for an HTMX request, the fragment template) in the reader's language;
    `agency_names`: for the pages that name agencies (the runtime's agencies)."""
    words = words or words_of(request)
    return Template(
        template_name=template,
        context={
            "w": words,
            "_": words.gettext,
            "lang": words.language,
            "path": request.url.path,
            "agency_name": agency_namer(agency_names or {}),
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def local_path(target: str | None, default: str = "/") -> str:
    """A path on this site to go back to (never another site: no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return default
    return target


def language_cookie(language: str) -> dict[str, Any]:
    return {
        "key": LANGUAGE_COOKIE,
        "value": language,
        "max_age": ONE_YEAR,
        "path": "/",
        "samesite": "lax",
        "httponly": True,
    }


@get("/lang/{language:str}", include_in_schema=False)
async def switch_language(
    language: FromPath[str], next: FromQuery[str | None] = None
) -> Response[Any]:
    """The language switch: a link that sets the `lang` cookie and goes back."""
    chosen = language if language in LANGUAGES else chosen_language(None)
    response = Redirect(local_path(next), status_code=303)
    response.set_cookie(**language_cookie(chosen))
    return response
