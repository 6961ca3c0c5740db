"""Domain events, one module per kind of stream; importing this package registers every type."""

from ptw_domain.events import delegation, idempotency, organisation, permit, project
from ptw_domain.events.base import EVENT_TYPES, DomainEvent, EventMetadata, Recorded

__all__ = [
    "EVENT_TYPES",
    "DomainEvent",
    "EventMetadata",
    "Recorded",
    "delegation",
    "idempotency",
    "organisation",
    "permit",
    "project",
]
