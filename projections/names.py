"""The read models' names (their tables' names, `ledger rebuild`'s argument) and the default page
size: what the command line needs without loading the read models."""

from __future__ import annotations

from typing import Final

DOSSIER_STATUS: Final = "dossier_status"
PUBLIC_LOOKUP: Final = "public_lookup"
TIMELINESS: Final = "timeliness"
AUDIT_LOG: Final = "audit_log"
STEPS: Final = "steps"

ALL: Final = (DOSSIER_STATUS, PUBLIC_LOOKUP, TIMELINESS, AUDIT_LOG, STEPS)

DEFAULT_PAGE_SIZE: Final = 10_000
"""Events a projector applies per transaction, at most (a projector that follows the head applies
what has arrived). Each page costs a fixed number of statements and a commit, and the timeliness
counters are summed per page: catching up, pages of 10,000 ran 20-40 % faster than pages of
2,000 (docs/performance.md); a page's decoded events take a few tens of megabytes."""
