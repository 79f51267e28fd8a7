"""`ledger demo` loads a realistic year through the write path, covering the whole status table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from application.bootstrap import Database
from application.demo import demo_samples, load_demo
from application.runtime import Runtime
from application.settings import Settings
from domain.code import DossierCode
from domain.status import EventType
from projections.names import DOSSIER_STATUS, STEPS
from projections.registry import open_read_models
from projections.step_report import steps_report
from tests.integration.test_projections import catch_up


@pytest.fixture(scope="module")
def runtime(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    data_dir: Path = tmp_path_factory.mktemp("demo")
    started = Runtime.start(Settings(database_url=database.url, data_dir=data_dir))
    yield started
    started.close()


def test_the_demo_covers_every_event_type_and_nothing_is_refused(runtime: Runtime) -> None:
    report = load_demo(runtime, dossiers=600, seed=7)
    assert report.dossiers == 600 and report.refused == 0
    notifications = runtime.ledger.recorder.select_notifications(start=1, limit=100_000)
    topics = Counter(notification.topic.rsplit(".", 1)[-1] for notification in notifications)
    assert set(topics) == {event_type.value for event_type in EventType}
    assert sum(topics.values()) == report.events


def test_loading_again_once_does_nothing(runtime: Runtime) -> None:
    before = runtime.ledger.recorder.max_notification_id()
    assert load_demo(runtime, dossiers=600, seed=7).skipped
    assert runtime.ledger.recorder.max_notification_id() == before


def test_the_sample_dossiers_are_shown_again_with_their_derived_secrets(runtime: Runtime) -> None:
    again = load_demo(runtime, dossiers=600, seed=7)
    assert again.skipped and len(again.samples) >= 3
    assert again.samples == demo_samples(runtime)
    for code, secret in again.samples:
        row = runtime.ledger.get_dossier(DossierCode.parse(code))
        assert row is not None
        assert runtime.secrets.matches(secret, row.lookup_secret_digest)
    again.pages_url = "http://127.0.0.1:8000"
    code, secret = again.samples[0]
    assert f"http://127.0.0.1:8000/#code={code}&secret={secret}" in str(again)


def test_the_demo_has_internal_procedures_and_dossiers_late_at_a_known_step(
    runtime: Runtime,
) -> None:
    """The sample's 1.001757 and 1.001612 overrun at their appraisal (tham-dinh), the
    liên thông 1.012785 at Sở Tài chính's step; a late dossier is attributed to it."""
    for name in (DOSSIER_STATUS, STEPS):
        catch_up(name, runtime.database, runtime.ledger, page_size=2000)
    models = open_read_models(runtime.database)
    try:
        now = datetime.now(UTC)
        report = steps_report(
            models.steps,
            models.dossier_status,
            first_day=(now - timedelta(days=366)).date(),
            last_day=now.date(),
            now=now,
            calendar=runtime.rules.calendar,
            limit=1000,
        )
    finally:
        models.close()
    late_steps = {(row.agency, row.step) for row in report.steps if row.counts.finished_late}
    assert ("000.00.31.H56", "xac-dinh-nghia-vu-tai-chinh") in late_steps
    assert {step for _agency, step in late_steps} >= {"tham-dinh", "xac-dinh-nghia-vu-tai-chinh"}
    attributed = {s.run.step for d in report.late_dossiers for s in d.overran}
    assert attributed >= {"tham-dinh", "xac-dinh-nghia-vu-tai-chinh"}
    interconnected = [
        d for d in report.late_dossiers if any(s.run.agency != d.agency for s in d.overran)
    ]
    assert interconnected, "a liên thông dossier late in the other agency"
    assert not any(row.unit == "phong-chuyen-mon" for row in report.units)  # no unplanned noise
