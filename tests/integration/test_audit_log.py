"""The transparency log in PostgreSQL: the audit_log projection logs every stored row exactly
once, its tree is the one an in-memory tree builds from the same rows, proofs served from the
database verify, and checkpoints are signed on schedule, never contradicting one another."""

from __future__ import annotations

import itertools
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from eventsourcing.persistence import StoredEvent, Tracking
from hypothesis import strategies as st
from psycopg.sql import SQL, Identifier

from application.bootstrap import Database
from application.ledger import APPLICATION_NAME, DossierLedger
from application.settings import Settings
from application.transparency.bundle import encode_bundle
from application.transparency.checkpoints import (
    Checkpointer,
    CheckpointSchedule,
    checkpointer_for,
    witness_path,
)
from application.transparency.leaf import leaf_bytes
from application.transparency.log import AuditTables, LogStore
from application.transparency.merkle import (
    MemoryHashStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_inclusion,
)
from application.transparency.note import open_checkpoint
from application.transparency.proofs import (
    CheckpointNotFound,
    DossierNotFound,
    NotInCheckpoint,
    TreeSizeBeyondLog,
    VersionNotFound,
    export_bundle,
    prove_consistency,
    prove_inclusion,
)
from application.transparency.verify import verify_bundle, verify_checkpoint_consistency
from domain.calendar import WorkCalendar
from domain.code import DossierCode
from projections.audit_log import (
    AUDIT_LOG,
    AuditLogProjection,
    AuditLogView,
    catch_up_audit_log,
    open_audit_log,
    start_checkpointing,
)
from projections.rebuild import rebuild
from projections.registry import READ_MODELS, ReadModel
from projections.view import Page
from tests.integration.test_projections import RULES, append, random_histories

# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("audit-data")
    return Settings(database_url=database.url, data_dir=data_dir, log_origin="ledger.test/h56")


@pytest.fixture(scope="module")
def checkpointer(view: AuditLogView, settings: Settings) -> Checkpointer:
    return checkpointer_for(view.log, settings)


@pytest.fixture(scope="module")
def head(database: Database, ledger: DossierLedger, view: AuditLogView) -> int:
    """200 dossiers' events, appended in two rounds, logged 97 at a time."""
    append(ledger, random_histories(120, seed=31))
    append(ledger, random_histories(80, seed=32))
    catch_up_audit_log(database, view, page_size=97)
    return ledger.recorder.max_notification_id() or 0


def stored_rows(ledger: DossierLedger) -> list[dict[str, Any]]:
    with ledger.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
        rows: list[dict[str, Any]] = connection.execute(
            "SELECT originator_id, originator_version, topic, state, notification_id"
            " FROM ledger_events ORDER BY notification_id"
        ).fetchall()
    return rows


def memory_tree(rows: list[dict[str, Any]]) -> MemoryHashStore:
    tree = MemoryHashStore()
    tree.append(
        [
            leaf_hash(
                leaf_bytes(r["originator_id"], r["originator_version"], r["topic"], r["state"])
            )
            for r in rows
        ]
    )
    return tree


def leaves(view: AuditLogView) -> list[dict[str, Any]]:
    with view.datastore.get_connection() as connection:
        return connection.execute(
            "SELECT leaf_index, originator_id, originator_version, notification_id"
            " FROM audit_log_leaves ORDER BY leaf_index"
        ).fetchall()


def some_codes(ledger: DossierLedger, count: int) -> list[tuple[DossierCode, int]]:
    """(code, last version) of `count` dossiers, from their first events."""
    rows = stored_rows(ledger)
    firsts = [r for r in rows if r["originator_version"] == 1]
    codes = []
    for row in firsts[:count]:
        code = DossierCode.parse(ledger.mapper.to_domain_event(row_event(row)).dossier_code)  # type: ignore[attr-defined]
        last = max(
            r["originator_version"] for r in rows if r["originator_id"] == row["originator_id"]
        )
        codes.append((code, last))
    return codes


def row_event(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(row["originator_id"], row["originator_version"], row["topic"], row["state"])


# --- The tree -------------------------------------------------------------------------------


def test_every_stored_row_is_a_leaf_in_notification_order_without_gaps(
    ledger: DossierLedger, view: AuditLogView, head: int
) -> None:
    rows = stored_rows(ledger)
    logged = leaves(view)
    assert [leaf["leaf_index"] for leaf in logged] == list(range(len(rows)))
    assert [(leaf["originator_id"], leaf["originator_version"]) for leaf in logged] == [
        (row["originator_id"], row["originator_version"]) for row in rows
    ]
    assert view.position(APPLICATION_NAME) == head


def test_the_database_tree_has_the_root_of_an_in_memory_tree_of_the_stored_rows(
    ledger: DossierLedger, view: AuditLogView, head: int
) -> None:
    rows = stored_rows(ledger)
    tree = memory_tree(rows)
    with view.log.reading() as store:
        assert store.tree_size() == len(rows)
        for size in (1, 2, 97, 98, 194, 512, len(rows) - 1, len(rows)):
            assert store.root_hash(size) == root_hash(tree, size)


def test_a_stale_or_repeated_page_logs_nothing(
    ledger: DossierLedger, view: AuditLogView, head: int
) -> None:
    before = leaves(view)
    projection = AuditLogProjection(view, WorkCalendar())
    assert not projection.process_page(Page(head - 10, [], Tracking(APPLICATION_NAME, head)))
    projection.process_event(object(), Tracking(APPLICATION_NAME, head - 3))
    assert leaves(view) == before
    assert view.position(APPLICATION_NAME) == head


# --- Proofs ---------------------------------------------------------------------------------


def test_inclusion_and_consistency_proofs_from_the_database_verify(
    ledger: DossierLedger, view: AuditLogView, head: int
) -> None:
    rows = stored_rows(ledger)
    tree = memory_tree(rows)
    with view.log.reading() as store:
        for size in (1, 5, 97, 300, len(rows)):
            root = root_hash(tree, size)
            for index in {0, size // 3, size // 2, size - 1}:
                logged, proof = store.inclusion_proof(index, size)
                assert proof == inclusion_proof(tree, index, size)
                verify_inclusion(logged, index, size, proof, root)
            for old in (1, 3, 64, size // 2):
                if old <= size:
                    assert store.consistency_proof(old, size) == consistency_proof(tree, old, size)


def test_a_log_opened_without_the_index_of_its_upper_subtrees_gets_it_and_proofs_agree(
    database: Database, ledger: DossierLedger, view: AuditLogView, head: int
) -> None:
    rows = stored_rows(ledger)
    assert len(rows) > 2 * 256, "the tree must reach the upper levels (8 and above)"
    tree, size = memory_tree(rows), len(rows)
    name = view.tables.upper_subtrees_index
    with view.datastore.transaction(commit=True) as cursor:  # a log of before the index
        cursor.execute(
            SQL("DROP INDEX {}.{}").format(Identifier(view.tables.schema), Identifier(name))
        )
    reopened = open_audit_log(database.ledger_env(pool_size=1))
    try:
        with reopened.log.reading() as store:
            definition = store.cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)
            ).fetchone()
            for index in (0, 255, 256, size // 2, size - 1):
                assert store.inclusion_proof(index, size)[1] == inclusion_proof(tree, index, size)
    finally:
        reopened.datastore.close()
    assert definition is not None
    assert "INCLUDE (hash)" in definition["indexdef"]
    assert "WHERE (level >= 8)" in definition["indexdef"]


def test_an_inclusion_proof_needs_a_signed_tree_size_within_the_log(
    ledger: DossierLedger, view: AuditLogView, checkpointer: Checkpointer, head: int
) -> None:
    signed = checkpointer.checkpoint()
    assert signed is not None
    (code, last), *_ = some_codes(ledger, 1)
    proof = prove_inclusion(view.log, code, last)
    checkpoint = open_checkpoint(signed.note, checkpointer.signer.verifier())
    assert proof.tree_size == checkpoint.tree_size
    verify_inclusion(
        proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.hashes, checkpoint.root_hash
    )
    with pytest.raises(CheckpointNotFound):
        prove_inclusion(view.log, code, 1, tree_size=signed.tree_size - 1)
    with pytest.raises(TreeSizeBeyondLog):
        prove_inclusion(view.log, code, 1, tree_size=signed.tree_size + 1000)
    with pytest.raises(VersionNotFound):
        prove_inclusion(view.log, code, last + 1)
    with pytest.raises(DossierNotFound):
        prove_inclusion(view.log, DossierCode.parse("000.00.31.H56-200101-0001"), 1)


# --- Checkpoints ----------------------------------------------------------------------------


def test_checkpoints_grow_consistently_and_are_not_repeated_for_the_same_tree(
    database: Database,
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    settings: Settings,
    head: int,
) -> None:
    first = checkpointer.checkpoint()
    assert first is not None
    assert checkpointer.checkpoint() == first  # nothing new: no new signature
    append(ledger, random_histories(30, seed=33))
    catch_up_audit_log(database, view)
    second = checkpointer.checkpoint()
    assert second is not None and second.tree_size > first.tree_size
    verifier = checkpointer.signer.verifier()
    proof = prove_consistency(view.log, first.tree_size, second.tree_size)
    verify_checkpoint_consistency(first.note, second.note, proof, verifier)
    assert witness_path(settings.signing_key_path).read_text() == second.note
    assert stat.S_IMODE(settings.signing_key_path.stat().st_mode) == 0o600
    assert second.verifier_key == verifier.vkey()
    assert verifier.name == "ledger.test/h56"


def test_the_schedule_signs_once_enough_events_are_logged(
    database: Database,
    ledger: DossierLedger,
    view: AuditLogView,
    settings: Settings,
    checkpointer: Checkpointer,
    head: int,
) -> None:
    before = checkpointer.latest()
    assert before is not None
    often = replace(settings, checkpoint_every_events=20, checkpoint_every_seconds=3600)
    schedule = start_checkpointing(database, often)
    try:
        append(ledger, random_histories(10, seed=34))
        catch_up_audit_log(database, view)
        size = checkpointer.tree_size()
        deadline = time.monotonic() + 10
        while (latest := checkpointer.latest()) is not None and latest.tree_size < size:
            assert time.monotonic() < deadline, "no checkpoint was signed"
            time.sleep(0.1)
    finally:
        schedule.stop()
    assert isinstance(schedule, CheckpointSchedule) and schedule.last_error is None


# --- Export ---------------------------------------------------------------------------------


def test_an_exported_history_verifies_offline(
    ledger: DossierLedger, view: AuditLogView, checkpointer: Checkpointer, head: int
) -> None:
    checkpointer.checkpoint()
    for code, last in some_codes(ledger, 5):
        bundle = export_bundle(view.log, code)
        report = verify_bundle(encode_bundle(bundle), checkpointer.signer.verifier().vkey())
        assert report.ok, report.lines()
        assert report.proven_versions == tuple(range(1, last + 1))


def test_an_export_leaves_out_events_logged_after_the_checkpoint(
    database: Database, ledger: DossierLedger, view: AuditLogView, checkpointer: Checkpointer
) -> None:
    checkpointer.checkpoint()
    (code, _), *_ = some_codes(ledger, 1)
    append(ledger, random_histories(3, seed=35))
    catch_up_audit_log(database, view)
    fresh = random_histories(1, seed=36)
    append(ledger, fresh)
    catch_up_audit_log(database, view)
    with pytest.raises(NotInCheckpoint):
        export_bundle(view.log, fresh[0].code)
    assert export_bundle(view.log, code).events


# --- Paging and rebuilding ------------------------------------------------------------------

_example_tables = itertools.count()


@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(pages=st.lists(st.integers(min_value=1, max_value=400), min_size=1))
def test_the_tree_is_the_same_however_the_events_are_paged(
    ledger: DossierLedger, view: AuditLogView, head: int, pages: list[int]
) -> None:
    rows = stored_rows(ledger)
    last = rows[-1]["notification_id"]
    tables = AuditTables(view.datastore.schema, f"audit_paged_{next(_example_tables)}")
    ends = list(itertools.accumulate(pages, initial=0))
    with view.datastore.transaction(commit=True) as cursor:
        for statement in tables.create_statements():
            cursor.execute(statement)
        store = LogStore(cursor, tables)
        for after, until in itertools.pairwise([*(end for end in ends if end < last), last]):
            store.append_stored_events(after, until)
        size = store.tree_size()
        assert size == len(rows)
        assert store.root_hash(size) == root_hash(memory_tree(rows), size)
        cursor.execute(
            SQL("DROP TABLE {}, {}").format(tables.leaves, tables.subtrees)  # the example's own
        )


def test_a_rebuilt_audit_log_has_the_same_tree_and_checkpoints_go_on(
    database: Database,
    view: AuditLogView,
    checkpointer: Checkpointer,
    monkeypatch: pytest.MonkeyPatch,
    head: int,
) -> None:
    before = checkpointer.checkpoint()
    assert before is not None
    monkeypatch.setitem(
        READ_MODELS,
        AUDIT_LOG,
        ReadModel(AUDIT_LOG, AuditLogView, AuditLogProjection),
    )
    rebuilt = rebuild(database, RULES, AUDIT_LOG, page_size=500)
    assert rebuilt.position >= head
    with view.log.reading() as store:
        assert store.root_hash(before.tree_size) == before.root_hash
    assert checkpointer.checkpoint() == before
