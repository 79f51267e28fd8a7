"""Inspectors and the public read what handling systems wrote."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio
_serials = itertools.count(1)
SECRET = "7KQ4M2"


def event(event_id: str, type_: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "actor": {"id": "cb-0042", "role": "officer"},
        "data": data,
    }


async def a_resolved_dossier(client: AsyncTestClient, headers: dict[str, str]) -> str:  # type: ignore[type-arg]
    """Received Fri 2026-03-06 09:00 (5 working days: due Fri 13/3 09:00), transferred, resolved
    early on Wed 11/3 with an electronic result."""
    code = f"{AGENCY}-260306-{next(_serials):05d}"
    events = [
        event(
            "r",
            "Received",
            "2026-03-06T09:00:00+07:00",
            {
                "procedure_code": "1.001757",
                "channel": "online",
                "lookup_secret": SECRET,
                "applicant_ref": "APPLICANT-SECRET-REF",
            },
        ),
        event(
            "t",
            "Transferred",
            "2026-03-06T10:00:00+07:00",
            {
                "from_unit": "mot-cua",
                "to_unit": "phong-tu-phap",
                "note": "ghi chú nội bộ",
            },
        ),
        event("a", "Annotated", "2026-03-09T10:00:00+07:00", {"note": "PRIVATE-NOTE"}),
        event(
            "z",
            "Resolved",
            "2026-03-11T15:00:00+07:00",
            {
                "outcome": "approved",
                "electronic_result": True,
            },
        ),
    ]
    for index, body in enumerate(events):
        body["event_id"] = f"{code}-{body['event_id']}"
        query = "?consistent=true" if index == len(events) - 1 else ""
        response = await client.post(
            f"/v1/dossiers/{code}/events{query}", json=body, headers=headers
        )
        assert response.status_code == 201, response.text
    return code


async def test_history_shows_every_event_with_its_envelope_and_position(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(client, handler_headers)
    response = await client.get(f"/v1/dossiers/{code}/history", headers=inspector_headers)
    assert response.status_code == 200
    events = response.json()["events"]
    assert [e["type"] for e in events] == ["Received", "Transferred", "Annotated", "Resolved"]
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 4
    first = events[0]
    assert first["actor"] == {"id": "cb-0042", "role": "officer"}
    assert first["source"] == "one-stop-system"
    assert first["occurred_at"] == "2026-03-06T09:00:00+07:00"
    assert first["recorded_at"].endswith("+07:00")
    assert first["data"]["due_at"] == "2026-03-13T09:00:00+07:00"
    assert SECRET not in response.text  # only its keyed digest is stored


async def test_state_at_a_version_and_at_an_instant_replays_the_history(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(client, handler_headers)
    at_one = await client.get(f"/v1/dossiers/{code}/state?version=1", headers=inspector_headers)
    assert at_one.json()["status"]["code"] == 2 and at_one.json()["version"] == 1
    monday = await client.get(
        f"/v1/dossiers/{code}/state",
        params={"at": "2026-03-09T12:00:00+07:00"},
        headers=inspector_headers,
    )
    body = monday.json()
    assert body["status"]["code"] == 4 and body["version"] == 3
    assert body["timeliness"] == "in_time"
    now = await client.get(f"/v1/dossiers/{code}", headers=inspector_headers)
    assert now.json()["status"]["code"] == 9 and now.json()["timeliness"] == "early"
    missing = await client.get(f"/v1/dossiers/{code}/state?version=9", headers=inspector_headers)
    assert missing.status_code == 404


async def test_lists_filter_by_agency_and_status_and_export_csv(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(client, handler_headers)
    response = await client.get(
        "/v1/dossiers",
        params={"agency": AGENCY, "status": 9, "limit": 1000},
        headers=inspector_headers,
    )
    assert response.status_code == 200, response.text
    listed = {item["code"]: item for item in response.json()["items"]}
    assert code in listed and listed[code]["timeliness"] == "early"
    assert all(item["status"]["code"] == 9 for item in listed.values())
    overdue = await client.get(
        "/v1/dossiers", params={"overdue": "true"}, headers=inspector_headers
    )
    assert code not in {item["code"] for item in overdue.json()["items"]}
    exported = await client.get(
        "/v1/dossiers", params={"agency": AGENCY, "format": "csv"}, headers=inspector_headers
    )
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    lines = exported.text.splitlines()
    assert lines[0].startswith("code,procedure,agency")
    assert any(line.startswith(code) for line in lines[1:])


async def test_the_report_counts_the_dossier(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    await a_resolved_dossier(client, handler_headers)
    params = {"procedure": "1.001757", "from": "2026-03-01", "to": "2026-03-31"}
    response = await client.get("/v1/reports/timeliness", params=params, headers=inspector_headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"]["finished_early"] >= 1
    assert report["online_rate"]["numerator"] == report["counts"]["received_online"]
    assert report["electronic_result_rate"]["denominator"] == report["counts"]["resolved"]
    csv = await client.get(
        "/v1/reports/timeliness", params=params | {"format": "csv"}, headers=inspector_headers
    )
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "on_time_rate" in csv.text.splitlines()[0]


async def test_the_public_sees_status_and_dates_but_nothing_about_people(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(client, handler_headers)
    response = await client.get(f"/v1/public/dossiers/{code}", headers={"X-Lookup-Secret": SECRET})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "code", "status", "procedure", "agency", "agency_name",
        "received_at", "due_at", "timeliness", "updated_at",
    }  # fmt: skip
    assert body["agency_name"] == "Sở Tài chính"  # the shipped sample names 000.00.31.H56
    assert body["status"] == {"code": 9, "name_vi": "Đã xử lý xong", "name_en": "Resolved"}
    assert body["timeliness"] == "early"
    for private in ("cb-0042", "officer", "one-stop-system", "APPLICANT-SECRET-REF", "PRIVATE-NOTE",
                    "ghi chú nội bộ", "phong-tu-phap", "actor", "source", "applicant"):  # fmt: skip
        assert private not in response.text


async def test_a_wrong_secret_and_an_unknown_code_get_the_same_404(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(client, handler_headers)
    wrong = await client.get(f"/v1/public/dossiers/{code}", headers={"X-Lookup-Secret": "WRONG1"})
    unknown = await client.get(
        f"/v1/public/dossiers/{AGENCY}-260306-99999", headers={"X-Lookup-Secret": SECRET}
    )
    assert wrong.status_code == unknown.status_code == 404
    strip = {"instance"}
    assert {k: v for k, v in wrong.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }


async def test_the_public_lookup_is_rate_limited_per_client(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    statuses = [
        (
            await client.get(
                f"/v1/public/dossiers/{AGENCY}-260306-{n:05d}", headers={"X-Lookup-Secret": "x1"}
            )
        ).status_code
        for n in range(60)
    ]
    assert 429 in statuses
    assert statuses.index(429) <= 40


async def test_the_openapi_document_describes_the_write_endpoints_with_examples(
    client: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    single = document["paths"]["/v1/dossiers/{code}/events"]["post"]
    batch = document["paths"]["/v1/events:batch"]["post"]
    for operation in (single, batch):
        body = operation["requestBody"]["content"]["application/json"]
        assert body.get("examples") or body["schema"].get("examples"), operation
    assert "201" in single["responses"]
    schemas = document["components"]["schemas"]
    assert {
        "ReceivedEvent",
        "Appended",
        "AlreadyAppended",
        "BatchIn",
        "BatchOut",
        "Problem",
    } <= set(schemas)
    assert (await client.get("/schema")).status_code == 200  # the rendered page
