"""Domain events, one module per kind of stream; importing this package registers every type."""

from ptw_domain.events import (
    closeout,
    delegation,
    gas,
    handover,
    idempotency,
    isolation,
    organisation,
    people,
    permit,
    project,
    records,
    simops,
    sync,
)
from ptw_domain.events.base import EVENT_TYPES, DomainEvent, EventMetadata, Recorded

__all__ = [
    "EVENT_TYPES",
    "DomainEvent",
    "EventMetadata",
    "Recorded",
    "closeout",
    "delegation",
    "gas",
    "handover",
    "idempotency",
    "isolation",
    "organisation",
    "people",
    "permit",
    "project",
    "records",
    "simops",
    "sync",
]
