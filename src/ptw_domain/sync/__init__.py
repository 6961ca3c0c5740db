"""Offline sync (domain.md §16, SYNC-01..13; ADR 0013): a device's batch of commands, each run through
`PermitService.execute` at server time, with its outcome recorded once in the project's sync ledger.

`batch` holds the inputs and answers, `staleness` the SYNC-05/06/08 comparison of what the device saw with what
the server holds, `duplicates` SYNC-10, `ledger` the ledger streams, `engine` the run. The engine is reached
through `PermitService.sync`; the review list (SYNC-07) and the health figures (SYNC-12) are read from the
`sync_ledger` projection (ptw_projections.sync_ledger).
"""

from ptw_domain.sync.batch import (
    CORE_HASH_PLACEHOLDER,
    MAX_COMMANDS,
    TEMPORARY,
    Invalid,
    SyncBatch,
    SyncItem,
    SyncReport,
    SyncResult,
    created_id,
    is_temporary,
    temporary_id,
)

__all__ = [
    "CORE_HASH_PLACEHOLDER",
    "MAX_COMMANDS",
    "TEMPORARY",
    "Invalid",
    "SyncBatch",
    "SyncItem",
    "SyncReport",
    "SyncResult",
    "created_id",
    "is_temporary",
    "temporary_id",
]
