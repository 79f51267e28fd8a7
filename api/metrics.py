"""Ledger figures for Prometheus, read when /metrics is scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from application.runtime import Runtime


class LedgerCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        REGISTRY.unregister(self)

    def collect(self) -> Iterator[Metric]:
        writer = self.runtime.writer
        events = CounterMetricFamily(
            "ledger_writer_events", "Events appended by this process's ingest writer"
        )
        events.add_metric([], writer.events_committed)
        yield events
        groups = CounterMetricFamily(
            "ledger_writer_groups", "Group commits (transactions) made by the ingest writer"
        )
        groups.add_metric([], writer.groups_committed)
        yield groups
        report = self.runtime.health()
        head = GaugeMetricFamily(
            "ledger_head_position", "Highest notification id in the events table"
        )
        head.add_metric([], report.events or 0)
        yield head
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
        for name, figures in report.projections.items():
            lag.add_metric([name], figures.get("lag") or 0)
            position.add_metric([name], figures.get("position") or 0)
        yield lag
        yield position
