"""The Litestar application factory: the one place where the HTTP side is wired together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui as _swagger_package
from litestar import Litestar, Router
from litestar.datastructures import CacheControlHeader, State
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from prometheus_client import CollectorRegistry

from api.audit import AuditController, DossierExportController
from api.availability import FailFast, availability_handlers, watch_database
from api.bodies import StrictStructSchemas
from api.headers import security_headers
from api.health import health, live, ready
from api.ingest import Ingest, IngestController
from api.inspectors import DossierListController, InspectorController, ReportController
from api.metrics import LedgerCollector, RequestMetrics, RequestMetricsMiddleware, metrics
from api.pages import page_routes, template_config
from api.problems import document_problems, exception_handlers
from api.public import PublicController, public_rate_limit
from api.query import check_query
from api.steps import StepsReportController
from api.tiles import TilesController
from application.runtime import Runtime, tune_garbage_collection
from application.sessions import PageSessions
from application.settings import Settings
from application.writer import AsyncIngestWriter
from projections.audit_log import start_checkpointing
from projections.queries import Queries
from projections.registry import ReadModels, open_read_models, start_projections

_log = logging.getLogger(__name__)


SWAGGER_ASSETS = "/schema/assets"


def swagger_ui_static_dir() -> Path:
    """Swagger UI's files, as the swagger-ui-py package ships them: /schema works offline."""
    return Path(_swagger_package.__file__).parent / "static"


def swagger_ui() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
    )


def providers(state: Callable[[], State]) -> dict[str, Provide]:
    """What handlers get by dependency injection: what the lifespan put in the app's state.

    Providers take no parameters, so Litestar has nothing to parse before calling them (a
    provider taking `state` cost 6 % of a single post's CPU). Each app has its own: `use_cache`
    keeps the first answer in the Provide itself. `queries` and `read_models` need `runtime`
    (a handler that takes them with `runtime` gets them one after the other: Litestar resolves
    the dependencies of one level in a task group, a tenth of a lookup's time for awaits that
    never wait).
    """

    async def provide_runtime() -> Runtime:
        runtime: Runtime = state().runtime
        return runtime

    async def provide_ingest() -> Ingest:
        ingest: Ingest = state().ingest
        return ingest

    async def provide_queries(runtime: NamedDependency[Runtime]) -> Queries:
        del runtime
        queries: Queries = state().queries
        return queries

    async def provide_read_models(runtime: NamedDependency[Runtime]) -> ReadModels:
        del runtime
        read_models: ReadModels = state().read_models
        return read_models

    def provide_page_sessions(runtime: NamedDependency[Runtime]) -> PageSessions:
        """Made (with their table) when a page first needs them; on the event loop, so two
        first requests cannot both create the table."""
        return PageSessions(runtime.ledger.factory.datastore)  # type: ignore[attr-defined]

    async def provide_metrics_registry() -> CollectorRegistry:
        registry: CollectorRegistry = state().metrics_registry
        return registry

    return {
        "runtime": Provide(provide_runtime, use_cache=True),
        "read_models": Provide(provide_read_models, use_cache=True),
        "queries": Provide(provide_queries, use_cache=True),
        "ingest": Provide(provide_ingest, use_cache=True),
        "page_sessions": Provide(provide_page_sessions, use_cache=True, sync_to_thread=False),
        "metrics_registry": Provide(provide_metrics_registry, use_cache=True),
    }


def create_app(
    settings: Settings | None = None,
    *,
    run_projections: bool = False,
    runtime: Runtime | None = None,
) -> Litestar:
    """The ledger's HTTP application.

    The runtime (database, writer, projections) starts in the lifespan, so importing or building
    the app does no I/O. Pass `runtime` to share one already started (tests, benchmarks).
    """
    settings = settings or Settings.from_environ()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = runtime is None
        started = await asyncio.to_thread(Runtime.start, settings) if runtime is None else runtime
        read_models = await asyncio.to_thread(open_read_models, started.database)
        started.follow_views(read_models.by_name())
        queries = Queries.of(started.database, read_models, started.ledger, settings.read_pool_size)
        await queries.open()
        background: list[Any] = []
        if run_projections:
            background = await asyncio.to_thread(start_projections, started.database, started.rules)
            background.append(
                await asyncio.to_thread(start_checkpointing, started.database, started.settings)
            )
        # Requests append through a writer on this event loop (the runtime's thread writer
        # serves callers that are threads).
        writer = AsyncIngestWriter(
            started.ledger,
            started.rules,
            max_batch_events=settings.writer_batch_events,
            answer_timeout=settings.database_timeout * 2.5,
        )
        await writer.start()
        unwatch = watch_database(started.monitor, writer, fail_fast)
        # What the providers below hand to handlers (the auth guards and middleware, which run
        # before dependencies are resolved, read the runtime here too: api.auth.runtime_of).
        app.state.runtime = started
        app.state.ingest = Ingest(started, writer)
        app.state.read_models = read_models
        app.state.queries = queries
        app.state.metrics_registry = LedgerCollector(started, requests, [writer]).registry()
        if owned:  # a server process (tests pass their runtime and keep Python's defaults)
            tune_garbage_collection()
        try:
            yield
        finally:
            unwatch()
            await writer.stop()
            for task in reversed(background):
                await asyncio.to_thread(task.stop)
            await queries.close()
            read_models.close()
            if owned:
                await asyncio.to_thread(started.close)

    requests = RequestMetrics()
    fail_fast = FailFast()

    app = Litestar(
        route_handlers=[
            health,
            live,
            ready,
            IngestController,
            InspectorController,
            DossierListController,
            AuditController,
            TilesController,
            DossierExportController,
            ReportController,
            StepsReportController,
            Router(
                path="/",
                route_handlers=[PublicController],
                middleware=public_rate_limit(settings.public_rate_limit_per_minute),
            ),
            metrics,
            *page_routes(public_rate_limit(settings.public_rate_limit_per_minute)),
            create_static_files_router(
                path=SWAGGER_ASSETS,
                directories=[swagger_ui_static_dir()],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=86400),
            ),
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        before_request=check_query,
        plugins=[StrictStructSchemas()],
        dependencies={
            **providers(lambda: app.state),
        },
        exception_handlers={**exception_handlers, **availability_handlers(fail_fast)},
        before_send=[security_headers],
        middleware=[
            DefineMiddleware(RequestMetricsMiddleware, metrics=requests),
            fail_fast.middleware,
        ],
        request_max_body_size=settings.max_body_bytes,
        state=State({"settings": settings}),
        openapi_config=OpenAPIConfig(
            title="Dossier ledger",
            version="1.0.0",
            description=(
                "An audit-grade, event-sourced ledger of administrative-procedure dossiers "
                "(Vietnam's one-stop mechanism). Errors are RFC 9457 problem documents."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API key issued with `ledger keys issue`",
                    )
                }
            ),
            render_plugins=[swagger_ui()],
        ),
    )
    document_problems(app)
    return app
