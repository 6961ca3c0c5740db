"""Organisation-level events: role policy versions and template versions (ROLE-04, TPL-01)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ptw_domain.events.base import DomainEvent
from ptw_domain.roles import RolePolicy


class RolePolicyPublished(DomainEvent, frozen=True, kw_only=True):
    stream = "organisation"
    organisation_id: UUID
    policy: RolePolicy
    published_by: str


class TemplateVersionPublished(DomainEvent, frozen=True, kw_only=True):
    stream = "template"
    template_id: UUID
    organisation_id: UUID
    key: str
    version: int
    definition: dict[str, Any]
    hash: str
    published_by: str


class TemplateRetired(DomainEvent, frozen=True, kw_only=True):
    stream = "template"
    template_id: UUID
    retired_by: str
