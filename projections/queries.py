"""What the read endpoints ask, on the asynchronous read pool of the API's event loop.

`Queries` is opened in the app's lifespan beside the read models' views: the public lookup's
rows and dossiers' histories are read by key (the keys asked at about the same time in one
statement), lists and reports with their statements sent at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.bootstrap import Database
from application.ledger import DossierLedger, Histories
from application.reads import AsyncReads
from projections.public_lookup import PublicLookups
from projections.registry import ReadModels


@dataclass(frozen=True)
class Queries:
    reads: AsyncReads
    read_models: ReadModels
    public: PublicLookups
    histories: Histories

    @classmethod
    def of(
        cls, database: Database, read_models: ReadModels, ledger: DossierLedger, pool_size: int
    ) -> Queries:
        """Not yet connected: `await open()` on the event loop that will use it."""
        reads = AsyncReads(
            database.url, app_role=database.app_role, size=pool_size, timeout=database.timeout
        )
        return cls(
            reads=reads,
            read_models=read_models,
            public=PublicLookups(read_models.public_lookup, reads),
            histories=Histories(reads, ledger),
        )

    async def open(self) -> None:
        await self.reads.open()

    async def close(self) -> None:
        await self.reads.close()
