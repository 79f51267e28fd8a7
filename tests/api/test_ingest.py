"""Handling systems post events: exactly once, in order, refused with a reason they can act on."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from application.bootstrap import Database
from tests.api.conftest import AGENCY, OTHER_AGENCY

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
_serials = itertools.count(1)


def new_code(agency: str = AGENCY) -> str:
    return f"{agency}-260213-{next(_serials):04d}"


def received(
    event_id: str, occurred_at: str = "2026-02-13T10:00:00+07:00", **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "Received",
        "occurred_at": occurred_at,
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"},
        **extra,
    }


def annotated(event_id: str, occurred_at: str = "2026-02-13T11:00:00+07:00") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "Annotated",
        "occurred_at": occurred_at,
        "actor": {"id": "cb-0042", "role": "officer"},
        "data": {"note": "ghi chú"},
    }


def stored_versions(database: Database, code: str) -> list[int]:
    from domain.code import DossierCode  # noqa: PLC0415
    from domain.dossier import dossier_id  # noqa: PLC0415

    with psycopg.connect(database.url) as connection:
        rows = connection.execute(
            "SELECT originator_version FROM ledger_events WHERE originator_id = %s "
            "ORDER BY originator_version",
            (dossier_id(DossierCode.parse(code)),),
        ).fetchall()
    return [row[0] for row in rows]


async def test_received_answers_appended_with_the_due_date(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = new_code()
    response = await client.post(
        f"/v1/dossiers/{code}/events",
        json=received("r-1", expected_version=0),
        headers=handler_headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "appended"
    assert body["version"] == 1 and body["position"] > 0
    assert body["status"] == {"code": 2, "name_vi": "Được tiếp nhận", "name_en": "Received"}
    # Friday before Tết 2026, 10:00, 5 working days: Tết week skipped, due 27 Feb at 10:00.
    assert body["due_at"] == "2026-02-27T10:00:00+07:00"


async def test_the_same_event_three_times_is_stored_once_and_answered_alike(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    code = new_code()
    answers = [
        await client.post(
            f"/v1/dossiers/{code}/events", json=received("dup-1"), headers=handler_headers
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 200, 200]
    first, *again = (a.json() for a in answers)
    for answer in again:
        assert answer["outcome"] == "already_appended"
        assert {k: v for k, v in answer.items() if k != "outcome"} == {
            k: v for k, v in first.items() if k != "outcome"
        }
    assert stored_versions(database, code) == [1]


async def test_a_reused_event_id_with_other_content_is_refused(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = new_code()
    await client.post(
        f"/v1/dossiers/{code}/events", json=received("reuse-1"), headers=handler_headers
    )
    other = received("reuse-1", occurred_at="2026-02-13T10:05:00+07:00")
    response = await client.post(f"/v1/dossiers/{code}/events", json=other, headers=handler_headers)
    assert response.status_code == 409
    assert response.json()["rule"] == "event_id_reused"


async def test_fifty_concurrent_posts_to_one_dossier_get_versions_one_to_fifty(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    code = new_code()
    first = await client.post(
        f"/v1/dossiers/{code}/events", json=received("c-0"), headers=handler_headers
    )
    assert first.status_code == 201
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/dossiers/{code}/events", json=annotated(f"c-{i}"), headers=handler_headers
            )
            for i in range(1, 50)
        )
    )
    assert all(r.status_code == 201 for r in responses), [
        r.text for r in responses if r.status_code != 201
    ]
    versions = sorted(r.json()["version"] for r in responses)
    assert versions == list(range(2, 51))
    assert stored_versions(database, code) == list(range(1, 51))


async def test_a_batch_stores_the_valid_events_and_refuses_the_invalid_one(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    codes = [new_code() for _ in range(3)]
    events = [
        {"dossier_code": codes[0], **received("b-0")},
        {"dossier_code": codes[1], **received("b-1") | {"type": "Resolved"}},
        {"dossier_code": codes[2], **received("b-2")},
    ]
    response = await client.post(
        "/v1/events:batch", json={"events": events}, headers=handler_headers
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r.get("outcome") for r in results] == ["appended", "refused", "appended"]
    refusal = results[1]
    assert refusal["status"] == 422 or refusal["status"] == 409
    assert refusal["field"].startswith("data")
    assert stored_versions(database, codes[0]) == [1]
    assert stored_versions(database, codes[1]) == []
    assert stored_versions(database, codes[2]) == [1]


async def test_a_forbidden_transition_is_refused_naming_status_and_event(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    code = new_code()
    event = {
        "event_id": "fp-1",
        "type": "FeePaid",
        "occurred_at": "2026-02-13T10:00:00+07:00",
        "actor": {"id": "cb-1", "role": "officer"},
        "data": {"amount_vnd": 1000},
    }
    response = await client.post(f"/v1/dossiers/{code}/events", json=event, headers=handler_headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["rule"] == "transition_not_allowed"
    assert "FeePaid" in problem["detail"]
    assert stored_versions(database, code) == []


async def test_expected_version_mismatch_is_a_conflict(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = new_code()
    await client.post(f"/v1/dossiers/{code}/events", json=received("ev-1"), headers=handler_headers)
    event = annotated("ev-2") | {"expected_version": 0}
    response = await client.post(f"/v1/dossiers/{code}/events", json=event, headers=handler_headers)
    assert response.status_code == 409
    assert response.json()["rule"] == "expected_version_mismatch"


async def test_a_handler_cannot_post_for_another_agency(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    code = new_code(OTHER_AGENCY)
    response = await client.post(
        f"/v1/dossiers/{code}/events", json=received("x-1"), headers=handler_headers
    )
    assert response.status_code == 403
    assert response.json()["rule"] == "agency_not_allowed"
    assert stored_versions(database, code) == []


async def test_posting_needs_a_handler_key(
    client: AsyncTestClient,
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = new_code()
    anonymous = await client.post(f"/v1/dossiers/{code}/events", json=received("k-1"))
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith(PROBLEM)
    wrong = await client.post(
        f"/v1/dossiers/{code}/events",
        json=received("k-1"),
        headers={"Authorization": "Bearer nope"},
    )
    assert wrong.status_code == 401
    inspector = await client.post(
        f"/v1/dossiers/{code}/events", json=received("k-1"), headers=inspector_headers
    )
    assert inspector.status_code == 403


BAD_REQUESTS = {
    "malformed JSON": (b'{"event_id": "m-1", "type": ', None, 400),
    "unknown event type": (None, received("u-1") | {"type": "Approved"}, 422),
    "bad date": (None, received("d-1", occurred_at="13/02/2026 10:00"), 422),
    "date without offset": (None, received("d-2", occurred_at="2026-02-13T10:00:00"), 422),
    "wrong type": (None, received("w-1") | {"actor": {"id": 42, "role": "x"}}, 422),
    "unknown field": (None, received("f-1") | {"colour": "red"}, 422),
    "bad event id": (None, received("bad id with spaces"), 422),
    "unknown procedure": (
        None,
        received("p-1")
        | {"data": {"procedure_code": "9.999999", "channel": "online", "lookup_secret": "ABCDEF"}},
        422,
    ),
    "negative amount": (
        None,
        {**annotated("n-1"), "type": "FeeRequested", "data": {"amount_vnd": -5}},
        422,
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
async def test_bad_input_gets_a_problem_document_naming_the_field(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    case: str,  # type: ignore[type-arg]
) -> None:
    raw, event, status = BAD_REQUESTS[case]
    code = new_code()
    headers = handler_headers | {"Content-Type": "application/json"}
    if raw is not None:
        response = await client.post(f"/v1/dossiers/{code}/events", content=raw, headers=headers)
    else:
        response = await client.post(f"/v1/dossiers/{code}/events", json=event, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if status == 422:
        assert problem.get("field"), problem
    assert "Traceback" not in response.text and "SELECT" not in response.text


async def test_a_malformed_dossier_code_names_the_part(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    response = await client.post(
        f"/v1/dossiers/{AGENCY}-261399-0001/events", json=received("mc-1"), headers=handler_headers
    )
    assert response.status_code == 422
    assert "date" in response.json()["detail"].lower()


async def test_an_oversized_body_is_refused_with_413(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    event = received("big-1") | {"data": {"note": "x" * 2_000_000}}
    response = await client.post(
        f"/v1/dossiers/{new_code()}/events", json=event, headers=handler_headers
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_batch_over_the_limit_is_refused_whole(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    database: Database,  # type: ignore[type-arg]
) -> None:
    code = new_code()
    events = [{"dossier_code": code, **annotated(f"o-{i}")} for i in range(1001)]
    response = await client.post(
        "/v1/events:batch", json={"events": events}, headers=handler_headers
    )
    assert response.status_code == 413
    assert stored_versions(database, code) == []


async def test_metrics_count_requests_by_route_and_the_writer_s_commits(
    client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
) -> None:
    def figure(text: str, prefix: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        assert len(lines) == 1, f"{prefix} in {text[:2000]}"
        return float(lines[0].rsplit(" ", 1)[1])

    route = 'path="/v1/dossiers/{code}/events",status_code="201"'
    appended = f'ledger_requests_total{{method="POST",{route}}}'
    before = (await client.get("/metrics")).text
    count_before = figure(before, appended) if appended in before else 0.0
    for _ in range(3):
        answer = await client.post(
            f"/v1/dossiers/{new_code()}/events", json=received("m-1"), headers=handler_headers
        )
        assert answer.status_code == 201, answer.text
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert figure(text, appended) == count_before + 3
    assert figure(text, f'ledger_request_duration_seconds_count{{method="POST",{route}}}') == (
        count_before + 3
    )
    assert figure(text, "ledger_writer_events_total") >= 3
    assert figure(text, "ledger_head_position") >= 3
    assert 'ledger_projection_lag{projection="dossier_status"}' in text
    assert "process_cpu_seconds_total" in text


FORBIDDEN_TRANSITION = {
    "event_id": "fp-9",
    "type": "FeePaid",
    "occurred_at": "2026-02-13T10:00:00+07:00",
    "actor": {"id": "cb-1", "role": "officer"},
    "data": {"amount_vnd": 1000},
}


async def post_both_ways(
    client: AsyncTestClient,  # type: ignore[type-arg]
    headers: dict[str, str],
    code: str,
    raw: bytes | None,
    event: dict[str, Any] | None,
) -> tuple[Any, Any]:
    """The same post answered by the fast lane (no query string, the key cached by a first
    post) and by the route handler (a query string sends it there)."""
    warm = await client.post(
        f"/v1/dossiers/{new_code()}/events", json=received("warm-1"), headers=headers
    )
    assert warm.status_code == 201
    answers = []
    for query in ("", "?consistent=false"):
        path = f"/v1/dossiers/{code}/events{query}"
        if raw is not None:
            answers.append(await client.post(path, content=raw, headers=headers))
        else:
            answers.append(await client.post(path, json=event, headers=headers))
    return answers[0], answers[1]


@pytest.mark.parametrize("case", [*BAD_REQUESTS, "forbidden transition"])
async def test_a_refusal_reads_the_same_on_the_fast_lane_and_through_the_handler(
    client: AsyncTestClient,
    handler_headers: dict[str, str],
    case: str,  # type: ignore[type-arg]
) -> None:
    raw, event, status = BAD_REQUESTS.get(case, (None, FORBIDDEN_TRANSITION, 409))
    headers = handler_headers | {"Content-Type": "application/json"}
    fast, handled = await post_both_ways(client, headers, new_code(), raw, event)
    assert fast.status_code == handled.status_code == status, fast.text
    assert fast.headers["content-type"] == handled.headers["content-type"]
    assert fast.json() == handled.json()


async def test_an_answer_reads_the_same_on_the_fast_lane_and_through_the_handler(
    client: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = new_code()
    first, _ = await post_both_ways(client, handler_headers, code, None, received("same-1"))
    assert first.status_code == 201
    # The handler's answer to a retry, and the fast lane's, equal the first answer.
    again_fast, again_handled = await post_both_ways(
        client, handler_headers, code, None, received("same-1")
    )
    assert again_fast.status_code == again_handled.status_code == 200
    expected = first.json() | {"outcome": "already_appended"}
    assert again_fast.json() == again_handled.json() == expected
    other = new_code()
    fast, handled = await post_both_ways(client, handler_headers, other, None, received("o-1"))
    assert (fast.status_code, handled.status_code) == (201, 200)
    assert handled.json() == fast.json() | {"outcome": "already_appended"}
    for name in ("content-type", "content-length"):
        assert again_fast.headers[name] == again_handled.headers[name]
    assert set(again_fast.headers) == set(again_handled.headers)
