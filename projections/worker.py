"""One read model's projector in a process of its own: `python -m projections.worker NAME`.

`ledger project` starts one per read model (projections.supervisor): in one process the
projectors share one interpreter lock and reach about a third of the throughput. The worker
takes the database from LEDGER_DATABASE_URL (the supervisor migrated it), stops cleanly on
SIGTERM or SIGINT, and dies with its parent: on Linux the kernel kills it when the parent dies
(PR_SET_PDEATHSIG), elsewhere it notices within a second and stops.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

from projections.names import ALL, AUDIT_LOG, DEFAULT_PAGE_SIZE


class Stoppable(Protocol):
    def stop(self) -> None: ...


PR_SET_PDEATHSIG = 1
PARENT_CHECK_SECONDS = 1.0

_log = logging.getLogger(__name__)


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux), as a crash would."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projections.worker")
    parser.add_argument("name", choices=ALL)
    parser.add_argument("--batch", type=int, default=DEFAULT_PAGE_SIZE)
    parser.add_argument("--parent", type=int, help="the supervisor's pid: die with it")
    args = parser.parse_args(argv)
    if args.parent is not None:
        die_with_parent(args.parent)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")

    from application.bootstrap import Database  # noqa: PLC0415 - after the parent check
    from application.runtime import load_rules, tune_garbage_collection  # noqa: PLC0415
    from application.settings import Settings  # noqa: PLC0415
    from projections.audit_log import start_checkpointing  # noqa: PLC0415
    from projections.registry import start_projections  # noqa: PLC0415

    settings = Settings.from_environ()
    if settings.database_url is None:
        parser.error("LEDGER_DATABASE_URL must name the (migrated) database")
    database = Database(url=settings.database_url, app_role=settings.app_role)
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    rules = load_rules(settings)
    # As in the API's processes: applying a page allocates much, and with Python's defaults
    # the collector's passes took two fifths of the timeliness model's catch-up.
    tune_garbage_collection()
    runners: list[Stoppable] = list(
        start_projections(
            database, rules, names=[args.name], page_size=args.batch, freeze_after_page=True
        )
    )
    if args.name == AUDIT_LOG:
        runners.append(start_checkpointing(database, settings))  # signs where the log grows
    try:
        while not stopping.wait(PARENT_CHECK_SECONDS):
            if args.parent is not None and os.getppid() != args.parent:
                _log.warning("%s: the supervisor is gone; stopping", args.name)
                break
    finally:
        for runner in runners:
            runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
