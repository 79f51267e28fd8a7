"""The embedded server runs with the memory settings sized for this machine."""

from __future__ import annotations

from pathlib import Path

import psycopg

from application.embedded import EmbeddedPostgres, memory_settings


def test_the_embedded_server_runs_with_a_quarter_of_the_memory_as_shared_buffers(
    data_dir: Path,
) -> None:
    server = EmbeddedPostgres(data_dir / "postgres")
    server.start()
    try:
        with psycopg.connect(server.url()) as connection:
            rows = connection.execute(
                "SELECT name, setting::bigint * pg_size_bytes(coalesce(unit, '1')) / 1048576"
                " FROM pg_settings WHERE name IN ('shared_buffers', 'effective_cache_size')"
            ).fetchall()
    finally:
        server.stop()
    _, shared, _, cache = memory_settings()
    assert dict(rows) == {
        "shared_buffers": int(shared.split("=")[1].removesuffix("MB")),
        "effective_cache_size": int(cache.split("=")[1].removesuffix("MB")),
    }
