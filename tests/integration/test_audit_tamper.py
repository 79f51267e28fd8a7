"""Changes made directly in PostgreSQL, behind the ledger's back, are caught: by `ledger audit
check` on the ledger's machine, by the offline verifier on an export, and, when the log itself is
truncated and grown again differently, by the checkpointer and by the consistency check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from click.testing import CliRunner

from api.cli import main
from application.bootstrap import Database
from application.ledger import DossierLedger
from application.settings import Settings
from application.transparency.bundle import (
    ConsistencyProofDocument,
    encode_base64,
    encode_bundle,
)
from application.transparency.checkpoints import Checkpointer, CheckpointRefused, checkpointer_for
from application.transparency.leaf import leaf_bytes
from application.transparency.log import StoredCheckpoint
from application.transparency.merkle import RootMismatchError, leaf_hash, verify_inclusion
from application.transparency.note import open_checkpoint
from application.transparency.proofs import export_bundle, prove_inclusion
from domain.code import DossierCode
from domain.dossier import dossier_id
from projections.audit_log import AuditLogView, catch_up_audit_log
from tests.integration.test_projections import append, random_histories

ORIGIN = "ledger.test/tamper"


@dataclass(frozen=True)
class Dossier:
    code: DossierCode
    versions: int

    @property
    def id(self) -> UUID:
        return dossier_id(self.code)


@pytest.fixture(scope="module")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database.url,
        data_dir=tmp_path_factory.mktemp("tamper-data"),
        log_origin=ORIGIN,
    )


@pytest.fixture(scope="module")
def env(settings: Settings) -> dict[str, str]:
    """What `ledger` commands read: the same database and the same signing key."""
    return {
        "LEDGER_DATABASE_URL": str(settings.database_url),
        "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_LOG_ORIGIN": ORIGIN,
    }


@pytest.fixture(scope="module")
def checkpointer(view: AuditLogView, settings: Settings) -> Checkpointer:
    return checkpointer_for(view.log, settings)


@pytest.fixture(scope="module")
def dossiers(database: Database, ledger: DossierLedger, view: AuditLogView) -> list[Dossier]:
    """Dossiers of at least 3 versions, all logged."""
    submissions = random_histories(60, seed=41)
    append(ledger, submissions)
    catch_up_audit_log(database, view)
    versions: dict[DossierCode, int] = {}
    for submission in submissions:
        versions[submission.code] = versions.get(submission.code, 0) + 1
    return [Dossier(code, count) for code, count in versions.items() if count >= 3]


@pytest.fixture(scope="module")
def old_checkpoint(dossiers: list[Dossier], checkpointer: Checkpointer) -> StoredCheckpoint:
    """The checkpoint an inspector kept before anyone touched the database."""
    signed = checkpointer.checkpoint()
    assert signed is not None
    return signed


def superuser(database: Database) -> psycopg.Connection[Any]:
    return psycopg.connect(database.url, autocommit=True)


def event_state(database: Database, dossier: Dossier, version: int) -> bytes:
    with superuser(database) as connection:
        row = connection.execute(
            "SELECT state FROM ledger_events WHERE originator_id = %s AND originator_version = %s",
            (dossier.id, version),
        ).fetchone()
    assert row is not None
    return bytes(row[0])


@pytest.fixture(scope="module")
def tampered(
    database: Database, dossiers: list[Dossier], old_checkpoint: StoredCheckpoint
) -> dict[str, tuple[Dossier, int]]:
    """As a superuser with the append-only triggers off: version 3 of one dossier edited (its
    actor changed), the last version of another deleted, and an event slipped into a third one
    behind the log's position."""
    edited, deleted, inserted = dossiers[0], dossiers[1], dossiers[2]
    changed = event_state(database, edited, 3).replace(b'"cb-0042"', b'"cb-0666"')
    assert changed != event_state(database, edited, 3)
    with superuser(database) as connection:
        connection.execute("ALTER TABLE ledger_events DISABLE TRIGGER USER")
        connection.execute(
            "UPDATE ledger_events SET state = %s"
            " WHERE originator_id = %s AND originator_version = 3",
            (changed, edited.id),
        )
        connection.execute(
            "DELETE FROM ledger_events WHERE originator_id = %s AND originator_version = %s",
            (deleted.id, deleted.versions),
        )
        connection.execute(
            "INSERT INTO ledger_events"
            " (originator_id, originator_version, topic, state, notification_id)"
            " SELECT originator_id, %s, topic, state, -1 FROM ledger_events"
            " WHERE originator_id = %s AND originator_version = %s",
            (inserted.versions + 1, inserted.id, inserted.versions),
        )
        connection.execute("ALTER TABLE ledger_events ENABLE TRIGGER USER")
    return {
        "edited": (edited, 3),
        "deleted": (deleted, deleted.versions),
        "inserted": (inserted, inserted.versions + 1),
    }


def run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`ledger ARGS…` with these LEDGER_* settings (and none else)."""
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout


# --- ledger audit check ---------------------------------------------------------------------


def test_an_untouched_ledger_passes_the_check(
    old_checkpoint: StoredCheckpoint, env: dict[str, str]
) -> None:
    code, output = run(["audit", "check"], env)
    assert code == 0, output
    assert output.startswith("OK: ")


def test_an_untouched_history_exports_and_verifies_with_the_command_line(
    dossiers: list[Dossier],
    old_checkpoint: StoredCheckpoint,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    code, vkey = run(["audit", "public-key"], env)
    assert code == 0 and vkey.strip() == old_checkpoint.verifier_key
    (tmp_path / "ledger.vkey").write_text(vkey)
    bundle = tmp_path / "bundle.json"
    code, _ = run(["export", str(dossiers[0].code), "-o", str(bundle)], env)
    assert code == 0

    code, output = run(["verify", str(bundle), "--public-key", str(tmp_path / "ledger.vkey")], {})

    assert code == 0
    assert output.startswith(
        f"OK: {dossiers[0].code}: versions 1 to {dossiers[0].versions} are, byte for byte,"
    )


def test_the_check_names_every_event_changed_deleted_or_inserted_in_the_database(
    tampered: dict[str, tuple[Dossier, int]], env: dict[str, str]
) -> None:
    code, output = run(["audit", "check"], env)
    assert code == 1
    lines = output.splitlines()
    assert lines[0].startswith("FAILED: ")

    def line_about(case: str) -> str:
        dossier, version = tampered[case]
        named = (f"{dossier.code} version {version} ", f"{dossier.code} version {version}:")
        found = [line for line in lines if line.startswith(named)]
        assert len(found) == 1, output
        return found[0]

    assert "was changed in the database" in line_about("edited")
    assert "deleted from the database" in line_about("deleted")
    assert "inserted directly into the database" in line_about("inserted")
    assert any("checkpoint signed at tree size" in line for line in lines)


# --- The offline verifier -------------------------------------------------------------------


def test_an_export_made_after_the_edit_fails_offline_verification_naming_the_event(
    tampered: dict[str, tuple[Dossier, int]],
    view: AuditLogView,
    checkpointer: Checkpointer,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    dossier, version = tampered["edited"]
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(encode_bundle(export_bundle(view.log, dossier.code)))
    key = tmp_path / "ledger.vkey"
    key.write_text(checkpointer.signer.verifier().vkey() + "\n")

    code, output = run(["verify", str(bundle), "--public-key", str(key)], {})

    assert code == 1
    failed = [line for line in output.splitlines() if "inclusion proof does not lead" in line]
    assert failed == [
        f"{dossier.code} version {version} (leaf {leaf_index(view, dossier, version)}): inclusion"
        " proof does not lead to the checkpoint root: the stored event was changed or the proof"
        " is wrong"
    ]


def leaf_index(view: AuditLogView, dossier: Dossier, version: int) -> int:
    return prove_inclusion(view.log, dossier.code, version).leaf_index


def test_the_edited_event_is_not_in_the_checkpoint_kept_before_the_edit(
    tampered: dict[str, tuple[Dossier, int]],
    database: Database,
    view: AuditLogView,
    old_checkpoint: StoredCheckpoint,
    checkpointer: Checkpointer,
) -> None:
    dossier, version = tampered["edited"]
    checkpoint = open_checkpoint(old_checkpoint.note, checkpointer.signer.verifier())
    proof = prove_inclusion(view.log, dossier.code, version, old_checkpoint.tree_size)
    topic = next(e.topic for e in export_bundle(view.log, dossier.code).events if e.version == 3)
    stored_now = leaf_hash(
        leaf_bytes(dossier.id, version, topic, event_state(database, dossier, 3))
    )
    with pytest.raises(RootMismatchError):
        verify_inclusion(
            stored_now, proof.leaf_index, proof.tree_size, proof.hashes, checkpoint.root_hash
        )


# --- A truncated log, grown again -----------------------------------------------------------


def test_a_log_truncated_and_grown_again_from_the_changed_events_is_refused_and_inconsistent(
    tampered: dict[str, tuple[Dossier, int]],
    database: Database,
    ledger: DossierLedger,
    view: AuditLogView,
    checkpointer: Checkpointer,
    old_checkpoint: StoredCheckpoint,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    with superuser(database) as connection:
        connection.execute(
            "TRUNCATE audit_log_leaves, audit_log_subtrees, audit_log_tracking,"
            " audit_log_checkpoints"
        )
    append(ledger, random_histories(10, seed=42))
    catch_up_audit_log(database, view)  # logs the edited event as it stands now

    with pytest.raises(CheckpointRefused, match="is not a prefix"):
        checkpointer.checkpoint()  # its witness file remembers the old checkpoint

    # Someone with the key but without the witness signs the new tree anyway: the inspector's
    # consistency check against the checkpoint kept before shows the history was rewritten.
    forger = Checkpointer(view.log, checkpointer.signer, witness=None)
    new = forger.checkpoint()
    assert new is not None and new.tree_size > old_checkpoint.tree_size
    with view.log.reading() as store:
        hashes = store.consistency_proof(old_checkpoint.tree_size, new.tree_size)
    document = ConsistencyProofDocument(
        old_checkpoint.tree_size, new.tree_size, [encode_base64(h) for h in hashes]
    )
    files = {
        "old.checkpoint": old_checkpoint.note,
        "new.checkpoint": new.note,
        "proof.json": msgspec.json.encode(document).decode(),
        "ledger.vkey": checkpointer.signer.verifier().vkey(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    code, output = run(
        [
            "verify",
            "--consistency",
            str(tmp_path / "old.checkpoint"),
            str(tmp_path / "new.checkpoint"),
            "--proof",
            str(tmp_path / "proof.json"),
            "--public-key",
            str(tmp_path / "ledger.vkey"),
        ],
        {},
    )
    assert code == 1
    assert f"the log of size {old_checkpoint.tree_size} is not a prefix" in output
