"""Fault tests: a real `ledger serve`, a real PostgreSQL, and a fault done to it as an operator
would see one. Each test is bounded in time and prints what it measured at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.ledger import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suite: measured times")
    for measured in FIGURES:
        shown = ", ".join(f"{name} {value}" for name, value in measured.values.items())
        terminalreporter.write_line(f"{measured.case}: {shown}")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory under /tmp: as root, the embedded server runs as another user, which
    must traverse every parent folder (pytest keeps its own temporary folders private)."""
    folder = Path(tempfile.mkdtemp(prefix="ledger-fault-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder / "data"
    if not os.environ.get("KEEP_FAULT_DATA"):
        shutil.rmtree(folder, ignore_errors=True)
