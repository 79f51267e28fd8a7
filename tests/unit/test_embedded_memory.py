"""The embedded PostgreSQL's memory is sized for the machine (a quarter for shared buffers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from application import embedded
from application.embedded import available_memory, memory_settings

GIB = 1024**3


@pytest.mark.parametrize(
    ("total", "shared", "cache"),
    [
        (24 * GIB, "6144MB", "12288MB"),  # this machine's size: a quarter, and half for the cache
        (2 * GIB, "512MB", "1024MB"),
        (256 * 1024**2, "128MB", "128MB"),  # never below PostgreSQL's own default
        (64 * GIB, "8192MB", "32768MB"),  # shared buffers at most 8 GiB
    ],
)
def test_a_quarter_of_the_memory_goes_to_shared_buffers(
    total: int, shared: str, cache: str
) -> None:
    assert memory_settings(total) == (
        "-c",
        f"shared_buffers={shared}",
        "-c",
        f"effective_cache_size={cache}",
    )


def test_a_container_limit_lower_than_the_machine_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = tmp_path / "memory.max"
    limit.write_text(f"{2 * GIB}\n")
    unlimited = tmp_path / "v1-limit"
    unlimited.write_text("max\n")
    monkeypatch.setattr(embedded, "CGROUP_LIMITS", (unlimited, limit))
    assert available_memory() == 2 * GIB
    limit.write_text(f"{10**15}\n")  # above the machine's memory: the machine's counts
    assert available_memory() < 10**15
