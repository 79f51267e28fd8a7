"""`ledger verify`, `ledger export` and `ledger audit`: the transparency log from the command line.

Registered on the `ledger` group in api/cli.py. `verify` works offline: it reads no settings and
opens no database and no network connection. The others read the LEDGER_* settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli_common import CONTEXT, composition, fail, load_settings, open_database

if TYPE_CHECKING:
    from application.bootstrap import Database
    from application.transparency.log import AuditLog
    from application.transparency.note import Verifier
    from application.transparency.verify import WitnessPolicy

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
PUBLIC_KEY_OPTION = click.option(
    "--public-key",
    "public_key",
    metavar="KEY",
    help="The log's verifier key (name+id+base64): a file holding it, or the key itself.",
)


def _verifier_key_text(key: str) -> str:
    path = Path(key)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return key.strip()


@click.command("verify", context_settings=CONTEXT)
@click.argument("bundle", required=False, type=FILE)
@click.option(
    "--consistency",
    nargs=2,
    type=FILE,
    metavar="OLD NEW",
    help="Check that the checkpoint NEW extends the checkpoint OLD (two signed-note files).",
)
@click.option(
    "--proof",
    type=FILE,
    help="With --consistency: the proof, as GET /v1/audit/proofs/consistency serves it"
    " (not needed when the sizes are equal).",
)
@PUBLIC_KEY_OPTION
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    metavar="VKEY",
    help="A witness whose cosignature counts (its verifier key, or a file holding it);"
    " repeat for each witness of the policy.",
)
@click.option(
    "--quorum",
    type=click.IntRange(min=1),
    help="How many of the --witness keys must have cosigned each checkpoint (default: all).",
)
def verify(
    bundle: Path | None,
    consistency: tuple[Path, Path] | None,
    proof: Path | None,
    public_key: str | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Check, offline, an exported dossier history (BUNDLE), or that a checkpoint extends an
    older one (--consistency OLD NEW). With --witness (and --quorum), each checkpoint must also
    carry enough valid witness cosignatures. Exit status 0 when everything holds, 1 when not."""
    from application.transparency.note import MalformedKeyError, Verifier  # noqa: PLC0415

    if (bundle is None) == (not consistency):
        fail("give either BUNDLE or --consistency OLD NEW", 2)
    if public_key is None:
        fail("--public-key is required: the log's verifier key, or a file holding it", 2)
        raise AssertionError  # unreachable: fail exits
    key_text = _verifier_key_text(public_key)
    try:
        Verifier.from_vkey(key_text)
    except (MalformedKeyError, ValueError) as error:
        fail(f"--public-key: {error}", 2)
    policy = _witness_policy(witness_keys, quorum)
    if bundle is not None:
        _verify_bundle(bundle, key_text, policy)
    else:
        assert consistency
        _verify_consistency(*consistency, proof, Verifier.from_vkey(key_text), policy)


def _witness_policy(witness_keys: tuple[str, ...], quorum: int | None) -> WitnessPolicy | None:
    from application.transparency.cosignature import CosignatureVerifier  # noqa: PLC0415
    from application.transparency.verify import WitnessPolicy  # noqa: PLC0415

    if not witness_keys:
        if quorum is not None:
            fail("--quorum needs the witnesses' keys: give --witness VKEY for each", 2)
        return None
    witnesses = []
    for key in witness_keys:
        try:
            witnesses.append(CosignatureVerifier.from_vkey(_verifier_key_text(key)))
        except ValueError as error:
            fail(f"--witness {key}: {error}", 2)
    try:
        return WitnessPolicy(tuple(witnesses), len(witnesses) if quorum is None else quorum)
    except ValueError as error:
        fail(f"--quorum: {error}", 2)
        raise  # unreachable: fail exits


def _verify_bundle(bundle: Path, key_text: str, policy: WitnessPolicy | None) -> None:
    from application.transparency.verify import verify_bundle  # noqa: PLC0415

    report = verify_bundle(bundle.read_bytes(), key_text, policy=policy)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


def _check_quorum(policy: WitnessPolicy | None, notes: dict[str, bytes]) -> None:
    if policy is None:
        return
    for which, note in notes.items():
        names, problem = policy.check(note)
        if problem is not None:
            click.echo(f"FAILED: {which}: {problem}")
            raise SystemExit(1)
        click.echo(f"{which}: cosigned by {', '.join(names)}")


def _verify_consistency(
    old: Path, new: Path, proof: Path | None, verifier: Verifier, policy: WitnessPolicy | None
) -> None:
    import msgspec  # noqa: PLC0415

    from application.transparency.bundle import (  # noqa: PLC0415
        decode_consistency_proof,
        decode_hashes,
    )
    from application.transparency.verify import (  # noqa: PLC0415
        ConsistencyError,
        verify_checkpoint_consistency,
    )

    hashes: list[bytes] = []
    expected_sizes = None
    if proof is not None:
        try:
            document = decode_consistency_proof(proof.read_bytes())
            hashes = decode_hashes(document.hashes)
        except (msgspec.DecodeError, ValueError) as error:
            fail(f"--proof: not a consistency proof document: {error}", 2)
        expected_sizes = (document.from_, document.to)
    try:
        older, newer = verify_checkpoint_consistency(
            old.read_bytes(), new.read_bytes(), hashes, verifier
        )
        if expected_sizes is not None and expected_sizes != (older.tree_size, newer.tree_size):
            raise ConsistencyError(
                f"the proof is from size {expected_sizes[0]} to {expected_sizes[1]}, the"
                f" checkpoints are of sizes {older.tree_size} and {newer.tree_size}"
            )
        _check_quorum(policy, {"the old checkpoint": old.read_bytes(), "the new": new.read_bytes()})
    except ConsistencyError as error:
        click.echo("FAILED: the checkpoints are not consistent")
        click.echo(str(error))
        if proof is None:
            click.echo("(no --proof given: get it from GET /v1/audit/proofs/consistency)")
        raise SystemExit(1) from None
    click.echo(
        f"OK: the log {older.origin} as signed at tree size {older.tree_size} is a prefix of"
        f" the log as signed at tree size {newer.tree_size}: nothing logged before was"
        " changed, removed or reordered"
    )


@contextmanager
def _audit_log() -> Iterator[tuple[Database, AuditLog]]:
    from projections.audit_log import open_audit_log  # noqa: PLC0415

    database = open_database()
    view = open_audit_log(database.ledger_env(pool_size=1))
    try:
        yield database, view.log
    finally:
        view.datastore.close()


@click.command("export", context_settings=CONTEXT)
@click.argument("code")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the bundle to this file (default: standard output).",
)
def export(code: str, output: Path | None) -> None:
    """Export the history of the dossier CODE with its inclusion proofs in the latest signed
    checkpoint (a dossier-ledger-bundle/1 document), for `ledger verify`."""
    from application.transparency.bundle import encode_bundle  # noqa: PLC0415
    from application.transparency.proofs import AuditLogError, export_bundle  # noqa: PLC0415
    from domain.code import DossierCode  # noqa: PLC0415
    from domain.errors import InvalidDossierCode  # noqa: PLC0415

    try:
        dossier_code = DossierCode.parse(code)
    except InvalidDossierCode as error:
        fail(f"CODE: {error}", 2)
        raise  # unreachable: fail exits
    with _audit_log() as (_database, log):
        try:
            bundle = encode_bundle(export_bundle(log, dossier_code))
        except AuditLogError as error:
            fail(str(error))
            raise  # unreachable: fail exits
    if output is None:
        click.echo(bundle.decode(), nl=False)
    else:
        output.write_bytes(bundle)
        click.echo(f"wrote {output}: {dossier_code}", err=True)


@click.group("audit", context_settings=CONTEXT)
def audit() -> None:
    """The transparency log: its public key, checkpoints, and a check of the events table."""


@audit.command("public-key", context_settings=CONTEXT)
def audit_public_key() -> None:
    """Print the log's verifier key (name+id+base64), creating the signing key if there is
    none yet (LEDGER_SIGNING_KEY, default LEDGER_DATA_DIR/signing.key)."""
    from application.transparency.keyfile import (  # noqa: PLC0415
        SigningKeyError,
        load_or_create_signer,
    )

    settings = load_settings()
    try:
        signer = load_or_create_signer(settings.signing_key_path, settings.log_origin)
    except (SigningKeyError, OSError) as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits
    click.echo(signer.verifier().vkey())


@audit.command("checkpoint", context_settings=CONTEXT)
def audit_checkpoint() -> None:
    """Log every event stored so far, sign a checkpoint if the log grew, ask the witnesses
    (LEDGER_WITNESSES) to cosign it, and print the latest checkpoint (a signed note, with its
    cosignatures). Refuses, with exit status 1, to sign a tree that contradicts an earlier
    checkpoint."""
    from application.transparency.checkpoints import CheckpointRefused  # noqa: PLC0415
    from application.transparency.keyfile import SigningKeyError  # noqa: PLC0415
    from projections.audit_log import checkpoint_now  # noqa: PLC0415

    settings = load_settings()
    try:
        latest, outcomes = checkpoint_now(open_database(composition(settings)), settings)
    except (CheckpointRefused, SigningKeyError) as error:
        fail(str(error))
        raise  # unreachable: fail exits
    if latest is None:
        fail("the log is empty: there is nothing to sign yet")
        raise AssertionError  # unreachable: fail exits
    for url, outcome in outcomes.items():
        click.echo(f"witness {url}: {outcome}", err=True)
    click.echo(latest.note, nl=False)


@audit.command("alarms", context_settings=CONTEXT)
@click.option(
    "--acknowledge",
    is_flag=True,
    help="Mark every open alarm as dealt with (after keeping the evidence it names).",
)
def audit_alarms(acknowledge: bool) -> None:
    """List the open alarms about the log (a witness refused a checkpoint signed with the
    log's key: someone was shown another history). Exit status 1 while any is open."""
    with _audit_log() as (_database, log):
        with log.reading() as store:
            alarms = store.open_alarms()
        for alarm in alarms:
            click.echo(f"{alarm.raised_at.isoformat()} {alarm}")
        if acknowledge and alarms:
            with log.writing() as store:
                count = store.acknowledge_alarms()
            click.echo(f"acknowledged {count} alarm(s)")
            return
    if alarms:
        raise SystemExit(1)
    click.echo("no open alarm")


@audit.command("check", context_settings=CONTEXT)
@PUBLIC_KEY_OPTION
def audit_check(public_key: str | None) -> None:
    """Recompute every leaf from the events table and compare it with the log, and the signed
    checkpoints with the tree the events give. Names the dossier and version of every event
    changed, deleted or inserted directly in the database. Exit status 1 if anything differs.

    The checkpoints are checked against --public-key, by default the key of the signing key
    file (LEDGER_SIGNING_KEY), else the key recorded with the latest checkpoint.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from application.transparency.check import check_log  # noqa: PLC0415

    verifier = _check_verifier(public_key)
    with (
        _audit_log() as (_database, log),
        Progress(console=Console(stderr=True), transient=True) as bar,
    ):
        task = bar.add_task("checking the events against the log", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = check_log(log, verifier, progress)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


def _check_verifier(public_key: str | None) -> Verifier | None:
    from application.transparency.keyfile import SigningKeyError, load_signer  # noqa: PLC0415
    from application.transparency.note import MalformedKeyError, Verifier  # noqa: PLC0415

    if public_key is not None:
        try:
            return Verifier.from_vkey(_verifier_key_text(public_key))
        except (MalformedKeyError, ValueError) as error:
            fail(f"--public-key: {error}", 2)
    settings = load_settings()
    if not settings.signing_key_path.exists():
        return None
    try:
        return load_signer(settings.signing_key_path, settings.log_origin).verifier()
    except SigningKeyError as error:
        fail(str(error), 2)
        raise  # unreachable: fail exits
