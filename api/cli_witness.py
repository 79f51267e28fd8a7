"""`ledger witness`: run a witness of another body's log (its own key and state file).

Needs no LEDGER_ settings and no database: a witness keeps, per log, the last checkpoint it
cosigned in its state file, and cosigns only checkpoints consistent with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from api.cli_common import CONTEXT, fail


@click.group("witness", context_settings=CONTEXT)
def witness() -> None:
    """Witness other logs: cosign their checkpoints, refuse any that rewrite history."""


@witness.command("keygen", context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signer key here (mode 0600); it must not exist yet.",
)
def keygen(name: str, key_path: Path) -> None:
    """Create a witness key named NAME (a schema-less URL naming the witness, e.g.
    witness.thanhtra.gov.vn/w1) and print its verifier key, which the logs' operators and the
    inspectors configure."""
    from application.transparency.cosignature import (  # noqa: PLC0415
        CosignatureSigner,
        generate_cosigner,
    )
    from application.transparency.note import MalformedKeyError  # noqa: PLC0415

    try:
        text = generate_cosigner(name)
    except MalformedKeyError as error:
        fail(f"NAME: {error}", 2)
        raise  # unreachable: fail exits
    try:
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{key_path} exists already: a witness keeps its key", 2)
        raise  # unreachable: fail exits
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    click.echo(CosignatureSigner.from_key(text).verifier().vkey())


@witness.command("serve", context_settings=CONTEXT)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The witness's signer key (from `ledger witness keygen`).",
)
@click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The state file: the last checkpoint cosigned of each log (created if missing).",
)
@click.option(
    "--log",
    "log_keys",
    multiple=True,
    required=True,
    metavar="VKEY",
    help="A log to witness: its verifier key (GET /v1/audit/public-key); repeat for more.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8100, show_default=True, type=int, help="Port to listen on.")
def serve(
    key_path: Path, state_path: Path, log_keys: tuple[str, ...], host: str, port: int
) -> None:
    """Serve the witness (POST /add-checkpoint, GET /<origin hash>/checkpoint)."""
    import uvicorn  # noqa: PLC0415

    from api.witness_app import create_witness_app  # noqa: PLC0415
    from application.transparency.cosignature import CosignatureSigner  # noqa: PLC0415
    from application.transparency.note import NoteError, Verifier  # noqa: PLC0415
    from application.transparency.witness import Witness  # noqa: PLC0415

    try:
        signer = CosignatureSigner.from_file(key_path)
    except NoteError as error:
        fail(f"--key: {error}", 2)
        raise  # unreachable: fail exits
    logs = {}
    for text in log_keys:
        try:
            verifier = Verifier.from_vkey(text)
        except (NoteError, ValueError) as error:
            fail(f"--log {text}: {error}", 2)
            raise  # unreachable: fail exits
        logs[verifier.name] = verifier
    app = create_witness_app(Witness(signer, logs, state_path))
    click.echo(f"witness {signer.verifier().vkey()} on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
