"""`ledger backup DIR` and `ledger restore DIR`, and the check a restored ledger passes before
it serves. Registered on the `ledger` group in api/cli.py."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli_common import CONTEXT, composition, fail, load_settings, open_database

if TYPE_CHECKING:
    from application.backup import SignedHead
    from application.bootstrap import Database
    from application.settings import Settings


@click.command("backup", context_settings=CONTEXT)
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def backup(target: Path) -> None:
    """Take a physical backup of the ledger's database into the new folder TARGET.

    Uses the pg_basebackup that ships with the embedded server (with LEDGER_DATABASE_URL, that
    role needs the REPLICATION attribute). The ledger keeps serving meanwhile. The latest
    signed checkpoint and the ledger's key files go with it: keep the folder as safe as the
    database.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from application.backup import BackupError, SignedHead, base_backup  # noqa: PLC0415
    from projections.audit_log import open_audit_log  # noqa: PLC0415

    settings = load_settings()
    database = open_database(composition(settings))
    view = open_audit_log(database.ledger_env(pool_size=1))
    try:
        with view.log.reading() as store:
            latest = store.latest_checkpoint()
    finally:
        view.datastore.close()
    head = None
    if latest is not None:
        head = SignedHead(latest.note, latest.verifier_key, latest.tree_size)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("copying the database", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            base_backup(
                database.url,
                target,
                head=head,
                key_files=[settings.signing_key_path, settings.secret_pepper_path],
                progress=progress,
            )
        except BackupError as error:
            fail(str(error))
    covered = f"checkpoint at tree size {head.tree_size}" if head else "no checkpoint yet"
    click.echo(f"backup written to {target} ({covered})")


@click.command("restore", context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore(source: Path) -> None:
    """Restore the backup SOURCE into the embedded data directory (LEDGER_DATA_DIR), which
    must not hold a database yet, start it, and check it against the backup's signed
    checkpoint. Until that check passes, `ledger serve` refuses to serve this data directory.

    With LEDGER_DATABASE_URL, restore the backup's pgdata folder into your own server as its
    data directory, then run `ledger audit check`.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from application.backup import BackupError, restore_files  # noqa: PLC0415

    settings = load_settings()
    if not settings.embedded:
        fail(
            "LEDGER_DATABASE_URL is set: restore the backup's pgdata into that server yourself, "
            "then run `ledger audit check`",
            2,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (
        _OwnerLock(settings.data_dir),
        Progress(console=Console(stderr=True), transient=True) as bar,
    ):
        task = bar.add_task("copying the backup", total=None)
        try:
            restore_files(
                source,
                settings.embedded_data_dir,
                settings.data_dir,
                lambda done, total: bar.update(task, completed=done, total=total),
            )
        except BackupError as error:
            fail(str(error), 2)
    ok, lines = check_restored(settings)
    for line in lines:
        click.echo(line)
    if not ok:
        raise SystemExit(1)


class _OwnerLock:
    """Hold the embedded server's owner lock (no ledger process may run on it meanwhile)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "postgres.owner.lock"

    def __enter__(self) -> None:
        self.handle = self.path.open("a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail(f"a ledger process is using {self.path.parent}: stop it before a restore", 2)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def check_restored(settings: Settings) -> tuple[bool, list[str]]:
    """If this data directory was restored and not yet checked: log every event, check the
    events against the log, and the log against the backup's signed checkpoint (same tree size
    and root, or what is missing). (True, lines) when it holds, or when there is nothing to
    check."""
    from application.backup import SignedHead, pending_restore, restore_checked  # noqa: PLC0415

    pending = pending_restore(settings.data_dir)
    if pending is False:
        return True, []
    database = open_database(composition(settings))
    ok, lines = _compare(database, pending if isinstance(pending, SignedHead) else None)
    if ok:
        restore_checked(settings.data_dir)
    return ok, lines


def _compare(database: Database, head: SignedHead | None) -> tuple[bool, list[str]]:
    from application.transparency.check import check_log  # noqa: PLC0415
    from application.transparency.note import NoteError, Verifier, open_checkpoint  # noqa: PLC0415
    from projections.audit_log import catch_up_audit_log, open_audit_log  # noqa: PLC0415

    view = open_audit_log(database.ledger_env(pool_size=1))
    try:
        catch_up_audit_log(database, view)
        verifier = Verifier.from_vkey(head.verifier_key) if head else None
        report = check_log(view.log, verifier)
        lines = report.lines()
        if head is None:
            return report.ok, [*lines, "the backup had no signed checkpoint to compare with"]
        assert verifier is not None
        try:
            signed = open_checkpoint(head.note, verifier)
        except NoteError as error:
            return False, [*lines, f"the backup's checkpoint does not verify: {error}"]
        with view.log.reading() as store:
            size = store.tree_size()
            root = store.root_hash(signed.tree_size) if size >= signed.tree_size else None
    finally:
        view.datastore.close()
    if root is None:
        return False, [
            *lines,
            f"MISSING: the backup's checkpoint covers {signed.tree_size} events, the restored"
            f" ledger has {size}: events {size} to {signed.tree_size - 1} (leaf indexes) are"
            " missing",
        ]
    if root != signed.root_hash:
        return False, [
            *lines,
            f"FAILED: the restored events give another root at tree size {signed.tree_size}"
            " than the backup's signed checkpoint",
        ]
    return report.ok, [
        *lines,
        f"OK: the restored ledger equals the signed checkpoint at tree size {signed.tree_size}"
        f" (root {_b64(signed.root_hash)}); {size} events in all",
    ]


def _b64(value: bytes) -> str:
    import base64  # noqa: PLC0415

    return base64.b64encode(value).decode()
