"""Issue 5: a hot-work permit from draft to close over HTTP, as Given/When/Then, on every backend.

Given an opened project with its templates, people and registered workers (the `site` fixture; workers and
competencies have no endpoint of the project yet), every When is an HTTP call by the person who acts, and every
Then is read back over HTTP: the permit's status, version and ETag after each step (SEC-10), readiness agreeing
with what the next command does (RDY-04), refusals in the middle, and finally the audit trail, the chain
verification, the permit at an earlier version and the board at an instant while it was active.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec

from ptw_domain.roles import Role
from tests.builders import HOT_WORK, World


def signature(site: World, core_hash: str) -> dict[str, Any]:
    """A signature over `core_hash`, re-authenticated just now by the server's clock (SIG-04, SIG-05)."""
    return {"core_hash": core_hash, "reauthenticated_at": site.clock.now().isoformat()}


def member(site: World, who: str) -> dict[str, Any]:
    return msgspec.to_builtins(site.people[who])


def readiness(caller: Any, pid: str, action: str) -> dict[str, Any]:
    """RDY-02/05: the caller's readiness for `action`, with the actor-dependent guards."""
    answer = caller.get(f"/permits/{pid}/readiness", params={"as_me": "true"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {"core_hash": body["core_hash"], "version": body["version"], **body["actions"][action]}


def rules(found: dict[str, Any]) -> list[str]:
    return [b["rule"] for b in found["blockers"]]


JUDGED = frozenset({"submit", "verify", "approve", "activate", "resume", "complete", "close"})  # RDY-02


class Permit:
    """One permit seen over HTTP: each step posts a command with `If-Match` and reads the permit back."""

    def __init__(self, site: World, as_person: Any) -> None:
        self.site = site
        self.as_person = as_person
        self.id = ""
        self.version = 0
        self.position = 0  # the store position of the last write, and who wrote it
        self.writer = ""
        self.status = ""

    def act(self, who: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run `action` as `who` against the version last read (SEC-10), expecting success; for the actions
        readiness judges, readiness must first have said `allowed` to that person (RDY-04)."""
        if action in JUDGED:
            found = self.ready(who, action)
            assert found["allowed"], found["blockers"]
        answer = self.as_person(who).post(
            f"/permits/{self.id}/{action}", json=body or {}, headers={"If-Match": f'"{self.version}"'}
        )
        assert answer.status_code in (200, 201), answer.text
        outcome: dict[str, Any] = answer.json()
        assert outcome["version"] > self.version
        assert answer.headers["ETag"] == f'"{outcome["version"]}"'
        assert answer.headers["X-PTW-Position"] == str(outcome["position"])
        self.version, self.position, self.writer = outcome["version"], outcome["position"], who
        return outcome

    def refused(self, who: str, action: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        """Run `action` as `who`, expecting the problem `status`; nothing may be recorded."""
        answer = self.as_person(who).post(f"/permits/{self.id}/{action}", json=body)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        self.read(who, self.status)
        problem: dict[str, Any] = answer.json()
        return problem

    def read(self, who: str, status: str) -> dict[str, Any]:
        """Then: `who` reads the permit at its last version and status in the detail and in the list, and the
        detail's ETag is that version (SEC-10). RM-08: the writer's own reads reflect the write with no waiting by
        the test; anyone else names the write's position (`X-PTW-Min-Position`), as a client that was told it."""
        caller = self.as_person(who)
        told = {} if who == self.writer else {"X-PTW-Min-Position": str(self.position)}
        detail = caller.get(f"/permits/{self.id}", headers=told)
        assert detail.status_code == 200, detail.text
        body: dict[str, Any] = detail.json()
        assert (body["status"], body["version"]) == (status, self.version)
        assert detail.headers["ETag"] == f'"{self.version}"'
        listed = caller.get("/permits", params={"q": body["number"]}, headers=told).json()["items"]
        assert [(i["id"], i["status"], i["version"]) for i in listed] == [(self.id, status, self.version)]
        self.status = status
        return body

    def ready(self, who: str, action: str) -> dict[str, Any]:
        return readiness(self.as_person(who), self.id, action)

    def sign(self, who: str) -> dict[str, Any]:
        """`who` signs the core hash they read over HTTP (SIG-05), re-authenticated just now (SIG-04)."""
        return signature(self.site, self.ready(who, "submit")["core_hash"])


def test_a_hot_work_permit_goes_from_draft_to_close_over_http(site: World, as_person: Any) -> None:
    """LIFE-04..21, RDY-04, SEC-10, RM-08, RM-11, AUD-04, BRD-01/02: the whole walk, every When over HTTP."""
    site.add_person("aud", Role.AUDITOR)
    # Given the organisation's hot-work template asks for a close-out checklist (TPL-10), published over HTTP
    admin = as_person("admin", org_admin=True)
    published = admin.client.post(
        "/api/v1/organisation/templates",
        json={"definition": {**HOT_WORK, "closeout_checklists": {"any": CLOSEOUT}}},
        headers=admin.headers,
    )
    assert published.status_code == 200, published.text
    permit = Permit(site, as_person)
    start = site.clock.now() + timedelta(hours=1)

    # When the requestor drafts a hot-work permit: 201, its number allocated, version 1
    created = as_person("req").post(
        "/permits",
        json={
            "template_key": "hot-work",
            "content": {
                "description": "Weld a bracket on pipe rack 3",
                "area": "A1",
                "location": "Pipe rack 3",
                "planned_start": start.isoformat(),
                "planned_end": (start + timedelta(hours=8)).isoformat(),
                "probability": 2,
                "severity": 3,
            },
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["permit_number"] == "NORTH-2026-00001"
    assert created.headers["ETag"] == '"1"'
    permit.id, permit.version = created.json()["stream_id"], 1
    permit.position, permit.writer = created.json()["position"], "req"
    permit.read("req", "draft")

    # Then readiness says submit is not allowed yet, naming what is missing (RDY-02)
    submit = permit.ready("req", "submit")
    assert not submit["allowed"]
    assert rules(submit) == ["LIFE-07", "LIFE-08"]
    # and a submit now is refused with the identical blockers, in the identical order (RDY-04)
    problem = permit.refused("req", "submit", {"signature": permit.sign("req")}, 409)
    assert problem["code"] == "guard_failed"
    assert problem["blockers"] == submit["blockers"]

    # When the requestor completes the content the template asks for (TPL-08 PPE, TPL-09 checklist)
    permit.act(
        "req",
        "edit",
        {
            "changes": {
                "hazards": ["fire", "hot metal"],
                "controls": ["extinguisher", "spark screens"],
                "ppe": ["welding gloves", "face shield"],
                "checklist_answers": {"combustibles_removed": True, "extinguisher": True},
            }
        },
    )
    permit.read("req", "draft")
    permit.act("req", "nominate-verifier", {"verifier": member(site, "ver")})
    permit.read("req", "draft")
    permit.act("req", "submit", {"signature": permit.sign("req")})
    permit.read("req", "submitted")

    # When the verifier verifies, nominating two approvers
    permit.act(
        "ver",
        "verify",
        {"approvers": [member(site, "app"), member(site, "app2")], "signature": permit.sign("ver")},
    )
    permit.read("ver", "under_review")

    # A refusal in the middle: activation before approval is an invalid transition (LIFE-02) with the
    # commands allowed from under_review, exactly the blockers readiness gives the issuer (RDY-04)
    activate = permit.ready("app", "activate")
    assert not activate["allowed"] and rules(activate)[0] == "LIFE-02"
    problem = permit.refused("app", "activate", issue(permit, "app", "req"), 409)
    assert problem["code"] == "invalid_transition"
    assert "LIFE-02" in problem["rule_ids"]
    assert problem["current_status"] == "under_review"
    assert problem["current_version"] == permit.version
    assert "ApprovePermit" in problem["allowed_commands"]
    assert "ActivatePermit" not in problem["allowed_commands"]
    assert problem["blockers"] == activate["blockers"]
    # and a person without the approver role approving is forbidden (SEC-03) with the blockers readiness gives
    # that person (RDY-04, RDY-05), nothing recorded
    approve = permit.ready("area", "approve")
    assert rules(approve) == ["ROLE-04"]
    problem = permit.refused("area", "approve", {"signature": permit.sign("area")}, 403)
    assert (problem["code"], problem["rule_ids"]) == ("forbidden", ["ROLE-04"])
    assert problem["blockers"] == approve["blockers"]

    # When a nominated approver approves
    permit.act("app", "approve", {"signature": permit.sign("app")})
    permit.read("app", "approved")

    # Then activation waits for the crew, the fire watch and the briefing (TBT-03, WRK-04, CLO-02)
    blocked = rules(permit.ready("app", "activate"))
    assert "LIFE-02" not in blocked
    assert {"TBT-03", "CLO-02", "GAS-08"} <= set(blocked), blocked
    # When the approver assigns the crew and the fire watch, the safety officer briefs them and each attends
    permit.act("app", "assign-worker", {"worker_id": str(site.workers["crew1"]), "permit_roles": ["crew"]})
    permit.act("app", "assign-fire-watch", {"worker_id": str(site.workers["watch"])})
    talk = permit.act(
        "safe",
        "hold-toolbox-talk",
        {"held_at": site.clock.now().isoformat(), "topics": ["hot work", "fire watch", "emergency"]},
    )
    # a worker acknowledging the briefing for another is forbidden: attendance is personal (403, TBT-02)
    problem = permit.refused(
        "crew1",
        "attend-toolbox-talk",
        {"tbt_id": talk["created"]["tbt_id"], "worker_id": str(site.workers["watch"])},
        403,
    )
    assert (problem["code"], problem["rule_ids"]) == ("forbidden", ["TBT-02", "SEC-05"])
    for who in ("crew1", "watch"):
        permit.act(
            who,
            "attend-toolbox-talk",
            {"tbt_id": talk["created"]["tbt_id"], "worker_id": str(site.workers[who])},
        )
    permit.read("app", "approved")
    # and the gas tester tests the atmosphere (GAS-01..06, GAS-08): O2, LEL, H2S and CO in one session
    assert "GAS-08" in rules(permit.ready("app", "activate"))
    session = str(uuid.uuid4())
    for gas, value, unit in (
        ("O2", 20.9, "%vol"),
        ("LEL", 0.0, "%LEL"),
        ("H2S", 0.0, "ppm"),
        ("CO", 0.0, "ppm"),
    ):
        permit.act(
            "tester",
            "record-gas-reading",
            {
                "session_id": session,
                "gas": gas,
                "value": value,
                "unit": unit,
                "tested_at": site.clock.now().isoformat(),
                "instrument": "MX4-0042",
                "calibration_due": (site.clock.now() + timedelta(days=30)).isoformat(),
                "tester_worker_id": str(site.workers["tester"]),
            },
        )
    permit.read("tester", "approved")

    # When the issuer activates inside the window (LIFE-17), with the performing authority's acceptance and
    # the issuer's scan of the area (SIG-12)
    site.clock.advance(timedelta(minutes=45))
    assert {"signature", "presence"} <= set(permit.ready("app", "activate")["required_inputs"])
    permit.act("app", "activate", issue(permit, "app", "req"))
    active_version = permit.version
    detail = permit.read("app", "active")
    signed = {(v["signature"]["point"], v["signature"]["signer"], v["status"]) for v in detail["signatures"]}
    assert {("issuer", "app", "valid"), ("acceptor", "req", "valid")} <= signed, signed
    active_at = site.clock.now()

    # When the performing authority hands the area back an hour later (LIFE-20): the fire watch starts
    site.clock.advance(timedelta(hours=1))
    permit.act("req", "complete", {"outcome": "complete", "site_safe": True, "signature": permit.sign("req")})
    detail = permit.read("req", "completed")
    assert detail["permit"]["fire_watch_started_at"] is not None

    # Then close waits for the fire watch (CLO-07) and the close-out checklist (CLO-04)
    close = permit.ready("app", "close")
    assert not close["allowed"] and rules(close) == ["CLO-04", "CLO-07"], close["blockers"]
    checklist = detail["permit"]["closeout"]["checklist"]
    assert [(i["key"], i["required"], i["checked_by"]) for i in checklist] == [
        ("area_wetted_down", True, None),
        ("cylinders", True, None),
    ]
    # a fire watch completed too early is refused (CLO-03), nothing recorded
    permit.refused("watch", "complete-fire-watch", {}, 409)
    site.clock.advance(timedelta(minutes=31))
    permit.act("watch", "complete-fire-watch")
    for item in checklist:
        permit.act("app", "check-closeout-item", {"key": item["key"]})
    detail = permit.read("app", "completed")
    assert all(i["checked_by"] == "app" for i in detail["permit"]["closeout"]["checklist"])

    # When the issuer closes after inspecting the site
    permit.act(
        "app", "close", {"inspected_at": site.clock.now().isoformat(), "signature": permit.sign("app")}
    )
    permit.read("app", "closed")

    # Then the auditor reads every event in order, each with its actor (RM-11)
    auditor = as_person("aud")
    told = {"X-PTW-Min-Position": str(permit.position)}  # the auditor was told the last write (RM-08)
    trail = auditor.get("/audit-trail", params={"permit": permit.id, "page_size": 100}, headers=told)
    assert trail.status_code == 200, trail.text
    rows = trail.json()["items"]
    mine = [r for r in rows if r["stream_id"] == permit.id]
    assert [r["version"] for r in mine] == list(range(1, permit.version + 1))
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert all(r["actor_id"] and r["occurred_at"] for r in rows)
    assert mine[0]["type"] == "PermitDrafted" and mine[-1]["type"] == "PermitClosed"
    assert {r["type"]: r["actor_id"] for r in mine if r["type"] in ACTS} == ACTS
    # the hash chains verify (AUD-04)
    chain = auditor.get("/audit/verification", params={"permit": permit.id})
    assert chain.status_code == 200, chain.text
    assert chain.json()["ok"] is True
    assert permit.id in [s["stream_id"] for s in chain.json()["streams"]]
    # the permit at an earlier version shows the status it had then (BRD-02)
    drafted = auditor.get(f"/permits/{permit.id}/at", params={"version": 1})
    assert (drafted.json()["status"], drafted.json()["version"]) == ("draft", 1)
    earlier = auditor.get(f"/permits/{permit.id}/at", params={"version": active_version})
    assert earlier.status_code == 200, earlier.text
    assert (earlier.json()["status"], earlier.json()["version"]) == ("active", active_version)
    # and the board at an instant while it was active shows it there (BRD-01)
    board = auditor.get(
        "/board", params={"at": (active_at + timedelta(minutes=10)).isoformat()}, headers=told
    )
    assert board.status_code == 200, board.text
    assert [(p["id"], p["status"]) for p in board.json()["permits"]] == [(permit.id, "active")]
    assert auditor.get("/board", headers=told).json()["permits"] == []


CLOSEOUT = ["Area wetted down", {"key": "cylinders", "label": "Gas cylinders removed"}]
ACTS = {  # who did each act of the walk above
    "PermitDrafted": "req",
    "PermitSubmitted": "req",
    "PermitVerified": "ver",
    "PermitApproved": "app",
    "PermitActivated": "app",
    "PermitCompleted": "req",
    "FireWatchCompleted": "watch",
    "PermitClosed": "app",
}


def issue(permit: Permit, issuer: str, acceptor: str) -> dict[str, Any]:
    """ActivatePermit's body: the issuer's signature, the acceptor's acceptance and the issuer's scan of the
    permit's area just now (LIFE-16, SIG-12)."""
    site = permit.site
    core_hash = permit.ready(issuer, "activate")["core_hash"]
    return {
        "signature": signature(site, core_hash),
        "acceptance": {"acceptor": member(site, acceptor), "signature": signature(site, core_hash)},
        "presence": {
            "kind": "scan",
            "code": "A1",
            "scanned_by": issuer,
            "scanned_at": site.clock.now().isoformat(),
        },
    }
