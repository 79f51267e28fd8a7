"""Internal procedures over HTTP: a dossier's steps in the inspector's view, the steps report in
JSON and CSV, and its problems.

The dossier is the worked example "late at step 2 of 4" (tests/unit/test_steps.py): four working
days, four steps of 8 h, received Mon 2/3/2026 07:00, due Thu 5/3 17:00:

- tiep-nhan (mot-cua), due Mon 17:00, handed over Mon 15:00: on time, 6 h;
- tham-dinh (phong-chuyen-mon), due Tue 15:00, handed over Thu 09:00: late, 20 h, 12 h over;
- phe-duyet (lanh-dao), due Fri 09:00, handed over Thu 16:00: early, 5 h;
- tra-ket-qua (mot-cua), due Fri 16:00, resolved Fri 10:00: on time, 4 h. The dossier is late.
"""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.bootstrap import Database
from application.catalogue import DataFileError, load_procedures
from application.settings import Settings
from tests.api.conftest import AGENCY
from tests.unit.internal_procedures import FOUR_STEPS, RECORDS

pytestmark = pytest.mark.anyio
CODE = f"{AGENCY}-260302-0042"


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped sample catalogue and the worked examples' internal procedures."""
    sample = json.loads((resources.files("application") / "data" / "procedures.json").read_text())
    data_dir: Path = tmp_path_factory.mktemp("ledger-data")
    catalogue = data_dir / "procedures.json"
    catalogue.write_text(json.dumps([*sample, *RECORDS]), encoding="utf-8")
    return Settings(database_url=database.url, data_dir=data_dir, procedures_file=catalogue)


def event(number: int, type_: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"steps-{number}",
        "type": type_,
        "occurred_at": at,
        "actor": {"id": "cb-0042", "role": "officer"},
        "data": data,
    }


def handover(to_unit: str, step: str) -> dict[str, Any]:
    return {"from_unit": "giao", "to_unit": to_unit, "step": step}


STORY = [
    ("Received", "2026-03-02T07:00:00+07:00",
     {"procedure_code": FOUR_STEPS, "channel": "in_person", "lookup_secret": "7KQ4M2"}),
    ("Transferred", "2026-03-02T15:00:00+07:00", handover("phong-chuyen-mon", "tham-dinh")),
    ("Transferred", "2026-03-05T09:00:00+07:00", handover("lanh-dao", "phe-duyet")),
    ("Transferred", "2026-03-05T16:00:00+07:00", handover("mot-cua", "tra-ket-qua")),
    ("Resolved", "2026-03-06T10:00:00+07:00", {"outcome": "approved", "electronic_result": True}),
]  # fmt: skip


@pytest.fixture
async def posted(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
) -> str:
    for number, (type_, at, data) in enumerate(STORY, start=1):
        response = await client.post(
            f"/v1/dossiers/{CODE}/events?consistent=true",
            json=event(number, type_, at, data),
            headers=handler_headers,
        )
        assert response.status_code in (200, 201), response.text
    return CODE


def step(number: int, name: str, unit: str, times: tuple[str, str, str | None], **rest: Any) -> Any:
    started, due, finished = (f"2026-03-{t}:00+07:00" if t else None for t in times)
    return {
        "number": number, "step": name, "name": name.title(), "unit": unit, "agency": AGENCY,
        "agency_name": "Sở Tài chính", "started_at": started, "due_at": due,
        "finished_at": finished, "flags": [], "skipped": [], **rest,
    }  # fmt: skip


async def test_the_inspectors_view_shows_every_step_with_its_due_instant_and_hours(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    posted: str,
) -> None:
    response = await client.get(f"/v1/dossiers/{posted}", headers=inspector_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["timeliness"] == "late"
    hours = {"hours_allowed": 8.0}
    assert body["steps"] == [
        step(1, "tiep-nhan", "mot-cua", ("02T07:00", "02T17:00", "02T15:00"),
             timeliness="on_time", hours_used=6.0, overrun_hours=0.0, **hours),
        step(2, "tham-dinh", "phong-chuyen-mon", ("02T15:00", "03T15:00", "05T09:00"),
             timeliness="late", hours_used=20.0, overrun_hours=12.0, **hours),
        step(3, "phe-duyet", "lanh-dao", ("05T09:00", "06T09:00", "05T16:00"),
             timeliness="early", hours_used=5.0, overrun_hours=0.0, **hours),
        step(4, "tra-ket-qua", "mot-cua", ("05T16:00", "06T16:00", "06T10:00"),
             timeliness="on_time", hours_used=4.0, overrun_hours=0.0, **hours),
    ]  # fmt: skip


async def test_the_state_at_an_instant_shows_the_steps_as_they_stood(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    posted: str,
) -> None:
    """Wed 4/3 08:00: tham-dinh in progress since Mon 15:00, past its due date (Tue): overdue,
    2 h Monday + 8 h Tuesday + 1 h Wednesday used."""
    response = await client.get(
        f"/v1/dossiers/{posted}/state",
        params={"at": "2026-03-04T08:00:00+07:00"},
        headers=inspector_headers,
    )

    assert response.status_code == 200
    steps = response.json()["steps"]
    assert [(s["step"], s["timeliness"], s["hours_used"]) for s in steps] == [
        ("tiep-nhan", "on_time", 6.0),
        ("tham-dinh", "overdue", 11.0),
    ]
    assert steps[1]["finished_at"] is None
    assert steps[1]["overrun_hours"] == 3.0


async def test_lists_leave_the_steps_out(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    posted: str,
) -> None:
    response = await client.get(
        "/v1/dossiers/", params={"agency": AGENCY}, headers=inspector_headers
    )
    assert response.status_code == 200
    assert [item["steps"] for item in response.json()["items"]] == [None]


async def test_the_steps_report_ranks_the_unit_that_made_the_dossier_late(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    posted: str,
) -> None:
    response = await client.get(
        "/v1/reports/steps",
        params={"from": "2026-03-01", "to": "2026-03-31", "agency": AGENCY},
        headers=inspector_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["as_of"]) == (
        "2026-03-01",
        "2026-03-31",
        "2026-03-31T23:59:59.999999+07:00",
    )
    assert [(u["unit"], u["late"], u["overrun_hours"]) for u in body["units"]] == [
        ("phong-chuyen-mon", 1, 12.0),
        ("lanh-dao", 0, 0.0),
        ("mot-cua", 0, 0.0),
    ]
    mot_cua = body["units"][2]
    assert (mot_cua["finished_on_time"], mot_cua["hours_used"], mot_cua["hours_allowed"]) == (
        2,
        10.0,
        16.0,
    )
    assert next((s["unit"], s["step"], s["name"]) for s in body["steps"]) == (
        "phong-chuyen-mon",
        "tham-dinh",
        "Tham-Dinh",
    )
    assert body["late_dossiers_total"] == 1
    (late,) = body["late_dossiers"]
    assert (late["code"], late["overrun_hours"], late["agency_name"]) == (
        posted,
        12.0,
        "Sở Tài chính",
    )
    assert [(s["step"], s["unit"], s["overrun_hours"]) for s in late["steps"]] == [
        ("tham-dinh", "phong-chuyen-mon", 12.0)
    ]


async def test_the_steps_report_as_csv(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    posted: str,
) -> None:
    response = await client.get(
        "/v1/reports/steps",
        params={"from": "2026-03-01", "to": "2026-03-31", "agency": AGENCY, "format": "csv"},
        headers=inspector_headers,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["level"], r["unit"], r["step"], r["late"]) for r in rows] == [
        ("unit", "phong-chuyen-mon", "", "1"),
        ("unit", "lanh-dao", "", "0"),
        ("unit", "mot-cua", "", "0"),
        ("step", "phong-chuyen-mon", "tham-dinh", "1"),
        ("step", "lanh-dao", "phe-duyet", "0"),
        ("step", "mot-cua", "tiep-nhan", "0"),
        ("step", "mot-cua", "tra-ket-qua", "0"),
    ]
    assert rows[0]["overrun_hours"] == "12.0"
    header = list(rows[0])
    assert (header[0], header[-1]) == ("level", "agency_name")


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.mark.parametrize(
    ("params", "status", "rule", "field"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, 422, "invalid_period", "to"),
        ({**MARCH, "order": "alphabet"}, 422, "invalid_value", "order"),
        ({**MARCH, "limit": "0"}, 422, "invalid_value", "limit"),
        ({"from": "2026-03-01"}, 400, "missing_parameter", "to"),
        ({"from": "1999-12-31", "to": "2026-03-31"}, 422, "invalid_value", "from"),
    ],
)
async def test_the_steps_report_refuses_bad_periods_with_a_problem(
    client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    params: dict[str, str],
    status: int,
    rule: str,
    field: str,
) -> None:
    response = await client.get("/v1/reports/steps", params=params, headers=inspector_headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.json()["rule"], response.json().get("field")) == (rule, field)


async def test_the_steps_report_is_for_inspectors(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
) -> None:
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    anonymous = await client.get("/v1/reports/steps", params=params)
    handler = await client.get("/v1/reports/steps", params=params, headers=handler_headers)
    assert (anonymous.status_code, handler.status_code) == (401, 403)


def test_a_catalogue_whose_steps_exceed_the_time_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    record = {"code": "1.000001", "name": "Một ngày", "processing_time": 1,
              "unit": "working_days", "level": "commune",
              "steps": [{"step": "a", "name": "A", "unit": "u", "working_hours": 9}]}  # fmt: skip
    path.write_text(json.dumps([record]), encoding="utf-8")
    with pytest.raises(DataFileError) as refused:
        load_procedures(path)
    assert str(refused.value) == (
        f"{path}: record 0: the steps take 9 working hours, more than the processing time "
        "(1 working_days, 8 working hours)"
    )
