"""What inspectors see of the rules over HTTP: apology letters flagged and filterable, agencies
named beside their codes, indicator 2.2 per procedure, a district procedure refused."""

from __future__ import annotations

import csv
import io
import itertools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.bootstrap import Database
from application.settings import Settings
from tests.api.conftest import AGENCY

DISTRICT_PROCEDURE = {
    "code": "1.009794", "name": "Cấp giấy phép xây dựng nhà ở riêng lẻ (cấp huyện)",
    "processing_time": 15, "unit": "calendar_days", "level": "district",
}  # fmt: skip


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped sample catalogue with its 1.009794 at district level, as a province's
    catalogue from before July 2025 would have it."""
    sample = json.loads((resources.files("application") / "data" / "procedures.json").read_text())
    records = [r for r in sample if r["code"] != DISTRICT_PROCEDURE["code"]]
    data_dir: Path = tmp_path_factory.mktemp("ledger-data")
    catalogue = data_dir / "procedures.json"
    catalogue.write_text(json.dumps([*records, DISTRICT_PROCEDURE]), encoding="utf-8")
    return Settings(database_url=database.url, data_dir=data_dir, procedures_file=catalogue)


pytestmark = pytest.mark.anyio
_serials = itertools.count(1)


def event(event_id: str, type_: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "actor": {"id": "cb-0042", "role": "officer"},
        "data": data,
    }


RECEIVED = {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"}


def letter(new_due_at: str) -> dict[str, Any]:
    return {"new_due_at": new_due_at, "reason": "thư xin lỗi: cần xác minh thêm"}


async def post_story(
    client: AsyncTestClient,  # type: ignore[type-arg]
    headers: dict[str, str],
    steps: list[tuple[str, str, dict[str, Any]]],
) -> str:
    code = f"{AGENCY}-260302-{next(_serials) + 700:05d}"
    for index, (type_, at, data) in enumerate(steps):
        body = event(f"{code}-{index}", type_, at, data)
        query = "?consistent=true" if index == len(steps) - 1 else ""
        response = await client.post(
            f"/v1/dossiers/{code}/events{query}", json=body, headers=headers
        )
        assert response.status_code == 201, response.text
    return code


async def test_extensions_are_flagged_and_filterable_in_the_inspectors_list(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],
) -> None:
    """Five working days received Mon 2/3/2026 09:00: due Mon 9/3 09:00. One dossier gets two
    letters before its due dates (5/3, then 12/3 before the new appointment 13/3); another one
    letter on Tue 10/3, after its due date. The national rule (Decree 61/2018/NĐ-CP art. 19)
    allows one letter, before the due date: both are recorded, and both show."""
    twice = await post_story(
        client,
        handler_headers,
        [
            ("Received", "2026-03-02T09:00:00+07:00", RECEIVED),
            ("DeadlineExtended", "2026-03-05T10:00:00+07:00", letter("2026-03-13T17:00:00+07:00")),
            ("DeadlineExtended", "2026-03-12T10:00:00+07:00", letter("2026-03-20T17:00:00+07:00")),
        ],
    )
    late = await post_story(
        client,
        handler_headers,
        [
            ("Received", "2026-03-02T09:00:00+07:00", RECEIVED),
            ("DeadlineExtended", "2026-03-10T10:00:00+07:00", letter("2026-03-16T17:00:00+07:00")),
        ],
    )

    view = (await client.get(f"/v1/dossiers/{twice}", headers=inspector_headers)).json()
    assert (view["extensions"], view["extended_after_due"]) == (2, False)
    view = (await client.get(f"/v1/dossiers/{late}", headers=inspector_headers)).json()
    assert (view["extensions"], view["extended_after_due"]) == (1, True)

    listed = await client.get(
        "/v1/dossiers/", params={"min_extensions": 2}, headers=inspector_headers
    )
    assert [item["code"] for item in listed.json()["items"]] == [twice]
    listed = await client.get(
        "/v1/dossiers/", params={"extended_after_due": "true"}, headers=inspector_headers
    )
    assert [item["code"] for item in listed.json()["items"]] == [late]
    as_csv = await client.get(
        "/v1/dossiers/",
        params={"extended_after_due": "true", "format": "csv"},
        headers=inspector_headers,
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["code"], r["extensions"], r["extended_after_due"]) for r in rows] == [
        (late, "1", "True")
    ]
    assert rows[0]["agency"] == AGENCY and rows[0]["agency_name"] == "Sở Tài chính"
    header = as_csv.text.splitlines()[0].split(",")
    assert header[:3] == ["code", "procedure", "agency"]  # the old columns keep their places


async def test_views_and_reports_name_the_agency_beside_its_code(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],
) -> None:
    """The shipped sample names 000.00.31.H56 "Sở Tài chính"; the report of March 2026 has the
    name beside the code in JSON and CSV, and indicator 2.2 per procedure in its unit: one
    dossier of 1.001757 (5 working days) received Mon 2/3 09:00 and resolved Wed 4/3 09:00
    took 16 working hours, 2 working days."""
    code = await post_story(
        client,
        handler_headers,
        [
            ("Received", "2026-03-02T09:00:00+07:00", RECEIVED),
            ("Resolved", "2026-03-04T09:00:00+07:00", {"outcome": "approved",
                                                        "electronic_result": True}),
        ],
    )  # fmt: skip
    view = (await client.get(f"/v1/dossiers/{code}", headers=inspector_headers)).json()
    assert (view["agency"], view["agency_name"]) == (AGENCY, "Sở Tài chính")

    params = {"agency": AGENCY, "from": "2026-03-01", "to": "2026-03-31"}
    report = await client.get("/v1/reports/timeliness", params=params, headers=inspector_headers)
    body = report.json()
    assert (body["agency"], body["agency_name"]) == (AGENCY, "Sở Tài chính")
    assert body["as_of"] == "2026-03-31T23:59:59.999999+07:00"
    by_procedure = {p["procedure"]: p for p in body["average_processing_time_by_procedure"]}
    assert by_procedure["1.001757"]["unit"] == "working_days"
    assert by_procedure["1.001757"]["denominator"] >= 1
    as_csv = await client.get(
        "/v1/reports/timeliness", params=params | {"format": "csv"}, headers=inspector_headers
    )
    (row,) = csv.DictReader(io.StringIO(as_csv.text))
    assert (row["agency"], row["agency_name"]) == (AGENCY, "Sở Tài chính")


async def test_a_district_procedure_is_refused_for_a_dossier_received_from_july_2025(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
) -> None:
    """This module's catalogue adds a district procedure (15 calendar days). Received Mon
    30/6/2025 16:00, the district level's last day: recorded. Received Mon 2/3/2026: refused
    with a 422 problem naming the rule; district governments ceased on 1 July 2025."""
    district = RECEIVED | {"procedure_code": DISTRICT_PROCEDURE["code"]}
    assert await post_story(client, handler_headers, [("Received", "2025-06-30T16:00:00+07:00",
                                                       district)])  # fmt: skip
    code = f"{AGENCY}-260302-{next(_serials) + 700:05d}"
    response = await client.post(
        f"/v1/dossiers/{code}/events",
        json=event(f"{code}-0", "Received", "2026-03-02T09:00:00+07:00", district),
        headers=handler_headers,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (problem["rule"], problem["field"]) == (
        "district_level_abolished",
        "data.procedure_code",
    )
    assert "2025-07-01" in problem["detail"]
