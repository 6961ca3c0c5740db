# ruff: noqa: N802
"""Records on the read side, on SQLite and PostgreSQL: the permit detail shows attachments, annotations and linked
incidents (RM-06), the audit trail has a row for each with its summary and what it added (RM-11), and the KPI
projection keeps the incidents the RPT-02 incident rate counts (RPT-04)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import msgspec
from sqlalchemy import select

from ptw_domain.records import commands as rc
from ptw_projections.audit_trail.query import AuditQuery, list_audit_events
from ptw_projections.params import parse_query
from ptw_projections.permit_list.detail import permit_detail
from tests.builders import World
from tests.projections.conftest import Projected

SHA = hashlib.sha256(b"isolation photo").hexdigest()


def test_RM_06_RM_11_the_detail_and_the_audit_trail_show_the_records(
    world: World, projected: Projected
) -> None:
    pid = world.completed()
    world.run(
        rc.AddAttachment(
            actor=world.actor("area"),
            permit_id=pid,
            uri="urn:docs:photo-17",
            sha256=SHA,
            media_type="image/jpeg",
            size=2_048_000,
            title="Isolation photo",
        )
    )
    world.run(rc.AnnotatePermit(actor=world.actor("safe"), permit_id=pid, text="Tools left on site, removed"))
    world.run(rc.LinkIncident(actor=world.actor("safe"), permit_id=pid, incident_ref="INC-9"))
    reads = projected.catch_up()
    records = permit_detail(reads, world.project_id, pid, as_of=world.clock.now()).permit.records
    assert [a.sha256 for a in records.attachments] == [SHA]
    assert [(n.text, n.status) for n in records.annotations] == [("Tools left on site, removed", "completed")]
    assert [i.incident_ref for i in records.incidents] == ["INC-9"]
    page = list_audit_events(
        reads, world.project_id, parse_query({"permit": str(pid), "page_size": "100"}, AuditQuery)
    )
    rows = {r.type: r for r in page.items}
    assert rows["AttachmentAdded"].summary == "Attachment added by area"
    assert rows["AttachmentAdded"].changes["records.attachments"][1][0]["sha256"] == SHA  # [before, after]
    assert rows["PermitAnnotated"].summary == "Permit annotated by safe"
    assert rows["IncidentLinked"].summary == "Incident linked by safe"
    assert rows["IncidentLinked"].changes["records.incidents"] == [
        [],
        [msgspec.to_builtins(records.incidents[0])],
    ]


def test_RPT_04_the_kpi_projection_keeps_each_linked_incident(world: World, projected: Projected) -> None:
    """The table `kpi_incidents` behind the RPT-02 incident rate: permit, reference, project, the instant the link
    was recorded and the instant the incident occurred; a redelivered link adds no row."""
    first, second = world.closed(), world.active()
    occurred = world.clock.now() - timedelta(hours=1)
    world.run(
        rc.LinkIncident(
            actor=world.actor("safe"), permit_id=first, incident_ref="INC-1", occurred_at=occurred
        )
    )
    world.run(
        rc.LinkIncident(
            actor=world.actor("safe"), permit_id=first, incident_ref="INC-1", occurred_at=occurred
        )
    )
    world.clock.advance(timedelta(minutes=5))
    world.run(rc.LinkIncident(actor=world.actor("safe"), permit_id=second, incident_ref="INC-2"))
    reads = projected.catch_up()
    t = reads.views("kpis")["kpi_incidents"]
    with reads.connect() as conn:
        found = conn.execute(
            select(t.c.permit_id, t.c.incident_ref, t.c.project_id, t.c.linked_at, t.c.occurred_at).order_by(
                t.c.linked_at
            )
        ).all()
    assert [tuple(r) for r in found] == [
        (first, "INC-1", world.project_id, world.clock.now() - timedelta(minutes=5), occurred),
        (second, "INC-2", world.project_id, world.clock.now(), None),
    ]
