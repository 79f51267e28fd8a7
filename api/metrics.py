"""Prometheus figures: the ledger's (read when /metrics is scraped) and the HTTP requests'.

Requests are counted by a plain ASGI middleware updating one dict entry per request: Litestar's
Prometheus middleware cost about 8 % of the single-post throughput (it builds a Request and takes
prometheus_client's locks on every call), which the ingest path cannot spare.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from application.runtime import Runtime
from application.writer import GroupCommit

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """Requests by method, route (its template) and status: count, total seconds, buckets."""

    def __init__(self) -> None:
        # (method, route, status) -> [count, seconds, per-bucket counts..., over the last bucket]
        self.series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        figures = self.series.get(key)
        if figures is None:
            figures = self.series[key] = [0.0] * (len(BUCKETS) + 3)
        figures[0] += 1
        figures[1] += seconds
        figures[2 + bisect_left(BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        labels = ["method", "path", "status_code"]
        count = CounterMetricFamily("ledger_requests", "HTTP requests answered", labels=labels)
        duration = HistogramMetricFamily(
            "ledger_request_duration_seconds", "Time to answer HTTP requests", labels=labels
        )
        for (method, route, status), figures in list(self.series.items()):
            values = [method, route, str(status)]
            count.add_metric(values, figures[0])
            cumulative, buckets = 0.0, []
            for bound, observed in zip((*BUCKETS, float("inf")), figures[2:], strict=True):
                cumulative += observed
                buckets.append((repr(bound) if bound != float("inf") else "+Inf", cumulative))
            duration.add_metric(values, buckets, figures[1])
        yield count
        yield duration


class RequestMetricsMiddleware:
    """Times each HTTP request and counts it under its route's template (not its path)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = scope.get("path_template") or "unmatched"
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


class LedgerCollector(Collector):
    def __init__(
        self, runtime: Runtime, requests: RequestMetrics, writers: Sequence[GroupCommit]
    ) -> None:
        self.runtime = runtime
        self.requests = requests
        self.writers = writers

    def registry(self) -> CollectorRegistry:
        """This process's figures: the ledger's, the requests', and the process's own."""
        registry = CollectorRegistry(auto_describe=True)
        registry.register(self)
        for default in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(default)
        return registry

    def collect(self) -> Iterator[Metric]:
        yield from self.requests.collect()
        events = CounterMetricFamily(
            "ledger_writer_events", "Events appended by this process's ingest writers"
        )
        events.add_metric([], sum(writer.events_committed for writer in self.writers))
        yield events
        groups = CounterMetricFamily(
            "ledger_writer_groups", "Group commits (transactions) made by the ingest writers"
        )
        groups.add_metric([], sum(writer.groups_committed for writer in self.writers))
        yield groups
        report = self.runtime.health()
        head = GaugeMetricFamily(
            "ledger_head_position", "Highest notification id in the events table"
        )
        head.add_metric([], report.events or 0)
        yield head
        alarms = GaugeMetricFamily(
            "ledger_audit_log_alarms",
            "Open alarms about the transparency log (a witness saw another history of it)",
        )
        alarms.add_metric([], len(report.alarms))
        yield alarms
        lag = GaugeMetricFamily(
            "ledger_projection_lag",
            "Head position minus the projection's position",
            labels=["projection"],
        )
        position = GaugeMetricFamily(
            "ledger_projection_position",
            "Last notification id a projection processed",
            labels=["projection"],
        )
        up = GaugeMetricFamily("ledger_database_up", "1 while the database answers the probe")
        up.add_metric([], 1 if report.database == "ok" else 0)
        yield up
        if report.storage_free_bytes is not None:
            free = GaugeMetricFamily(
                "ledger_storage_free_bytes", "Free space on the database's disk (bytes)"
            )
            free.add_metric([], report.storage_free_bytes)
            yield free
        for name, figures in report.projections.items():
            lag.add_metric([name], figures.get("lag") or 0)
            position.add_metric([name], figures.get("position") or 0)
        yield lag
        yield position


METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
"""Prometheus's type without the charset, which Litestar appends to every text type."""


@get("/metrics", include_in_schema=False)
async def metrics(metrics_registry: NamedDependency[CollectorRegistry]) -> Response[bytes]:
    """Prometheus text format (the ledger's figures read from the database off the event loop)."""
    body = await asyncio.to_thread(generate_latest, metrics_registry)
    return Response(body, media_type=METRICS_MEDIA_TYPE)
