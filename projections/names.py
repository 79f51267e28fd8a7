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

DEFAULT_PAGE_SIZE: Final = 2000
"""Events a projector applies per transaction."""
