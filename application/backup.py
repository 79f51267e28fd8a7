"""Physical backups of the ledger's PostgreSQL, and putting one back.

A backup folder holds:
- `pgdata/`: a base backup by `pg_basebackup` (the one that ships with the embedded server, else
  the one on PATH), plain format, with the WAL it needs;
- `checkpoint.txt`: the latest signed checkpoint when the backup began (every event it covers
  is in the backup), and `public-key.txt`, the key that verifies it;
- `keys/`: the ledger's own key files kept beside the database (the signing key and the lookup
  secrets' pepper), mode 0600: a backup is as secret as the database;
- `backup.json`: when it was taken, and the checkpoint's tree size.

After a restore the ledger checks itself against `checkpoint.txt` before it serves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from application.embedded import postgres_bin_dir, system_user

Progress = Callable[[int, int], None]
"""Called with the kilobytes copied so far and the total expected."""

PGDATA = "pgdata"
CHECKPOINT = "checkpoint.txt"
PUBLIC_KEY = "public-key.txt"
MANIFEST = "backup.json"
KEYS = "keys"
RESTORE_PENDING = "restore-pending.json"
_PROGRESS = re.compile(rb"(\d+)/(\d+) kB")


class BackupError(RuntimeError):
    """The backup or the restore could not be made; the message says why."""


@dataclass(frozen=True)
class SignedHead:
    """The checkpoint a backup is checked against."""

    note: str
    verifier_key: str
    tree_size: int


def pg_tool(name: str) -> Path:
    """A PostgreSQL client tool: the embedded server's, else the one on PATH."""
    bundled = postgres_bin_dir() / name
    if bundled.exists():
        return bundled
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed")
    return Path(found)


def base_backup(
    url: str,
    target: Path,
    *,
    head: SignedHead | None,
    key_files: list[Path],
    progress: Progress | None = None,
) -> None:
    """Write a backup of the server at `url` into the new folder `target`."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: a backup goes into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    if head is not None:
        (target / CHECKPOINT).write_text(head.note, encoding="utf-8")
        (target / PUBLIC_KEY).write_text(head.verifier_key + "\n", encoding="utf-8")
    command = [
        str(pg_tool("pg_basebackup")),
        "--dbname",
        url,
        "--pgdata",
        str(target / PGDATA),
        "--format=plain",
        "--wal-method=stream",
        "--checkpoint=fast",
        "--progress",
        "--no-password",
    ]
    _run_with_progress(command, progress)
    _copy_keys(key_files, target / KEYS)
    manifest = {
        "taken_at": datetime.now(UTC).isoformat(),
        "checkpoint_tree_size": head.tree_size if head is not None else None,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _run_with_progress(command: list[str], progress: Progress | None) -> None:
    """Run pg_basebackup, turning its `--progress` lines into calls of `progress`."""
    process = subprocess.Popen(  # noqa: S603 - a PostgreSQL tool, arguments of our own
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    messages = bytearray()
    pending = b""
    while chunk := os.read(process.stderr.fileno(), 4096):
        pending += chunk
        *lines, pending = re.split(rb"[\r\n]", pending)
        for line in lines:
            match = _PROGRESS.search(line)
            if match and progress is not None:
                progress(int(match.group(1)), int(match.group(2)))
            elif line.strip() and not match:
                messages += line + b"\n"
    if process.wait() != 0:
        detail = messages.decode(errors="replace").strip() or f"exit status {process.returncode}"
        raise BackupError(f"pg_basebackup failed: {detail}")


def _copy_keys(key_files: list[Path], folder: Path) -> None:
    folder.mkdir(mode=0o700, exist_ok=True)
    for key in key_files:
        if key.is_file():
            copy = folder / key.name
            shutil.copyfile(key, copy)
            copy.chmod(0o600)


def read_signed_head(backup: Path) -> SignedHead | None:
    note_path = backup / CHECKPOINT
    if not note_path.exists():
        return None
    note = note_path.read_text(encoding="utf-8")
    manifest = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    return SignedHead(
        note=note,
        verifier_key=(backup / PUBLIC_KEY).read_text(encoding="utf-8").strip(),
        tree_size=int(manifest["checkpoint_tree_size"]),
    )


def restore_files(backup: Path, pgdata: Path, data_dir: Path, progress: Progress) -> None:
    """Copy a backup into the (new) embedded data directory `pgdata`, and the key files into
    `data_dir` when it has none of its own; then mark the restore as still to be checked."""
    source = backup / PGDATA
    if not (source / "PG_VERSION").exists():
        raise BackupError(f"{backup} is not a ledger backup (no {PGDATA}/PG_VERSION)")
    if (pgdata / "PG_VERSION").exists():
        raise BackupError(
            f"{pgdata} already holds a database: restore into a new data directory"
            " (LEDGER_DATA_DIR), or move the old one away first"
        )
    files = [path for path in source.rglob("*") if path.is_file()]
    total = sum(path.stat().st_size for path in files) // 1024 or 1
    done = 0

    def copy(path: str, target: str) -> None:
        nonlocal done
        shutil.copy2(path, target)
        done += Path(path).stat().st_size
        progress(done // 1024, total)

    pgdata.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, pgdata, copy_function=copy, dirs_exist_ok=True)
    pgdata.chmod(0o700)
    user = system_user()
    if user is not None:
        _give_to(user, pgdata)
    for key in (backup / KEYS).glob("*") if (backup / KEYS).exists() else []:
        mine = data_dir / key.name
        if not mine.exists():
            shutil.copyfile(key, mine)
            mine.chmod(0o600)
    head = read_signed_head(backup)
    pending: dict[str, str | int | None] = {
        "backup": str(backup),
        "checkpoint": head.note if head else None,
    }
    if head is not None:
        pending |= {"verifier_key": head.verifier_key, "tree_size": head.tree_size}
    (data_dir / RESTORE_PENDING).write_text(json.dumps(pending) + "\n", encoding="utf-8")


def _give_to(user: str, folder: Path) -> None:
    import pwd  # noqa: PLC0415

    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            os.chown(Path(root) / name, entry.pw_uid, entry.pw_gid)
    os.chown(folder, entry.pw_uid, entry.pw_gid)


def pending_restore(data_dir: Path) -> SignedHead | bool | None:
    """The checkpoint a restore must still be checked against: False when no restore is
    pending, None when the backup had no checkpoint (an empty log)."""
    path = data_dir / RESTORE_PENDING
    if not path.exists():
        return False
    pending = json.loads(path.read_text(encoding="utf-8"))
    if not pending.get("checkpoint"):
        return None
    return SignedHead(pending["checkpoint"], pending["verifier_key"], int(pending["tree_size"]))


def restore_checked(data_dir: Path) -> None:
    (data_dir / RESTORE_PENDING).unlink(missing_ok=True)
