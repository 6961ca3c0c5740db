"""Test builders: a project with templates and people, and helpers that take a permit through its lifecycle.

They call only the public facade, so each test reads as Given (builder) / When (command) / Then (assertions).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ptw_domain import commands as c
from ptw_domain.clock import ManualClock
from ptw_domain.permit.content import PermitContent
from ptw_domain.permit.state import PermitState
from ptw_domain.roles import Actor, CompanyKind, Member, Role
from ptw_domain.service import CommandResult, PermitService
from ptw_domain.signatures import SignatureInput

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

HOT_WORK = {
    "key": "hot-work",
    "category": "hot_work",
    "name": "Hot work",
    "mandatory_ppe": ["Welding gloves"],
    "safety_checklist": ["Combustibles removed", {"key": "extinguisher", "label": "Extinguisher at hand"}],
}
COLD_WORK = {"key": "cold-work", "category": "cold_work", "name": "Cold work"}


def member(person_id: str, *roles: Role, level: int = 3, kind: CompanyKind = CompanyKind.OWNER) -> Member:
    return Member(
        person_id=person_id,
        name=person_id.title(),
        roles=frozenset(roles),
        authority_level=level,
        company_kind=kind,
    )


@dataclass
class World:
    """One organisation, one project, the two templates above and a cast of people."""

    service: PermitService
    clock: ManualClock
    organisation_id: uuid.UUID
    project_id: uuid.UUID
    people: dict[str, Member] = field(default_factory=dict)

    @classmethod
    def create(cls, service: PermitService, clock: ManualClock, code: str = "NORTH") -> World:
        world = cls(service=service, clock=clock, organisation_id=uuid.uuid4(), project_id=uuid.uuid4())
        world.people = {
            "admin": member("admin", Role.PROJECT_ADMIN),
            "req": member("req", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR),
            "ver": member("ver", Role.VERIFIER, level=2),
            "app": member("app", Role.APPROVER, level=3),
            "app2": member("app2", Role.APPROVER, level=3),
            "area": member("area", Role.AREA_AUTHORITY, level=3),
            "safe": member("safe", Role.SAFETY_OFFICER, level=2),
        }
        admin = world.actor("admin", org_admin=True)
        service.execute(
            c.OpenProject(
                actor=admin,
                project_id=world.project_id,
                organisation_id=world.organisation_id,
                code=code,
                title="North site",
            )
        )
        for definition in (HOT_WORK, COLD_WORK):
            service.execute(
                c.PublishTemplateVersion(
                    actor=admin, organisation_id=world.organisation_id, definition=definition
                )
            )
        return world

    def actor(self, person: str, *, org_admin: bool = False) -> Actor:
        """The person as an actor who authenticated just now (fresh SIG-04 evidence)."""
        return Actor(member=self.people[person], auth_time=self.clock.now(), org_admin=org_admin)

    def content(self, **overrides: Any) -> PermitContent:
        start = self.clock.now() + timedelta(hours=1)
        values: dict[str, Any] = dict(  # noqa: C408 - reads as keyword arguments
            description="Weld a bracket on pipe rack 3",
            area="A1",
            location="Pipe rack 3",
            equipment_tags=("P-101",),
            planned_start=start,
            planned_end=start + timedelta(hours=8),
            probability=2,
            severity=3,
            hazards=("fire",),
            controls=("extinguisher",),
            ppe=("welding gloves",),
            checklist_answers={"combustibles_removed": True, "extinguisher": True},
        )
        values.update(overrides)
        return PermitContent(**values)

    def run(self, command: c.Command) -> CommandResult:
        return self.service.execute(command)

    def permit(self, permit_id: uuid.UUID) -> PermitState:
        return self.service.permit(permit_id)

    def signature(self, permit_id: uuid.UUID, **kw: Any) -> SignatureInput:
        return SignatureInput(core_hash=self.permit(permit_id).core_hash, **kw)

    # --- taking a permit along its path ------------------------------------------------------------------

    def draft(self, template: str = "hot-work", **content: Any) -> uuid.UUID:
        permit_id = uuid.uuid4()
        self.run(
            c.CreatePermit(
                actor=self.actor("req"),
                permit_id=permit_id,
                project_id=self.project_id,
                template_key=template,
                content=self.content(**content),
            )
        )
        return permit_id

    def submitted(self, **content: Any) -> uuid.UUID:
        pid = self.draft(**content)
        self.run(c.NominateVerifier(actor=self.actor("req"), permit_id=pid, verifier=self.people["ver"]))
        self.run(c.SubmitPermit(actor=self.actor("req"), permit_id=pid, signature=self.signature(pid)))
        return pid

    def under_review(self, **content: Any) -> uuid.UUID:
        pid = self.submitted(**content)
        self.run(
            c.VerifyPermit(
                actor=self.actor("ver"),
                permit_id=pid,
                approvers=(self.people["app"], self.people["app2"]),
                signature=self.signature(pid),
            )
        )
        return pid

    def approved(self, **content: Any) -> uuid.UUID:
        pid = self.under_review(**content)
        self.run(c.ApprovePermit(actor=self.actor("app"), permit_id=pid, signature=self.signature(pid)))
        return pid

    def acceptance(self, pid: uuid.UUID) -> c.Acceptance:
        return c.Acceptance(
            acceptor=self.people["req"], signature=self.signature(pid, reauthenticated_at=self.clock.now())
        )

    def active(self, **content: Any) -> uuid.UUID:
        pid = self.approved(**content)
        self.clock.advance(timedelta(minutes=30))
        self.run(
            c.ActivatePermit(
                actor=self.actor("app"),
                permit_id=pid,
                signature=self.signature(pid),
                acceptance=self.acceptance(pid),
            )
        )
        return pid

    def completed(self, **content: Any) -> uuid.UUID:
        pid = self.active(**content)
        self.clock.advance(timedelta(hours=1))
        self.run(
            c.CompletePermit(
                actor=self.actor("req"),
                permit_id=pid,
                outcome="complete",
                site_safe=True,
                signature=self.signature(pid),
            )
        )
        return pid

    def closed(self, **content: Any) -> uuid.UUID:
        pid = self.completed(**content)
        self.clock.advance(timedelta(minutes=45))
        self.run(
            c.ClosePermit(
                actor=self.actor("app"),
                permit_id=pid,
                inspected_at=self.clock.now(),
                signature=self.signature(pid),
            )
        )
        return pid
