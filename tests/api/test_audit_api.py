"""The transparency log over HTTP: the key and the checkpoint as text, proofs that verify against
the signed roots, a dossier's export that verifies offline, and problems that say what is wrong."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.audit import AuditController, DossierExportController
from application.runtime import Runtime
from application.transparency.checkpoints import Checkpointer, checkpointer_for
from application.transparency.merkle import verify_inclusion
from application.transparency.note import Checkpoint, open_checkpoint
from application.transparency.verify import verify_bundle, verify_checkpoint_consistency
from projections.audit_log import AUDIT_LOG, AuditLogView, catch_up_audit_log, open_audit_log
from tests.api.conftest import AGENCY

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
CODES = [f"{AGENCY}-260213-{serial:04d}" for serial in range(9001, 9004)]
UNKNOWN = f"{AGENCY}-260213-9999"
SIZE = "tree_size"


@pytest.fixture(scope="module")
def audit_log(runtime: Runtime) -> Iterator[AuditLogView]:
    view = open_audit_log(runtime.database.ledger_env(pool_size=2))
    runtime.views[AUDIT_LOG] = view
    yield view
    view.datastore.close()


@pytest.fixture(scope="module")
def checkpointer(runtime: Runtime, audit_log: AuditLogView) -> Checkpointer:
    return checkpointer_for(audit_log.log, runtime.settings)


@pytest.fixture
async def audit_client(runtime: Runtime, audit_log: AuditLogView) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(runtime.settings, runtime=runtime)
    registered = {route.path for route in app.routes}
    for controller in (AuditController, DossierExportController):
        if "/v1/audit/checkpoint" not in registered:
            app.register(controller)
    async with AsyncTestClient(app=app) as client:
        yield client


def event(event_id: str, kind: str, hour: int) -> dict[str, Any]:
    data: dict[str, Any] = {"note": "ghi chú"}
    if kind == "Received":
        data = {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "7KQ4M2"}
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": f"2026-02-13T{hour:02d}:00:00+07:00",
        "actor": {"id": "cb-0042", "role": "officer"},
        "data": data,
    }


async def post_history(
    client: AsyncTestClient,  # type: ignore[type-arg]
    headers: dict[str, str],
    code: str,
    annotations: int,
) -> None:
    kinds = ["Received"] + ["Annotated"] * annotations
    for number, kind in enumerate(kinds, start=1):
        answer = await client.post(
            f"/v1/dossiers/{code}/events",
            json=event(f"{code}-{number}", kind, 8 + number),
            headers=headers,
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture
async def signed(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    handler_headers: dict[str, str],
    runtime: Runtime,
    audit_log: AuditLogView,
    checkpointer: Checkpointer,
) -> Checkpoint:
    """Three dossiers' histories (once per module), logged and signed."""
    if checkpointer.latest() is None:
        for annotations, code in enumerate(CODES, start=2):
            await post_history(audit_client, handler_headers, code, annotations)
        catch_up_audit_log(runtime.database, audit_log)
        checkpointer.checkpoint()
    latest = checkpointer.latest()
    assert latest is not None
    return open_checkpoint(latest.note, checkpointer.signer.verifier())


def assert_problem(answer: Any, status: int, rule: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    document = answer.json()
    assert document["rule"] == rule
    assert document["status"] == status
    if field is not None:
        assert document["field"] == field


# --- Before the first checkpoint ------------------------------------------------------------


async def test_before_the_first_checkpoint_there_is_nothing_to_serve(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
) -> None:
    answer = await audit_client.get("/v1/audit/checkpoint", headers=inspector_headers)
    assert_problem(answer, 404, "no_checkpoint_yet")


# --- The key and the checkpoint -------------------------------------------------------------


async def test_the_public_key_is_public_text_in_the_note_format(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    signed: Checkpoint,
    checkpointer: Checkpointer,
) -> None:
    answer = await audit_client.get("/v1/audit/public-key")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"  # one charset
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in answer.headers  # public: caches may keep it
    assert answer.text == checkpointer.signer.verifier().vkey() + "\n"
    name, key_id, key = answer.text.strip().split("+", 2)
    assert name == signed.origin and len(key_id) == 8 and len(base64.b64decode(key)) == 33


async def test_the_checkpoint_is_a_public_signed_note(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    signed: Checkpoint,
    checkpointer: Checkpointer,
) -> None:
    answer = await audit_client.get("/v1/audit/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"  # one charset
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "max-age=5, public"  # it changes: seconds only
    assert open_checkpoint(answer.text, checkpointer.signer.verifier()) == signed


# --- Inclusion proofs -----------------------------------------------------------------------


@pytest.mark.parametrize("explicit_size", [False, True])
async def test_an_inclusion_proof_leads_to_the_signed_root(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    signed: Checkpoint,
    explicit_size: bool,
) -> None:
    params: dict[str, Any] = {"code": CODES[1], "version": 2}
    if explicit_size:
        params["tree_size"] = signed.tree_size
    answer = await audit_client.get(
        "/v1/audit/proofs/inclusion", params=params, headers=inspector_headers
    )
    assert answer.status_code == 200, answer.text
    proof = answer.json()
    assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "hashes"}
    assert proof["tree_size"] == signed.tree_size
    verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [base64.b64decode(hash_) for hash_ in proof["hashes"]],
        signed.root_hash,
    )


@pytest.mark.parametrize(
    ("params", "status", "rule", "field"),
    [
        ({"code": UNKNOWN, "version": 1}, 404, "dossier_not_found", "code"),
        ({"code": CODES[0], "version": 40}, 404, "version_not_found", "version"),
        ({"code": CODES[0], "version": 1, "tree_size": 10**6}, 404, "tree_size_beyond_log", SIZE),
        ({"code": CODES[0], "version": 1, "tree_size": 2}, 404, "checkpoint_not_found", SIZE),
        ({"code": "H56-260213-1", "version": 1}, 422, "invalid_dossier_code", "code"),
    ],
)
async def test_an_inclusion_proof_that_cannot_be_given_is_a_problem(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    signed: Checkpoint,
    params: dict[str, Any],
    status: int,
    rule: str,
    field: str,
) -> None:
    answer = await audit_client.get(
        "/v1/audit/proofs/inclusion", params=params, headers=inspector_headers
    )
    assert_problem(answer, status, rule, field)


async def test_a_bad_version_is_refused_before_any_lookup(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    signed: Checkpoint,
) -> None:
    answer = await audit_client.get(
        "/v1/audit/proofs/inclusion",
        params={"code": CODES[0], "version": 0},
        headers=inspector_headers,
    )
    assert_problem(answer, 422, "invalid_value", "version")


# --- Consistency proofs ---------------------------------------------------------------------


async def test_a_consistency_proof_links_two_signed_checkpoints(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    handler_headers: dict[str, str],
    runtime: Runtime,
    audit_log: AuditLogView,
    checkpointer: Checkpointer,
    signed: Checkpoint,
) -> None:
    old_note = (await audit_client.get("/v1/audit/checkpoint", headers=inspector_headers)).text
    await post_history(audit_client, handler_headers, f"{AGENCY}-260213-9004", 1)
    catch_up_audit_log(runtime.database, audit_log)
    new = checkpointer.checkpoint()
    assert new is not None

    answer = await audit_client.get(
        "/v1/audit/proofs/consistency",
        params={"from": signed.tree_size, "to": new.tree_size},
        headers=inspector_headers,
    )
    assert answer.status_code == 200, answer.text
    proof = answer.json()
    assert set(proof) == {"from", "to", "hashes"}
    assert (proof["from"], proof["to"]) == (signed.tree_size, new.tree_size)
    hashes = [base64.b64decode(hash_) for hash_ in proof["hashes"]]
    verify_checkpoint_consistency(old_note, new.note, hashes, checkpointer.signer.verifier())


@pytest.mark.parametrize(
    ("span", "status", "rule", "field"),
    [
        ((5, 3), 422, "invalid_value", None),
        ((None, 10**6), 404, "tree_size_beyond_log", "to"),
        ((1, None), 404, "checkpoint_not_found", "from"),
    ],
)
async def test_a_consistency_proof_between_unsigned_sizes_is_a_problem(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    signed: Checkpoint,
    span: tuple[int | None, int | None],
    status: int,
    rule: str,
    field: str | None,
) -> None:
    start, end = (signed.tree_size if size is None else size for size in span)  # None: signed
    answer = await audit_client.get(
        "/v1/audit/proofs/consistency",
        params={"from": start, "to": end},
        headers=inspector_headers,
    )
    assert_problem(answer, status, rule, field)


# --- Export ---------------------------------------------------------------------------------


async def test_a_dossier_export_verifies_offline(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    signed: Checkpoint,
    checkpointer: Checkpointer,
) -> None:
    answer = await audit_client.get(f"/v1/dossiers/{CODES[2]}/export", headers=inspector_headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    bundle = answer.json()
    assert bundle["dossier_code"] == CODES[2]
    assert [e["version"] for e in bundle["events"]] == [1, 2, 3, 4, 5]
    report = verify_bundle(answer.content, checkpointer.signer.verifier().vkey())
    assert report.ok, report.lines()


async def test_exports_are_for_inspectors_and_known_dossiers(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    handler_headers: dict[str, str],
    signed: Checkpoint,
) -> None:
    answer = await audit_client.get(f"/v1/dossiers/{CODES[0]}/export", headers=handler_headers)
    assert_problem(answer, 403, "forbidden")
    answer = await audit_client.get(f"/v1/dossiers/{UNKNOWN}/export", headers=inspector_headers)
    assert_problem(answer, 404, "dossier_not_found", "code")


async def test_an_event_logged_after_the_checkpoint_has_no_proof_yet(
    audit_client: AsyncTestClient,  # type: ignore[type-arg]
    inspector_headers: dict[str, str],
    handler_headers: dict[str, str],
    runtime: Runtime,
    audit_log: AuditLogView,
    signed: Checkpoint,
) -> None:
    code = f"{AGENCY}-260213-9005"
    await post_history(audit_client, handler_headers, code, 0)
    catch_up_audit_log(runtime.database, audit_log)
    answer = await audit_client.get(
        "/v1/audit/proofs/inclusion", params={"code": code, "version": 1}, headers=inspector_headers
    )
    assert_problem(answer, 409, "not_in_checkpoint", "version")
    assert answer.headers["retry-after"]
    answer = await audit_client.get(f"/v1/dossiers/{code}/export", headers=inspector_headers)
    assert_problem(answer, 409, "not_in_checkpoint", "version")
