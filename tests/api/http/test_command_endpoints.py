# ruff: noqa: N802
"""Issue 5: every command endpoint over HTTP, once accepted and once refused.

Each test sets the scene with the domain builders (tests/builders.py, recorded through the app's own service),
then acts over HTTP as the person the token names, and checks what the API answers (status, recorded events,
the problem's code and rule IDs) and, where a read model shows it, what the permit detail then reads (RM-08:
the caller's next read waits for their write). A refusal records nothing. `covers` registers each test against
its operation id; the last test fails when a route of `ROUTES` lacks an accepted or a refused case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from ptw_api.http.auth import ProjectGrant, mint_token
from ptw_api.http.command_routes import ROUTES, CommandRoute
from ptw_api.http.settings import ApiSettings
from ptw_api.http.wire import PATH_IDS
from ptw_domain import commands as c
from ptw_domain.closeout import commands as cc
from ptw_domain.events.handover import HandoverRole
from ptw_domain.gas.profiles import OSHA_DEFAULT
from ptw_domain.handover import commands as hc
from ptw_domain.isolation import commands as ic
from ptw_domain.isolation.handling import point_id_for
from ptw_domain.organisation import template_id
from ptw_domain.people import commands as pc
from ptw_domain.people.state import PermitRole
from ptw_domain.roles import ActorKind, CompanyKind, Role
from tests.api.http.conftest import Caller
from tests.api.http.endpoint_suite import (  # noqa: F401  (fixtures, known to pytest by their names)
    ALL_BACKENDS,
    Coverage,
    calls_what_it_covers,
    patient_api_settings,
    sqlite_by_default,
)
from tests.builders import COLD_WORK, HOT_WORK, START, World, activate, lock_exception, nominate

EVENING = START.replace(hour=18)


def operation_id(route: CommandRoute) -> str:
    name = route.command.__name__
    return name[0].lower() + name[1:]


BY_OPERATION = {operation_id(route): route for route in ROUTES}
COVERAGE = Coverage(BY_OPERATION, ("accepted", "refused"))
covers, COVERED, CALLED = COVERAGE.covers, COVERAGE.covered, COVERAGE.called


class Api:
    """One person sending commands by operation id; the path is built from the route table."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def send(
        self, operation: str, body: Any = None, headers: dict[str, str] | None = None, **ids: Any
    ) -> Any:
        route = BY_OPERATION[operation]
        path = PATH_IDS.sub(lambda found: str(ids.pop(found.group(1))), route.path)
        assert not ids, f"{operation} does not take {sorted(ids)}"
        CALLED.add(operation)
        if route.organisation:
            return self.caller.client.post(
                "/api/v1/organisation" + path, json=body, headers=self.caller.headers | (headers or {})
            )
        return self.caller.post(path, json=body, headers=headers)

    def refused(
        self, operation: str, body: Any, status: int, code: str, *rules: str, **ids: Any
    ) -> dict[str, Any]:
        """Send, expect the problem (status, code, at least `rules`) and that nothing was recorded."""
        runtime = self.caller.client.app.state.runtime
        before = runtime.head()
        response = self.send(operation, body, **ids)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem: dict[str, Any] = response.json()
        assert (problem["code"], problem["type"]) == (code, f"urn:ptw:problem:{code}")
        assert set(rules) <= set(problem.get("rule_ids", [])), problem
        assert runtime.head() == before, "a refused command recorded something"
        return problem

    def permit(self, pid: uuid.UUID) -> dict[str, Any]:
        """The permit detail's state (RM-06), after this caller's last write (RM-08)."""
        response = self.caller.get(f"/permits/{pid}")
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()["permit"]
        return state

    def read(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.caller.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(as_person: Callable[..., Caller]) -> Callable[..., Api]:
    def make(who: str, *, org_admin: bool = False) -> Api:
        return Api(as_person(who, org_admin=org_admin))

    return make


def accepted(response: Any, *events: str, status: int = 200) -> dict[str, Any]:
    """The command was recorded with exactly these events; its position is returned for RM-08."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["events"] == list(events)
    assert response.headers["X-PTW-Position"] == str(body["position"])
    return body


# --- wire values -----------------------------------------------------------------------------------------------


def wire(value: Any) -> Any:
    return msgspec.to_builtins(value)


def now(site: World, delta: timedelta = timedelta()) -> str:
    return (site.clock.now() + delta).isoformat()


def person(site: World, who: str) -> Any:
    return wire(site.people[who])


def signature(site: World, pid: uuid.UUID) -> dict[str, Any]:
    """SIG-04/05: the core hash the signer reviewed, with a step-up re-authentication just now."""
    return {"core_hash": site.permit(pid).core_hash, "reauthenticated_at": now(site)}


def issue_body(site: World, pid: uuid.UUID, acceptor: str = "req", issuer: str = "app") -> dict[str, Any]:
    """Issue and acceptance (LIFE-16/19): both signatures and the issuer's scan of the area (SIG-12)."""
    return {
        "signature": signature(site, pid),
        "acceptance": {"acceptor": person(site, acceptor), "signature": signature(site, pid)},
        "presence": {
            "kind": "scan",
            "code": site.permit(pid).content.area,
            "scanned_by": issuer,
            "scanned_at": now(site),
        },
    }


def draft_body(site: World, template: str = "hot-work", **content: Any) -> dict[str, Any]:
    return {"template_key": template, "content": wire(site.content(**content))}


def point_spec(code: str, **changes: Any) -> dict[str, Any]:
    return {
        "point_code": code,
        "point_type": "valve",
        "energy_type": "process_fluid",
        "area": "A1",
        "verification_method": "bleed_and_vent",
        "achievable_category": "I",
        **changes,
    }


def isolate_body(site: World, **changes: Any) -> dict[str, Any]:
    return {
        "lock_ids": ["L-1"],
        "tag": "DANGER DO NOT OPERATE",
        "method": "closed, locked, tagged",
        "achieved_category": "I",
        "isolated_at": now(site),
        "isolator_worker_id": str(site.workers["iso"]),
        **changes,
    }


def gas_body(site: World, **changes: Any) -> dict[str, Any]:
    return {
        "session_id": str(uuid.uuid4()),
        "gas": "O2",
        "value": 20.9,
        "unit": "%vol",
        "tested_at": now(site),
        "instrument": "MX4-0042",
        "calibration_due": now(site, timedelta(days=30)),
        "tester_worker_id": str(site.workers["tester"]),
        **changes,
    }


# --- scenes ----------------------------------------------------------------------------------------------------


def electrical(site: World) -> World:
    """A template with structured isolation (ISO-09/10)."""
    site.publish_template({"key": "electrical", "category": "electrical"})
    return site


def isolation_of(site: World, pid: uuid.UUID) -> uuid.UUID:
    return site.permit(pid).isolations.assignments[0].isolation_id


def isolated(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    """An approved electrical permit whose required point `iso` has isolated (not yet verified)."""
    pid = electrical(site).approved(template="electrical")
    iso = isolation_of(site, pid)
    site.run(
        ic.IsolatePoint(
            actor=site.actor("iso"),
            isolation_id=iso,
            lock_ids=("L-1",),
            tag="DANGER",
            method="locked off",
            achieved_category="I",
            isolated_at=site.clock.now(),
            isolator_worker_id=site.workers["iso"],
        )
    )
    return pid, iso


def locked(site: World) -> uuid.UUID:
    """An active electrical permit on which crew1 has applied personal lock P-1 (LOCK-01)."""
    pid = electrical(site).active(template="electrical")
    site.run(
        ic.ApplyPersonalLock(
            actor=site.actor("crew1"), permit_id=pid, lock_id="P-1", worker_id=site.workers["crew1"]
        )
    )
    return pid


def lock_exception_body(site: World, **changes: Any) -> dict[str, Any]:
    return {
        "lock_id": "P-1",
        "verified_absent_by": "gatehouse",
        "verified_absent_at": now(site),
        "contact_attempts": "phone x3",
        "contacted_at": now(site),
        "will_inform_before_resuming": True,
        **changes,
    }


def confined(site: World) -> uuid.UUID:
    """An approved confined-space permit, crew1 assigned as crew and entrant, `att` as attendant, both briefed,
    gas tested and the required isolation proved: ready to activate."""
    site.publish_template({"key": "confined-space", "category": "confined_space"})
    site.register_worker("att", "confined_space_attendant")
    pid = site.approved(template="confined-space", emergency_arrangements="Tripod and winch; rescue on call")
    for who, roles in (("crew1", (PermitRole.CREW, PermitRole.ENTRANT)), ("att", (PermitRole.ATTENDANT,))):
        site.run(
            pc.AssignWorker(
                actor=site.actor("app"), permit_id=pid, worker_id=site.workers[who], permit_roles=roles
            )
        )
    site.brief(pid, "crew1", "att")
    site.gas_test(pid)
    site.isolate_and_verify(pid)
    return pid


def post_attendant(site: World, pid: uuid.UUID) -> None:
    site.run(
        pc.PostAttendant(actor=site.actor("att"), permit_id=pid, worker_id=site.workers["att"], on_duty=True)
    )


def confined_active(site: World) -> uuid.UUID:
    """The confined-space permit activated with its attendant on duty (CSE-01)."""
    pid = confined(site)
    post_attendant(site, pid)
    site.clock.advance(timedelta(minutes=30))
    site.run(activate(site, pid))
    return pid


def live_over_evening(site: World) -> uuid.UUID:
    """A cold-work permit active from about 08:30 to 21:00, live at the 18:00 boundary (HOV-01); `req2` can
    take over as PA and `app3` as issuer."""
    site.add_person("req2", Role.REQUESTOR, level=1, kind=CompanyKind.CONTRACTOR)
    site.add_person("app3", Role.APPROVER, level=3)
    return site.active(
        template="cold-work",
        planned_start=START + timedelta(hours=1),
        planned_end=START + timedelta(hours=13),
    )


def handover_body(site: World, pid: uuid.UUID, incoming: str = "req2") -> dict[str, Any]:
    """HOV-02 and SIG-01: the outgoing PA's signed handover of the performing role."""
    return {
        "role": "performing",
        "incoming": person(site, incoming),
        "notes": "Flange bolts torqued to 50 %",
        "signature": signature(site, pid),
    }


VESSEL = {
    "key": "vessel",
    "category": "cold_work",
    "name": "Vessel internals",
    "closeout_checklists": {"any": ["Tools removed"]},
}


def handed_back_vessel(site: World) -> uuid.UUID:
    """A completed permit whose pinned close-out checklist holds `tools_removed` (CLO-04)."""
    site.publish_template(VESSEL)
    return site.completed(template="vessel")


def inhibit_body(site: World) -> dict[str, Any]:
    return {
        "system": "Fire and gas detection",
        "tag": "FGS-ZONE-12",
        "reason": "Grinding dust would trip the smoke heads",
        "expected_restore_at": now(site, timedelta(hours=6)),
    }


def conflict(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    """SIM-06: a newer hot-work permit under review in the area of an older confined-space one; returns the
    newer permit and the open conflict."""
    site.publish_template({"key": "tank", "category": "confined_space"})
    site.submitted(template="tank", area="U100")
    site.clock.advance(timedelta(minutes=5))
    newer = site.under_review(area="U100", planned_end=site.clock.now() + timedelta(hours=3))
    blocker = next(b for b in site.service.readiness(newer).actions["approve"].blockers if b.rule == "SIM-06")
    return newer, uuid.UUID(str(blocker.facts["conflict_id"]))


def delegation(site: World, pid: uuid.UUID | None = None) -> uuid.UUID:
    """`app` delegates the approver task to `dep` (DEL-01)."""
    site.add_person("dep", Role.APPROVER)
    did = uuid.uuid4()
    site.run(
        c.GrantDelegation(
            actor=site.actor("app"),
            delegation_id=did,
            project_id=site.project_id,
            delegate=site.people["dep"],
            role="approver",
            permit_id=pid,
            valid_until=site.clock.now() + timedelta(hours=24),
        )
    )
    return did


# --- configuration -------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("openProject", "accepted")
def test_TEN_06_an_organisation_admin_opens_a_project(site: World, api: Callable[..., Api]) -> None:
    response = api("admin", org_admin=True).send("openProject", {"code": "SOUTH", "title": "South site"})
    body = accepted(response, "ProjectOpened", status=201)
    project_id = uuid.UUID(body["created"]["project_id"])
    assert body["stream_id"] == str(project_id)
    opened = site.service.project(project_id)
    assert (opened.code, opened.organisation_id) == ("SOUTH", site.organisation_id)


@covers("openProject", "refused")
def test_SEC_04_opening_a_project_needs_the_org_admin_claim(api: Callable[..., Api]) -> None:
    api("admin").refused("openProject", {"code": "SOUTH", "title": "South"}, 403, "forbidden", "SEC-04")


@covers("publishTemplateVersion", "accepted")
def test_TPL_01_publishing_a_template_version_makes_it_usable(site: World, api: Callable[..., Api]) -> None:
    admin = api("admin", org_admin=True)
    definition = {**COLD_WORK, "name": "Cold work v2", "validity_hours": 6}
    accepted(admin.send("publishTemplateVersion", {"definition": definition}), "TemplateVersionPublished")
    created = accepted(
        api("req").send(
            "createPermit", draft_body(site, "cold-work", planned_end=START + timedelta(hours=6))
        ),
        "PermitDrafted",
        status=201,
    )
    assert site.permit(uuid.UUID(created["stream_id"])).template.version == 2


@covers("publishTemplateVersion", "refused")
def test_TPL_01_an_invalid_template_definition_is_refused(api: Callable[..., Api]) -> None:
    admin = api("admin", org_admin=True)
    admin.refused(
        "publishTemplateVersion",
        {"definition": {"key": "x", "category": "no-such"}},
        422,
        "validation_failed",
        "TPL-01",
    )


@covers("retireTemplate", "accepted")
def test_TPL_01_a_retired_template_refuses_new_permits(site: World, api: Callable[..., Api]) -> None:
    accepted(api("admin", org_admin=True).send("retireTemplate", {"key": "cold-work"}), "TemplateRetired")
    problem = api("req").refused("createPermit", draft_body(site, "cold-work"), 409, "guard_failed", "TPL-01")
    assert problem["blockers"][0]["rule"] == "TPL-01"


@covers("retireTemplate", "refused")
def test_TEN_03_retiring_an_unknown_template_is_not_found_naming_the_field(api: Callable[..., Api]) -> None:
    problem = api("admin", org_admin=True).refused("retireTemplate", {"key": "nope"}, 404, "not_found")
    assert problem["fields"] == ["key"]


def role_policy(version: int) -> dict[str, Any]:
    owners = ["owner", "principal_contractor"]
    levels = {"low": 1, "medium": 1, "high": 2, "extreme": 2}
    return {
        "version": version,
        "steps": {
            step: {"min_level": levels, "company_kinds": owners} for step in ("verify", "approve", "close")
        }
        | {"request": {"min_level": levels}},
    }


@covers("publishRolePolicy", "accepted")
def test_ROLE_04_an_organisation_admin_publishes_the_next_role_policy(
    site: World, api: Callable[..., Api]
) -> None:
    response = api("admin", org_admin=True).send("publishRolePolicy", {"policy": role_policy(1)})
    accepted(response, "RolePolicyPublished")
    [*_, published] = site.service.store.events.get(site.organisation_id)
    assert published.payload.policy.version == 1


@covers("publishRolePolicy", "refused")
def test_ROLE_04_a_role_policy_skipping_a_version_is_refused(api: Callable[..., Api]) -> None:
    api("admin", org_admin=True).refused(
        "publishRolePolicy", {"policy": role_policy(3)}, 422, "validation_failed", "ROLE-04"
    )


def gas_profile(version: int) -> dict[str, Any]:
    return {"profile": wire(msgspec.structs.replace(OSHA_DEFAULT, version=version))}


@covers("publishGasLimitProfile", "accepted")
def test_GAS_05_an_organisation_admin_publishes_the_next_gas_profile_version(api: Callable[..., Api]) -> None:
    response = api("admin", org_admin=True).send("publishGasLimitProfile", gas_profile(2))
    accepted(response, "GasLimitProfilePublished")


@covers("publishGasLimitProfile", "refused")
def test_GAS_05_a_published_gas_profile_version_never_changes(api: Callable[..., Api]) -> None:
    problem = api("admin", org_admin=True).refused(
        "publishGasLimitProfile", gas_profile(1), 422, "validation_failed", "GAS-05"
    )
    assert problem["fields"] == ["profile.version"]


@covers("changeProjectSettings", "accepted")
def test_TEN_06_the_project_admin_changes_the_settings(site: World, api: Callable[..., Api]) -> None:
    response = api("admin").send("changeProjectSettings", {"settings": {"reauth_max_age_seconds": 600}})
    accepted(response, "ProjectSettingsChanged")
    assert site.service.project(site.project_id).settings.reauth_max_age_seconds == 600


@covers("changeProjectSettings", "refused")
def test_SEC_04_a_requestor_cannot_change_the_project_settings(api: Callable[..., Api]) -> None:
    api("req").refused("changeProjectSettings", {"settings": {"active": False}}, 403, "forbidden", "SEC-04")


@covers("publishTemplateOverride", "accepted")
def test_TPL_05_a_tightening_override_is_published(site: World, api: Callable[..., Api]) -> None:
    body = {"template_key": "hot-work", "patch": {"validity_hours": 6}}
    accepted(api("admin").send("publishTemplateOverride", body), "TemplateOverridePublished")
    override = site.service.project(site.project_id).active_override(
        template_id(site.organisation_id, "hot-work")
    )
    assert override is not None and override.override_version == 1


@covers("publishTemplateOverride", "refused")
def test_TPL_05_a_loosening_override_is_refused_with_its_blocker(api: Callable[..., Api]) -> None:
    body = {"template_key": "hot-work", "patch": {"validity_hours": 24}}
    problem = api("admin").refused("publishTemplateOverride", body, 409, "guard_failed", "TPL-05")
    assert problem["blockers"][0]["facts"] == {"setting": "validity_hours"}


@covers("withdrawTemplateOverride", "accepted")
def test_TPL_03_the_project_admin_withdraws_an_override(site: World, api: Callable[..., Api]) -> None:
    admin = api("admin")
    accepted(
        admin.send("publishTemplateOverride", {"template_key": "hot-work", "patch": {"validity_hours": 6}}),
        "TemplateOverridePublished",
    )
    accepted(
        admin.send("withdrawTemplateOverride", {"template_key": "hot-work"}), "TemplateOverrideWithdrawn"
    )
    project = site.service.project(site.project_id)
    assert project.active_override(template_id(site.organisation_id, "hot-work")) is None


@covers("withdrawTemplateOverride", "refused")
def test_TEN_03_withdrawing_the_override_of_an_unknown_template_is_not_found(api: Callable[..., Api]) -> None:
    problem = api("admin").refused("withdrawTemplateOverride", {"template_key": "nope"}, 404, "not_found")
    assert problem["fields"] == ["template_key"]


@covers("grantDelegation", "accepted")
def test_DEL_01_an_approver_delegates_their_task(site: World, api: Callable[..., Api]) -> None:
    site.add_person("dep", Role.APPROVER)
    body = {"delegate": person(site, "dep"), "role": "approver", "valid_until": now(site, timedelta(hours=8))}
    outcome = accepted(api("app").send("grantDelegation", body), "DelegationGranted", status=201)
    assert outcome["stream_id"] == outcome["created"]["delegation_id"]


@covers("grantDelegation", "refused")
def test_DEL_04_self_delegation_is_refused(site: World, api: Callable[..., Api]) -> None:
    body = {"delegate": person(site, "app"), "role": "approver", "valid_until": now(site, timedelta(hours=8))}
    api("app").refused("grantDelegation", body, 422, "validation_failed", "DEL-04")


@covers("revokeDelegation", "accepted")
def test_DEL_04_the_delegator_revokes_a_delegation(site: World, api: Callable[..., Api]) -> None:
    did = delegation(site)
    response = api("app").send("revokeDelegation", {"reason": "back from leave"}, delegation_id=did)
    accepted(response, "DelegationRevoked")


@covers("revokeDelegation", "refused")
def test_DEL_04_only_the_delegator_or_an_admin_revokes(site: World, api: Callable[..., Api]) -> None:
    did = delegation(site)
    api("app2").refused(
        "revokeDelegation", {"reason": "mine now"}, 403, "forbidden", "DEL-04", delegation_id=did
    )


# --- permit workflow -------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("createPermit", "accepted")
def test_LIFE_04_a_requestor_creates_a_draft_and_reads_it_back(site: World, api: Callable[..., Api]) -> None:
    req = api("req")
    response = req.send("createPermit", draft_body(site))
    body = accepted(response, "PermitDrafted", status=201)
    pid = uuid.UUID(body["created"]["permit_id"])
    assert (body["stream_id"], body["permit_number"]) == (str(pid), "NORTH-2026-00001")
    assert response.headers["ETag"] == f'"{body["version"]}"'
    state = req.permit(pid)
    assert (state["status"], state["requestor"], state["origin"]) == ("draft", "req", "api")


@covers("createPermit", "refused")
def test_LIFE_06_a_window_longer_than_the_validity_is_refused(site: World, api: Callable[..., Api]) -> None:
    body = draft_body(site, planned_end=START + timedelta(hours=30))
    problem = api("req").refused("createPermit", body, 409, "guard_failed", "LIFE-06")
    assert {b["rule"] for b in problem["blockers"]} == {"LIFE-06"}


@covers("editPermit", "accepted")
def test_LIFE_05_the_requestor_edits_a_draft(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    req = api("req")
    accepted(req.send("editPermit", {"changes": {"notes": "Scaffold first"}}, permit_id=pid), "PermitEdited")
    assert req.permit(pid)["content"]["notes"] == "Scaffold first"


@covers("editPermit", "refused")
def test_SEC_05_a_project_admin_does_not_edit_the_core_of_someone_elses_permit(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    body = {"changes": {"hazards": ["fire", "noise"]}}
    api("admin").refused("editPermit", body, 403, "forbidden", "SEC-05", permit_id=pid)


@covers("amendPermit", "accepted")
def test_SIG_07_an_amendment_under_review_returns_the_permit_to_draft(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.under_review()
    req = api("req")
    body = {"changes": {"hazards": ["fire", "fumes"]}, "reason": "fumes found"}
    outcome = accepted(req.send("amendPermit", body, permit_id=pid), "PermitAmended", "SignaturesInvalidated")
    state = req.permit(pid)
    assert (state["status"], state["version"]) == ("draft", outcome["version"])


@covers("amendPermit", "refused")
def test_LIFE_02_an_amendment_of_a_draft_is_an_invalid_transition(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    body = {"changes": {"notes": "x"}, "reason": "r"}
    problem = api("req").refused("amendPermit", body, 409, "invalid_transition", "LIFE-02", permit_id=pid)
    assert (problem["current_status"], problem["current_version"]) == ("draft", site.permit(pid).version)
    assert "EditPermit" in problem["allowed_commands"]


@covers("rebasePermitTemplate", "accepted")
def test_TPL_02_a_draft_is_rebased_on_the_latest_template_version(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    site.publish_template({**HOT_WORK, "name": "Hot work v2"})
    req = api("req")
    accepted(req.send("rebasePermitTemplate", {}, permit_id=pid), "PermitTemplateRebased")
    assert req.permit(pid)["template"]["version"] == 2


@covers("rebasePermitTemplate", "refused")
def test_TPL_02_a_submitted_permit_is_not_rebased(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    api("req").refused("rebasePermitTemplate", {}, 409, "invalid_transition", "LIFE-02", permit_id=pid)


@covers("nominateVerifier", "accepted")
def test_LIFE_08_the_requestor_nominates_the_verifier(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    req = api("req")
    accepted(
        req.send("nominateVerifier", {"verifier": person(site, "ver")}, permit_id=pid), "VerifierNominated"
    )
    assert req.permit(pid)["verifier"]["person_id"] == "ver"


@covers("nominateVerifier", "refused")
def test_SOD_01_the_requestor_cannot_be_their_own_verifier(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    site.add_person("req", Role.REQUESTOR, Role.VERIFIER, level=2)
    body = {"verifier": person(site, "req")}
    api("req").refused("nominateVerifier", body, 409, "guard_failed", "SOD-01", permit_id=pid)


@covers("submitPermit", "accepted")
def test_LIFE_07_the_requestor_submits_signed(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    site.run(nominate(site, pid))
    req = api("req")
    accepted(req.send("submitPermit", {"signature": signature(site, pid)}, permit_id=pid), "PermitSubmitted")
    state = req.permit(pid)
    assert state["status"] == "submitted"
    assert [s["signature"]["point"] for s in state["signatures"]] == ["requestor"]


@covers("submitPermit", "refused")
def test_LIFE_08_a_draft_without_a_verifier_is_not_submitted(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    body = {"signature": signature(site, pid)}
    problem = api("req").refused("submitPermit", body, 409, "guard_failed", "LIFE-08", permit_id=pid)
    assert "LIFE-08" in {b["rule"] for b in problem["blockers"]}


@covers("resubmitPermit", "accepted")
def test_LIFE_15_a_rejected_permit_is_resubmitted_in_a_new_cycle(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.submitted()
    site.run(c.RejectPermit(actor=site.actor("ver"), permit_id=pid, reason="add a control"))
    req = api("req")
    accepted(
        req.send("resubmitPermit", {"signature": signature(site, pid)}, permit_id=pid), "PermitSubmitted"
    )
    assert (req.permit(pid)["status"], req.permit(pid)["cycle"]) == ("submitted", 2)


@covers("resubmitPermit", "refused")
def test_LIFE_15_only_a_rejected_permit_is_resubmitted(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    body = {"signature": signature(site, pid)}
    api("req").refused("resubmitPermit", body, 409, "invalid_transition", "LIFE-02", permit_id=pid)


@covers("withdrawPermit", "accepted")
def test_LIFE_14_the_requestor_withdraws_a_submitted_permit(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    req = api("req")
    response = req.send("withdrawPermit", {"reason": "not today"}, permit_id=pid)
    accepted(response, "PermitWithdrawn", "SignaturesInvalidated")
    assert req.permit(pid)["status"] == "draft"


@covers("withdrawPermit", "refused")
def test_LIFE_14_the_verifier_cannot_withdraw(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    api("ver").refused("withdrawPermit", {}, 403, "forbidden", permit_id=pid)


@covers("verifyPermit", "accepted")
def test_LIFE_09_the_verifier_verifies_and_nominates_approvers(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    ver = api("ver")
    body = {"approvers": [person(site, "app"), person(site, "app2")], "signature": signature(site, pid)}
    accepted(ver.send("verifyPermit", body, permit_id=pid), "PermitVerified")
    state = ver.permit(pid)
    assert (state["status"], [a["person_id"] for a in state["approvers"]]) == (
        "under_review",
        ["app", "app2"],
    )


@covers("verifyPermit", "refused")
def test_SIG_04_a_signature_without_fresh_re_authentication_is_refused(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.submitted()
    stale = {"core_hash": site.permit(pid).core_hash, "reauthenticated_at": now(site, -timedelta(hours=1))}
    body = {"approvers": [person(site, "app")], "signature": stale}
    api("ver").refused("verifyPermit", body, 401, "reauthentication_required", "SIG-04", permit_id=pid)


@covers("rejectPermit", "accepted")
def test_LIFE_12_the_approver_rejects_with_a_reason(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    app = api("app")
    response = app.send("rejectPermit", {"reason": "controls too weak"}, permit_id=pid)
    accepted(response, "PermitRejected", "SignaturesInvalidated")
    assert app.permit(pid)["status"] == "rejected"


@covers("rejectPermit", "refused")
def test_LIFE_12_a_rejection_needs_a_reason(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    api("app").refused("rejectPermit", {"reason": "  "}, 422, "validation_failed", "LIFE-12", permit_id=pid)


@covers("nominateApprovers", "accepted")
def test_LIFE_10_the_verifier_replaces_the_approvers(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    ver = api("ver")
    body = {"approvers": [person(site, "app2")]}
    accepted(ver.send("nominateApprovers", body, permit_id=pid), "ApproversNominated")
    assert [a["person_id"] for a in ver.permit(pid)["approvers"]] == ["app2"]


@covers("nominateApprovers", "refused")
def test_LIFE_10_the_requestor_does_not_nominate_approvers(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    body = {"approvers": [person(site, "app2")]}
    api("req").refused("nominateApprovers", body, 403, "forbidden", permit_id=pid)


@ALL_BACKENDS
@covers("approvePermit", "accepted")
def test_LIFE_11_the_nominated_approver_approves_with_if_match(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    app = api("app")
    version = site.permit(pid).version
    response = app.send(
        "approvePermit",
        {"signature": signature(site, pid)},
        headers={"If-Match": f'"{version}"'},
        permit_id=pid,
    )
    body = accepted(response, "PermitApproved")
    assert response.headers["ETag"] == f'"{version + 1}"' == f'"{body["version"]}"'
    state = app.permit(pid)
    assert (state["status"], state["approved_by"]) == ("approved", "app")


@ALL_BACKENDS
@covers("approvePermit", "refused")
def test_LIFE_11_the_second_approver_is_refused_already_approved(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.approved()
    problem = api("app2").refused(
        "approvePermit",
        {"signature": signature(site, pid)},
        409,
        "already_approved",
        "LIFE-11",
        permit_id=pid,
    )
    assert problem["current_status"] == "approved"


@covers("sendBackPermit", "accepted")
def test_LIFE_13_the_approver_sends_the_permit_back(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    app = api("app")
    response = app.send("sendBackPermit", {"reason": "check the isolation"}, permit_id=pid)
    accepted(response, "PermitSentBack", "SignaturesInvalidated")
    assert app.permit(pid)["status"] == "submitted"


@covers("sendBackPermit", "refused")
def test_LIFE_13_sending_back_needs_a_reason(site: World, api: Callable[..., Api]) -> None:
    pid = site.under_review()
    api("app").refused("sendBackPermit", {"reason": ""}, 422, "validation_failed", permit_id=pid)


@covers("cancelPermit", "accepted")
def test_LIFE_22_the_requestor_cancels_a_draft(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    req = api("req")
    accepted(req.send("cancelPermit", {}, permit_id=pid), "PermitCancelled")
    assert req.permit(pid)["status"] == "cancelled"


@covers("cancelPermit", "refused")
def test_LIFE_22_an_active_permit_is_not_cancelled(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    api("app").refused("cancelPermit", {"reason": "no"}, 409, "invalid_transition", "LIFE-02", permit_id=pid)


# --- execution -------------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("activatePermit", "accepted")
def test_LIFE_16_the_issuer_activates_and_the_pa_accepts(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    site.prepare_crew(pid)
    site.clock.advance(timedelta(minutes=30))
    app = api("app")
    accepted(app.send("activatePermit", issue_body(site, pid), permit_id=pid), "PermitActivated")
    state = app.permit(pid)
    assert (state["status"], state["issuer_of_record"]) == ("active", "app")
    assert {"issuer", "acceptor"} <= {s["signature"]["point"] for s in state["signatures"]}


@covers("activatePermit", "refused")
def test_RDY_04_activation_without_crew_and_briefing_is_refused_with_every_blocker(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.approved()
    site.clock.advance(timedelta(minutes=30))
    problem = api("app").refused("activatePermit", issue_body(site, pid), 409, "guard_failed", permit_id=pid)
    rules = {b["rule"] for b in problem["blockers"]}
    assert {"CLO-02"} <= rules and rules == set(problem["rule_ids"])
    assert all({"rule", "code", "message"} <= set(b) for b in problem["blockers"])


@covers("suspendPermit", "accepted")
def test_LIFE_18_a_safety_officer_stops_work(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    safe = api("safe")
    body = {"reason_code": "manual", "text": "High wind"}
    accepted(safe.send("suspendPermit", body, permit_id=pid), "PermitSuspended")
    state = safe.permit(pid)
    assert state["status"] == "suspended"
    assert [(s["reason_code"], s["text"]) for s in state["suspensions"]] == [("manual", "High wind")]


@covers("suspendPermit", "refused")
def test_LIFE_18_a_suspension_needs_a_text(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    problem = api("safe").refused(
        "suspendPermit",
        {"reason_code": "manual", "text": ""},
        422,
        "validation_failed",
        "LIFE-18",
        permit_id=pid,
    )
    assert problem["fields"] == ["text"]


def suspended(site: World) -> uuid.UUID:
    pid = site.active()
    site.run(c.SuspendPermit(actor=site.actor("safe"), permit_id=pid, reason_code="manual", text="wind"))
    site.clock.advance(timedelta(minutes=10))
    return pid


@covers("resumePermit", "accepted")
def test_LIFE_19_the_issuer_resumes_after_a_new_briefing(site: World, api: Callable[..., Api]) -> None:
    pid = suspended(site)
    site.brief(pid, "crew1", "watch")  # TBT-05
    app = api("app")
    accepted(app.send("resumePermit", issue_body(site, pid), permit_id=pid), "PermitResumed")
    assert app.permit(pid)["status"] == "active"


@covers("resumePermit", "refused")
def test_TBT_05_resume_without_a_briefing_after_the_suspension_is_refused(
    site: World, api: Callable[..., Api]
) -> None:
    pid = suspended(site)
    problem = api("app").refused(
        "resumePermit", issue_body(site, pid), 409, "guard_failed", "TBT-05", permit_id=pid
    )
    assert "TBT-05" in {b["rule"] for b in problem["blockers"]}


@covers("requestExtension", "accepted")
def test_EXT_01_the_pa_requests_an_extension(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    end = site.permit(pid).valid_until + timedelta(minutes=30)
    req = api("req")
    body = {"requested_end": end.isoformat(), "reason": "more welding"}
    outcome = accepted(req.send("requestExtension", body, permit_id=pid), "ExtensionRequested", status=201)
    [extension] = req.permit(pid)["extensions"]
    assert (extension["extension_id"], extension["state"]) == (outcome["created"]["extension_id"], "pending")


@covers("requestExtension", "refused")
def test_EXT_01_only_the_pa_requests_an_extension(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    end = site.permit(pid).valid_until + timedelta(minutes=30)
    body = {"requested_end": end.isoformat(), "reason": "more welding"}
    api("app").refused("requestExtension", body, 403, "forbidden", permit_id=pid)


def extension_requested(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    pid = site.active()
    ext = uuid.uuid4()
    site.run(
        c.RequestExtension(
            actor=site.actor("req"),
            permit_id=pid,
            extension_id=ext,
            requested_end=site.permit(pid).valid_until + timedelta(minutes=30),
            reason="more welding",
        )
    )
    return pid, ext


@covers("decideExtension", "accepted")
def test_EXT_03_an_approver_approves_the_extension(site: World, api: Callable[..., Api]) -> None:
    pid, ext = extension_requested(site)
    app = api("app")
    body = {"extension_id": str(ext), "approve": True, "signature": signature(site, pid)}
    accepted(app.send("decideExtension", body, permit_id=pid), "ExtensionApproved")
    assert app.permit(pid)["extensions"][0]["state"] == "approved"


@covers("decideExtension", "refused")
def test_SOD_05_the_requester_does_not_decide_their_extension(site: World, api: Callable[..., Api]) -> None:
    pid, ext = extension_requested(site)
    body = {"extension_id": str(ext), "approve": True, "signature": signature(site, pid)}
    api("req").refused("decideExtension", body, 403, "forbidden", permit_id=pid)


@covers("completePermit", "accepted")
def test_LIFE_20_the_pa_hands_the_work_area_back(site: World, api: Callable[..., Api]) -> None:
    pid = site.active(template="cold-work")
    site.clock.advance(timedelta(hours=1))
    req = api("req")
    body = {"outcome": "complete", "site_safe": True, "signature": signature(site, pid)}
    outcome = req.send("completePermit", body, permit_id=pid)
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["events"][0] == "PermitCompleted"
    state = req.permit(pid)
    assert (state["status"], state["hand_back"]["handed_back_by"]) == ("completed", "req")


@covers("completePermit", "refused")
def test_LIFE_20_a_hand_back_with_the_site_not_safe_is_refused(site: World, api: Callable[..., Api]) -> None:
    pid = site.active(template="cold-work")
    site.clock.advance(timedelta(hours=1))
    body = {"outcome": "complete", "site_safe": False, "signature": signature(site, pid)}
    problem = api("req").refused("completePermit", body, 422, "validation_failed", "LIFE-20", permit_id=pid)
    assert problem["fields"] == ["site_safe"]


@covers("closePermit", "accepted")
def test_LIFE_21_the_issuer_closes_after_inspection(site: World, api: Callable[..., Api]) -> None:
    pid = site.completed(template="cold-work")
    site.clock.advance(timedelta(minutes=10))
    app = api("app")
    body = {"inspected_at": now(site), "signature": signature(site, pid)}
    accepted(app.send("closePermit", body, permit_id=pid), "PermitClosed")
    state = app.permit(pid)
    assert (state["status"], state["closed_by"]) == ("closed", "app")


@covers("closePermit", "refused")
def test_ROLE_04_and_SOD_04_the_pa_who_handed_back_does_not_close(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.completed(template="cold-work")
    site.clock.advance(timedelta(minutes=10))
    body = {"inspected_at": now(site), "signature": signature(site, pid)}
    # SEC-03: lacking the role makes it 403; the SOD-04 blockers come with it, as readiness lists them (RDY-04)
    problem = api("req").refused("closePermit", body, 403, "forbidden", "ROLE-04", "SOD-04", permit_id=pid)
    assert {"role_missing", "same_person"} <= {b["code"] for b in problem["blockers"]}


@covers("recordHandover", "accepted")
def test_HOV_02_the_pa_records_a_handover_before_the_boundary(site: World, api: Callable[..., Api]) -> None:
    pid = live_over_evening(site)
    site.clock.set(EVENING - timedelta(minutes=45))
    req = api("req")
    outcome = accepted(
        req.send("recordHandover", handover_body(site, pid), permit_id=pid), "HandoverRecorded", status=201
    )
    [handover] = req.permit(pid)["handover"]["handovers"]
    assert handover["handover_id"] == outcome["created"]["handover_id"]
    response = req.caller.get(f"/permits/{pid}")
    signed = response.json()["signatures"][-1]  # SIG-01/SIG-11: the outgoing PA's signature with its status
    assert (signed["signature"]["point"], signed["signature"]["signer"], signed["status"]) == (
        "handover",
        "req",
        "valid",
    )


@covers("recordHandover", "refused")
def test_HOV_02_a_handover_outside_the_window_is_refused(site: World, api: Callable[..., Api]) -> None:
    pid = live_over_evening(site)
    site.clock.set(START.replace(hour=12))
    problem = api("req").refused(
        "recordHandover", handover_body(site, pid), 409, "guard_failed", permit_id=pid
    )
    assert {b["code"] for b in problem["blockers"]} == {"outside_handover_window"}


def handover_recorded(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    pid = live_over_evening(site)
    site.clock.set(EVENING - timedelta(minutes=45))
    hid = uuid.uuid4()
    site.run(
        hc.RecordHandover(
            actor=site.actor("req"),
            permit_id=pid,
            handover_id=hid,
            role=HandoverRole.PERFORMING,
            incoming=site.people["req2"],
            signature=site.signature(pid),
        )
    )
    return pid, hid


def acknowledgement(site: World, pid: uuid.UUID, hid: uuid.UUID) -> dict[str, Any]:
    """HOV-04 and SIG-01: the incoming person's signed acknowledgement."""
    return {"handover_id": str(hid), "signature": signature(site, pid)}


@covers("acknowledgeHandover", "accepted")
def test_HOV_04_the_incoming_pa_acknowledges_and_takes_over(site: World, api: Callable[..., Api]) -> None:
    pid, hid = handover_recorded(site)
    req2 = api("req2")
    accepted(
        req2.send("acknowledgeHandover", acknowledgement(site, pid, hid), permit_id=pid),
        "HandoverAcknowledged",
    )
    assert req2.permit(pid)["handed_over_pa"] == "req2"


@covers("acknowledgeHandover", "refused")
def test_SEC_05_only_the_incoming_person_acknowledges(site: World, api: Callable[..., Api]) -> None:
    pid, hid = handover_recorded(site)
    api("app3").refused(
        "acknowledgeHandover", acknowledgement(site, pid, hid), 403, "forbidden", permit_id=pid
    )


# --- people ----------------------------------------------------------------------------------------------------


@covers("registerWorker", "accepted")
def test_WRK_01_a_safety_officer_registers_a_worker(site: World, api: Callable[..., Api]) -> None:
    body = {"full_name": "Ann Welder", "company": "Acme", "person_id": "ann"}
    outcome = accepted(api("safe").send("registerWorker", body), "WorkerRegistered", status=201)
    worker = site.service.worker(uuid.UUID(outcome["created"]["worker_id"]))
    assert (worker.name, worker.organisation_id) == ("Ann Welder", site.organisation_id)


@covers("registerWorker", "refused")
def test_WRK_01_a_requestor_does_not_keep_the_registry(api: Callable[..., Api]) -> None:
    api("req").refused("registerWorker", {"full_name": "X", "company": "Y"}, 403, "forbidden")


@covers("updateWorker", "accepted")
def test_WRK_01_a_safety_officer_deactivates_a_worker(site: World, api: Callable[..., Api]) -> None:
    worker_id = site.workers["crew1"]
    accepted(api("safe").send("updateWorker", {"active": False}, worker_id=worker_id), "WorkerUpdated")
    assert site.service.worker(worker_id).active is False


@covers("updateWorker", "refused")
def test_TEN_02_a_worker_of_another_organisation_is_not_found(site: World, api: Callable[..., Api]) -> None:
    other = World.create(site.service, site.clock, code="SOUTH")
    problem = api("safe").refused(
        "updateWorker", {"active": False}, 404, "not_found", worker_id=other.workers["crew1"]
    )
    assert set(problem) & {"current_status", "current_version", "blockers"} == set()


def competency_body(site: World, **changes: Any) -> dict[str, Any]:
    return {
        "code": "gas_testing",
        "valid_from": now(site, -timedelta(days=1)),
        "valid_until": now(site, timedelta(days=365)),
        "issuer": "Training Ltd",
        "evidence_uri": "https://records.example/crew1/gas",
        "evidence_sha256": "a" * 64,
        **changes,
    }


@covers("recordCompetency", "accepted")
def test_COMP_01_a_safety_officer_records_a_competency(site: World, api: Callable[..., Api]) -> None:
    worker_id = site.workers["crew1"]
    outcome = accepted(
        api("safe").send("recordCompetency", competency_body(site), worker_id=worker_id),
        "CompetencyRecorded",
        status=201,
    )
    codes = {c.code: str(c.competency_id) for c in site.service.worker(worker_id).competencies}
    assert codes["gas_testing"] == outcome["created"]["competency_id"]


@covers("recordCompetency", "refused")
def test_COMP_01_a_competency_needs_a_real_validity(site: World, api: Callable[..., Api]) -> None:
    body = competency_body(site, valid_from=now(site), valid_until=now(site))
    api("safe").refused(
        "recordCompetency", body, 422, "validation_failed", "COMP-01", worker_id=site.workers["crew1"]
    )


@covers("revokeCompetency", "accepted")
def test_COMP_02_a_safety_officer_revokes_a_competency(site: World, api: Callable[..., Api]) -> None:
    worker_id = site.workers["crew1"]
    record = site.service.worker(worker_id).competencies[0]
    body = {"competency_id": str(record.competency_id), "reason": "failed audit"}
    accepted(api("safe").send("revokeCompetency", body, worker_id=worker_id), "CompetencyRevoked")
    assert site.service.worker(worker_id).competencies[0].revoked_at == site.clock.now()


@covers("revokeCompetency", "refused")
def test_COMP_01_revoking_an_unknown_competency_is_not_found(site: World, api: Callable[..., Api]) -> None:
    body = {"competency_id": str(uuid.uuid4()), "reason": "x"}
    problem = api("safe").refused("revokeCompetency", body, 404, "not_found", worker_id=site.workers["crew1"])
    assert problem["fields"] == ["competency_id"]


def lock_removed(site: World) -> uuid.UUID:
    pid = locked(site)
    site.run(lock_exception(site, pid))
    return pid


@covers("acknowledgeLockRemoval", "accepted")
def test_LOCK_04_the_worker_acknowledges_the_removal_of_their_lock(
    site: World, api: Callable[..., Api]
) -> None:
    lock_removed(site)
    worker_id = site.workers["crew1"]
    accepted(api("crew1").send("acknowledgeLockRemoval", {}, worker_id=worker_id), "LockRemovalAcknowledged")
    assert site.service.worker(worker_id).flagged is False


@covers("acknowledgeLockRemoval", "refused")
def test_LOCK_04_the_acknowledgement_is_personal(site: World, api: Callable[..., Api]) -> None:
    lock_removed(site)
    api("iso").refused(
        "acknowledgeLockRemoval", {}, 403, "forbidden", "LOCK-04", "SEC-05", worker_id=site.workers["crew1"]
    )


@covers("assignWorker", "accepted")
def test_WRK_02_an_approver_assigns_a_worker(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    app = api("app")
    body = {"worker_id": str(site.workers["crew1"]), "permit_roles": ["crew"]}
    accepted(app.send("assignWorker", body, permit_id=pid), "WorkerAssigned")
    assignments = app.permit(pid)["people"]["assignments"]
    assert [(a["worker_id"], a["permit_roles"]) for a in assignments] == [
        (str(site.workers["crew1"]), ["crew"])
    ]


@covers("assignWorker", "refused")
def test_TEN_03_a_worker_of_another_organisation_is_not_found_naming_the_field(
    site: World, api: Callable[..., Api]
) -> None:
    other = World.create(site.service, site.clock, code="SOUTH")
    pid = site.draft()
    body = {"worker_id": str(other.workers["crew1"]), "permit_roles": ["crew"]}
    problem = api("app").refused("assignWorker", body, 404, "not_found", permit_id=pid)
    assert problem["fields"] == ["worker_id"]


@covers("releaseWorker", "accepted")
def test_WRK_03_an_approver_releases_a_worker(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    site.prepare_crew(pid)
    app = api("app")
    accepted(
        app.send("releaseWorker", {"worker_id": str(site.workers["crew1"])}, permit_id=pid), "WorkerReleased"
    )
    assert str(site.workers["crew1"]) not in {
        a["worker_id"] for a in app.permit(pid)["people"]["assignments"]
    }


@covers("releaseWorker", "refused")
def test_WRK_03_a_worker_inside_is_not_released(site: World, api: Callable[..., Api]) -> None:
    pid = confined_active(site)
    site.run(pc.RecordEntry(actor=site.actor("crew1"), permit_id=pid, worker_id=site.workers["crew1"]))
    body = {"worker_id": str(site.workers["crew1"])}
    api("app").refused("releaseWorker", body, 409, "guard_failed", "WRK-03", permit_id=pid)


@covers("holdToolboxTalk", "accepted")
def test_TBT_01_a_safety_officer_holds_a_briefing(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    safe = api("safe")
    body = {"held_at": now(site), "topics": ["hazards", "controls"]}
    outcome = accepted(safe.send("holdToolboxTalk", body, permit_id=pid), "ToolboxTalkHeld", status=201)
    [briefing] = safe.permit(pid)["people"]["briefings"]
    assert (briefing["tbt_id"], briefing["conductor"]) == (outcome["created"]["tbt_id"], "safe")


@covers("holdToolboxTalk", "refused")
def test_TIME_02_a_briefing_held_in_the_future_is_refused(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    body = {"held_at": now(site, timedelta(hours=1)), "topics": ["hazards"]}
    api("safe").refused("holdToolboxTalk", body, 422, "validation_failed", "TIME-02", permit_id=pid)


def briefed(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    """An approved permit with crew1 assigned and a briefing held, not yet attended."""
    pid = site.approved()
    site.run(
        pc.AssignWorker(
            actor=site.actor("app"),
            permit_id=pid,
            worker_id=site.workers["crew1"],
            permit_roles=(PermitRole.CREW,),
        )
    )
    tbt_id = uuid.uuid4()
    site.run(
        pc.HoldToolboxTalk(
            actor=site.actor("safe"),
            permit_id=pid,
            tbt_id=tbt_id,
            held_at=site.clock.now(),
            topics=("hazards",),
        )
    )
    return pid, tbt_id


@covers("attendToolboxTalk", "accepted")
def test_TBT_02_a_worker_acknowledges_attendance_personally(site: World, api: Callable[..., Api]) -> None:
    pid, tbt_id = briefed(site)
    crew = api("crew1")
    body = {"tbt_id": str(tbt_id), "worker_id": str(site.workers["crew1"])}
    accepted(crew.send("attendToolboxTalk", body, permit_id=pid), "ToolboxTalkAttended")
    assert str(site.workers["crew1"]) in crew.permit(pid)["people"]["briefings"][0]["attended"]


@covers("attendToolboxTalk", "refused")
def test_TBT_02_attendance_is_not_acknowledged_for_someone_else(site: World, api: Callable[..., Api]) -> None:
    pid, tbt_id = briefed(site)
    body = {"tbt_id": str(tbt_id), "worker_id": str(site.workers["crew1"])}
    api("req").refused("attendToolboxTalk", body, 403, "forbidden", permit_id=pid)


@covers("postAttendant", "accepted")
def test_CSE_01_the_attendant_goes_on_duty(site: World, api: Callable[..., Api]) -> None:
    pid = confined(site)
    att = api("att")
    body = {"worker_id": str(site.workers["att"]), "on_duty": True}
    accepted(att.send("postAttendant", body, permit_id=pid), "AttendantPosted")
    assert att.permit(pid)["people"]["attendants_on_duty"] == [str(site.workers["att"])]


@covers("postAttendant", "refused")
def test_CSE_03_the_attendant_stays_on_duty_while_someone_is_inside(
    site: World, api: Callable[..., Api]
) -> None:
    pid = confined_active(site)
    site.run(pc.RecordEntry(actor=site.actor("crew1"), permit_id=pid, worker_id=site.workers["crew1"]))
    body = {"worker_id": str(site.workers["att"]), "on_duty": False}
    api("att").refused("postAttendant", body, 409, "guard_failed", "CSE-03", permit_id=pid)


@covers("recordEntry", "accepted")
def test_CSE_02_an_entrant_goes_in(site: World, api: Callable[..., Api]) -> None:
    pid = confined_active(site)
    crew = api("crew1")
    accepted(
        crew.send("recordEntry", {"worker_id": str(site.workers["crew1"])}, permit_id=pid), "EntrantEntered"
    )
    assert crew.permit(pid)["people"]["inside"] == [str(site.workers["crew1"])]


@covers("recordEntry", "refused")
def test_CSE_02_no_entry_before_the_permit_is_active(site: World, api: Callable[..., Api]) -> None:
    pid = confined(site)
    post_attendant(site, pid)
    body = {"worker_id": str(site.workers["crew1"])}
    api("crew1").refused("recordEntry", body, 409, "invalid_transition", "LIFE-02", permit_id=pid)


@covers("recordExit", "accepted")
def test_CSE_02_an_entrant_comes_out(site: World, api: Callable[..., Api]) -> None:
    pid = confined_active(site)
    site.run(pc.RecordEntry(actor=site.actor("crew1"), permit_id=pid, worker_id=site.workers["crew1"]))
    crew = api("crew1")
    accepted(
        crew.send("recordExit", {"worker_id": str(site.workers["crew1"])}, permit_id=pid), "EntrantExited"
    )
    assert crew.permit(pid)["people"]["inside"] == []


@covers("recordExit", "refused")
def test_CSE_02_an_exit_is_recorded_only_for_someone_inside(site: World, api: Callable[..., Api]) -> None:
    pid = confined_active(site)
    body = {"worker_id": str(site.workers["crew1"])}
    problem = api("crew1").refused("recordExit", body, 404, "not_found", permit_id=pid)
    assert problem["fields"] == ["worker_id"]


@covers("assignFireWatch", "accepted")
def test_CLO_02_an_approver_assigns_the_fire_watch(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    app = api("app")
    accepted(
        app.send("assignFireWatch", {"worker_id": str(site.workers["watch"])}, permit_id=pid),
        "FireWatchAssigned",
    )
    assert app.permit(pid)["people"]["fire_watch"] == str(site.workers["watch"])


@covers("assignFireWatch", "refused")
def test_SOD_08_a_crew_member_is_not_the_fire_watch(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    site.run(
        pc.AssignWorker(
            actor=site.actor("app"),
            permit_id=pid,
            worker_id=site.workers["crew1"],
            permit_roles=(PermitRole.CREW,),
        )
    )
    body = {"worker_id": str(site.workers["crew1"])}
    api("app").refused("assignFireWatch", body, 409, "guard_failed", "SOD-08", permit_id=pid)


@covers("completeFireWatch", "accepted")
def test_CLO_03_the_fire_watch_completes_after_the_full_minutes(site: World, api: Callable[..., Api]) -> None:
    pid = site.completed()
    site.clock.advance(timedelta(minutes=31))
    watch = api("watch")
    accepted(watch.send("completeFireWatch", {}, permit_id=pid), "FireWatchCompleted")
    assert watch.permit(pid)["people"]["fire_watch_minutes_kept"] == 31


@covers("completeFireWatch", "refused")
def test_CLO_03_the_fire_watch_is_not_completed_early(site: World, api: Callable[..., Api]) -> None:
    pid = site.completed()
    site.clock.advance(timedelta(minutes=20))
    problem = api("watch").refused("completeFireWatch", {}, 409, "guard_failed", "CLO-03", permit_id=pid)
    assert problem["blockers"][0]["facts"]["minutes_required"] == 30


# --- gas -------------------------------------------------------------------------------------------------------


@covers("recordGasReading", "accepted")
def test_GAS_04_the_server_judges_a_gas_reading(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    tester = api("tester")
    outcome = accepted(
        tester.send("recordGasReading", gas_body(site, value=18.0), permit_id=pid),
        "GasReadingRecorded",
        "GasTestSessionCompleted",  # a failed oxygen reading ends the session
        status=201,
    )
    [reading] = tester.permit(pid)["gas"]["readings"]
    assert (reading["reading_id"], reading["verdict"]) == (outcome["created"]["reading_id"], "fail")


@covers("recordGasReading", "refused")
def test_GAS_02_no_gas_reading_before_review(site: World, api: Callable[..., Api]) -> None:
    pid = site.submitted()
    api("tester").refused("recordGasReading", gas_body(site), 409, "invalid_transition", permit_id=pid)


@covers("voidGasReading", "accepted")
def test_GAS_14_a_safety_officer_voids_a_reading(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    site.gas_test(pid)
    reading_id = site.permit(pid).gas.readings[0].reading_id
    safe = api("safe")
    body = {"reading_id": str(reading_id), "reason": "instrument fault"}
    accepted(safe.send("voidGasReading", body, permit_id=pid), "GasReadingVoided")
    assert str(reading_id) in str(safe.permit(pid)["gas"]["voided"])


@covers("voidGasReading", "refused")
def test_SEC_04_a_requestor_cannot_void_a_gas_reading(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    site.gas_test(pid)
    body = {"reading_id": str(site.permit(pid).gas.readings[0].reading_id), "reason": "x"}
    api("req").refused("voidGasReading", body, 403, "forbidden", permit_id=pid)


# --- isolation and locks ---------------------------------------------------------------------------------------


@covers("registerIsolationPoint", "accepted")
def test_ISO_01_the_isolating_authority_registers_a_point(site: World, api: Callable[..., Api]) -> None:
    outcome = accepted(
        api("iso").send("registerIsolationPoint", {"spec": point_spec("V-101")}), "IsolationPointRegistered"
    )
    assert outcome["stream_id"] == str(point_id_for(site.project_id, "V-101"))


@covers("registerIsolationPoint", "refused")
def test_ISO_01_a_point_code_is_unique_in_the_project(site: World, api: Callable[..., Api]) -> None:
    site.register_point("V-101")
    api("iso").refused(
        "registerIsolationPoint", {"spec": point_spec("v-101")}, 409, "invalid_transition", "ISO-01"
    )


@covers("reviseIsolationPoint", "accepted")
def test_ISO_01_the_isolating_authority_revises_a_point(site: World, api: Callable[..., Api]) -> None:
    point_id = site.register_point("V-101")
    body = {"spec": point_spec("V-101", required_locks=2)}
    accepted(api("iso").send("reviseIsolationPoint", body, point_id=point_id), "IsolationPointRevised")


@covers("reviseIsolationPoint", "refused")
def test_SEC_04_a_requestor_cannot_revise_a_point(site: World, api: Callable[..., Api]) -> None:
    point_id = site.register_point("V-101")
    body = {"spec": point_spec("V-101", required_locks=2)}
    api("req").refused("reviseIsolationPoint", body, 403, "forbidden", point_id=point_id)


@covers("deactivateIsolationPoint", "accepted")
def test_ISO_01_the_isolating_authority_deactivates_a_point(site: World, api: Callable[..., Api]) -> None:
    point_id = site.register_point("V-101")
    accepted(api("iso").send("deactivateIsolationPoint", {}, point_id=point_id), "IsolationPointDeactivated")


@covers("deactivateIsolationPoint", "refused")
def test_ISO_02_a_point_with_an_open_isolation_is_not_deactivated(
    site: World, api: Callable[..., Api]
) -> None:
    point_id = site.assign_point(site.draft(), required=False)
    api("iso").refused("deactivateIsolationPoint", {}, 409, "guard_failed", "ISO-02", point_id=point_id)


@covers("assignIsolationPoint", "accepted")
def test_ISO_02_a_point_is_assigned_to_a_permit(site: World, api: Callable[..., Api]) -> None:
    point_id = site.register_point("V-101")
    pid = site.draft()
    iso = api("iso")
    body = {"point_id": str(point_id), "required": True}
    outcome = iso.send("assignIsolationPoint", body, permit_id=pid)
    assert outcome.status_code == 200, outcome.text
    assert "IsolationPointAssigned" in outcome.json()["events"]
    [assignment] = iso.permit(pid)["isolations"]["assignments"]
    assert (assignment["point_id"], assignment["required"]) == (str(point_id), True)


@covers("assignIsolationPoint", "refused")
def test_TEN_03_a_point_of_another_project_is_not_found(site: World, api: Callable[..., Api]) -> None:
    other = World.create(site.service, site.clock, code="SOUTH")
    other.register_point("V-9")
    pid = site.draft()
    body = {"point_id": str(point_id_for(other.project_id, "V-9"))}
    problem = api("iso").refused("assignIsolationPoint", body, 404, "not_found", permit_id=pid)
    assert problem["fields"] == ["point_id"]


@covers("unassignIsolationPoint", "accepted")
def test_ISO_05_a_point_is_unassigned_before_approval(site: World, api: Callable[..., Api]) -> None:
    pid = site.draft()
    point_id = site.assign_point(pid, required=False)
    iso = api("iso")
    outcome = iso.send("unassignIsolationPoint", {"point_id": str(point_id)}, permit_id=pid)
    assert outcome.status_code == 200, outcome.text
    assert "IsolationPointUnassigned" in outcome.json()["events"]
    assert iso.permit(pid)["isolations"]["assignments"] == []


@covers("unassignIsolationPoint", "refused")
def test_ISO_05_points_are_not_removed_after_approval(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).approved(template="electrical")
    point_id = site.permit(pid).isolations.assignments[0].point_id
    api("iso").refused(
        "unassignIsolationPoint", {"point_id": str(point_id)}, 409, "invalid_transition", permit_id=pid
    )


@ALL_BACKENDS
@covers("isolatePoint", "accepted")
def test_ISO_04_the_isolating_authority_isolates_a_point(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).approved(template="electrical")
    iso_id = isolation_of(site, pid)
    iso = api("iso")
    accepted(iso.send("isolatePoint", isolate_body(site), isolation_id=iso_id), "PointIsolated")
    [item] = iso.read("/registers/isolations", permit=str(pid))["items"]
    assert (item["id"], item["status"], item["isolated_by"]) == (str(iso_id), "isolated", "iso")


@covers("isolatePoint", "refused")
def test_SEC_04_an_approver_does_not_isolate(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).approved(template="electrical")
    api("app").refused(
        "isolatePoint", isolate_body(site), 403, "forbidden", isolation_id=isolation_of(site, pid)
    )


@covers("verifyIsolation", "accepted")
def test_ISO_06_a_second_isolating_authority_verifies(site: World, api: Callable[..., Api]) -> None:
    _pid, iso_id = isolated(site)
    body = {"method": "test for dead", "passed": True, "verified_at": now(site)}
    accepted(api("iso2").send("verifyIsolation", body, isolation_id=iso_id), "IsolationVerified")


@covers("verifyIsolation", "refused")
def test_SOD_03_the_isolator_does_not_verify(site: World, api: Callable[..., Api]) -> None:
    _pid, iso_id = isolated(site)
    body = {"method": "test for dead", "passed": True, "verified_at": now(site)}
    api("iso").refused("verifyIsolation", body, 409, "guard_failed", "SOD-03", isolation_id=iso_id)


@covers("deisolatePoint", "accepted")
def test_ISO_11_a_point_is_de_isolated_after_hand_back(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).completed(template="electrical")
    iso_id = isolation_of(site, pid)
    accepted(api("iso").send("deisolatePoint", {}, isolation_id=iso_id), "PointDeisolated")
    assert site.permit(pid).isolations.ended == (iso_id,)


@covers("deisolatePoint", "refused")
def test_ISO_11_no_de_isolation_while_a_linked_permit_holds(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).active(template="electrical")
    api("iso").refused(
        "deisolatePoint", {}, 409, "guard_failed", "ISO-11", isolation_id=isolation_of(site, pid)
    )


def test_ISO_13_LOCK_03_another_de_isolates_only_after_the_LOCK_02_facts_for_each_lock(
    site: World, api: Callable[..., Api]
) -> None:
    pid = electrical(site).completed(template="electrical")
    iso_id = isolation_of(site, pid)
    [lock_id] = next(
        e.payload.lock_ids for e in site.service.store.events.get(iso_id) if e.type == "PointIsolated"
    )
    iso2 = api("iso2")
    problem = iso2.refused(
        "deisolatePoint", {}, 409, "guard_failed", "ISO-13", "LOCK-03", isolation_id=iso_id
    )
    assert problem["blockers"][0]["facts"] == {"owner": "iso", "lock_ids": [lock_id]}
    body = lock_exception_body(site, lock_id=lock_id)
    accepted(iso2.send("recordLockRemovalException", body, permit_id=pid), "LinkedIsolationLockExcepted")
    accepted(iso2.send("deisolatePoint", {}, isolation_id=iso_id), "PointDeisolated")


@covers("transferIsolationToOperations", "accepted")
def test_ISO_14_an_area_authority_takes_an_isolation_over(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).completed(template="electrical")
    body = {"reason": "left in place for recommissioning"}
    response = api("area").send("transferIsolationToOperations", body, isolation_id=isolation_of(site, pid))
    accepted(response, "IsolationTransferredToOperations")


@covers("transferIsolationToOperations", "refused")
def test_ISO_14_a_transfer_needs_a_reason(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).completed(template="electrical")
    api("area").refused(
        "transferIsolationToOperations",
        {"reason": " "},
        422,
        "validation_failed",
        isolation_id=isolation_of(site, pid),
    )


@covers("recordIsolationLockException", "accepted")
def test_LOCK_02_ISO_13_the_facts_go_on_an_isolation_held_by_operations(
    site: World, api: Callable[..., Api]
) -> None:
    """LOCK-02: no permit carries an isolation held by operations (ISO-14); the facts go on the isolation, then
    another de-isolates (ISO-13) and the owner is flagged (LOCK-04)."""
    pid = electrical(site).completed(template="electrical")
    iso_id = isolation_of(site, pid)
    [lock_id] = next(
        e.payload.lock_ids for e in site.service.store.events.get(iso_id) if e.type == "PointIsolated"
    )
    api("area").send("transferIsolationToOperations", {"reason": "left in place"}, isolation_id=iso_id)
    iso2 = api("iso2")
    body = lock_exception_body(site, lock_id=lock_id)
    accepted(
        iso2.send("recordIsolationLockException", body, isolation_id=iso_id), "IsolationLockExceptionRecorded"
    )
    accepted(iso2.send("deisolatePoint", {}, isolation_id=iso_id), "PointDeisolated")
    assert site.service.worker(site.workers["iso"]).flagged


@covers("recordIsolationLockException", "refused")
def test_LOCK_02_the_isolation_lock_exception_needs_all_three_facts(
    site: World, api: Callable[..., Api]
) -> None:
    pid = electrical(site).completed(template="electrical")
    iso_id = isolation_of(site, pid)
    [lock_id] = next(
        e.payload.lock_ids for e in site.service.store.events.get(iso_id) if e.type == "PointIsolated"
    )
    body = lock_exception_body(site, lock_id=lock_id, contact_attempts=" ")
    problem = api("iso2").refused(
        "recordIsolationLockException", body, 422, "validation_failed", "LOCK-02", isolation_id=iso_id
    )
    assert problem["facts"] == {"fields": ["contact_attempts"]}


@covers("applyPersonalLock", "accepted")
def test_LOCK_01_a_crew_worker_applies_their_lock(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).active(template="electrical")
    crew = api("crew1")
    body = {"lock_id": "P-1", "worker_id": str(site.workers["crew1"])}
    accepted(crew.send("applyPersonalLock", body, permit_id=pid), "PersonalLockApplied")
    [lock] = crew.read("/registers/locks", permit=str(pid))["items"]
    assert (lock["lock_id"], lock["worker_id"]) == ("P-1", str(site.workers["crew1"]))


@covers("applyPersonalLock", "refused")
def test_SEC_05_a_personal_lock_is_applied_by_its_owner(site: World, api: Callable[..., Api]) -> None:
    pid = electrical(site).active(template="electrical")
    body = {"lock_id": "P-1", "worker_id": str(site.workers["crew1"])}
    api("req").refused("applyPersonalLock", body, 403, "forbidden", permit_id=pid)


@covers("removePersonalLock", "accepted")
def test_LOCK_02_the_owner_removes_their_lock(site: World, api: Callable[..., Api]) -> None:
    pid = locked(site)
    crew = api("crew1")
    accepted(crew.send("removePersonalLock", {"lock_id": "P-1"}, permit_id=pid), "PersonalLockRemoved")
    assert crew.permit(pid)["isolations"]["locks"] == []


@covers("removePersonalLock", "refused")
def test_LOCK_02_someone_else_does_not_remove_a_lock(site: World, api: Callable[..., Api]) -> None:
    pid = locked(site)
    api("iso").refused("removePersonalLock", {"lock_id": "P-1"}, 403, "forbidden", "LOCK-02", permit_id=pid)


@covers("recordLockRemovalException", "accepted")
def test_LOCK_02_an_absent_workers_lock_is_removed_with_the_three_facts(
    site: World, api: Callable[..., Api]
) -> None:
    pid = locked(site)
    iso = api("iso")
    response = iso.send("recordLockRemovalException", lock_exception_body(site), permit_id=pid)
    assert response.status_code == 200, response.text
    assert "LockRemovalExceptionRecorded" in response.json()["events"]
    assert iso.permit(pid)["isolations"]["locks"] == []
    assert site.service.worker(site.workers["crew1"]).flagged


@covers("recordLockRemovalException", "refused")
def test_LOCK_02_the_exception_needs_the_promise_to_inform(site: World, api: Callable[..., Api]) -> None:
    pid = locked(site)
    body = lock_exception_body(site, will_inform_before_resuming=False)
    api("iso").refused("recordLockRemovalException", body, 422, "validation_failed", permit_id=pid)


# --- close-out -------------------------------------------------------------------------------------------------


@covers("checkCloseoutItem", "accepted")
def test_CLO_04_the_pa_ticks_a_close_out_item(site: World, api: Callable[..., Api]) -> None:
    pid = handed_back_vessel(site)
    req = api("req")
    accepted(req.send("checkCloseoutItem", {"key": "tools_removed"}, permit_id=pid), "CloseoutItemChecked")
    [item] = req.permit(pid)["closeout"]["checklist"]
    assert (item["key"], item["checked_by"]) == ("tools_removed", "req")


@covers("checkCloseoutItem", "refused")
def test_CLO_04_items_are_ticked_only_after_hand_back(site: World, api: Callable[..., Api]) -> None:
    site.publish_template(VESSEL)
    pid = site.active(template="vessel")
    api("req").refused(
        "checkCloseoutItem", {"key": "tools_removed"}, 409, "invalid_transition", permit_id=pid
    )


@covers("uncheckCloseoutItem", "accepted")
def test_CLO_04_an_area_authority_unticks_an_item(site: World, api: Callable[..., Api]) -> None:
    pid = handed_back_vessel(site)
    site.run(cc.CheckCloseoutItem(actor=site.actor("req"), permit_id=pid, key="tools_removed"))
    area = api("area")
    accepted(
        area.send("uncheckCloseoutItem", {"key": "tools_removed"}, permit_id=pid), "CloseoutItemUnchecked"
    )
    assert area.permit(pid)["closeout"]["checklist"][0]["checked_by"] is None


@covers("uncheckCloseoutItem", "refused")
def test_CLO_04_an_unknown_item_is_not_found_naming_the_key(site: World, api: Callable[..., Api]) -> None:
    pid = handed_back_vessel(site)
    problem = api("area").refused(
        "uncheckCloseoutItem", {"key": "no_such_item"}, 404, "not_found", permit_id=pid
    )
    assert problem["fields"] == ["key"]


@covers("applyInhibit", "accepted")
def test_CLO_06_an_area_authority_records_an_inhibit(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    area = api("area")
    outcome = accepted(
        area.send("applyInhibit", inhibit_body(site), permit_id=pid), "InhibitApplied", status=201
    )
    [inhibit] = area.permit(pid)["closeout"]["inhibits"]
    assert inhibit["inhibit_id"] == outcome["created"]["inhibit_id"]


@covers("applyInhibit", "refused")
def test_SEC_04_a_requestor_does_not_record_an_inhibit(site: World, api: Callable[..., Api]) -> None:
    pid = site.approved()
    api("req").refused("applyInhibit", inhibit_body(site), 403, "forbidden", permit_id=pid)


def inhibited(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    site.add_person("area2", Role.AREA_AUTHORITY, level=3)
    pid = site.active(template="cold-work")
    inhibit_id = uuid.uuid4()
    site.run(
        cc.ApplyInhibit(
            actor=site.actor("area"),
            permit_id=pid,
            inhibit_id=inhibit_id,
            system="Fire and gas detection",
            tag="FGS-ZONE-12",
            reason="Grinding",
            expected_restore_at=site.clock.now() + timedelta(hours=6),
        )
    )
    return pid, inhibit_id


@covers("restoreInhibit", "accepted")
def test_CLO_06_an_inhibit_is_restored_and_confirmed_by_a_second_person(
    site: World, api: Callable[..., Api]
) -> None:
    pid, inhibit_id = inhibited(site)
    area = api("area")
    body = {"inhibit_id": str(inhibit_id), "confirmed_by": "area2"}
    accepted(area.send("restoreInhibit", body, permit_id=pid), "InhibitRestored")
    [inhibit] = area.permit(pid)["closeout"]["inhibits"]
    assert (inhibit["restored_by"], inhibit["confirmed_by"]) == ("area", "area2")


@covers("restoreInhibit", "refused")
def test_CLO_06_the_restorer_does_not_confirm_their_own_restore(site: World, api: Callable[..., Api]) -> None:
    pid, inhibit_id = inhibited(site)
    body = {"inhibit_id": str(inhibit_id), "confirmed_by": "area"}
    api("area").refused("restoreInhibit", body, 409, "guard_failed", "CLO-06", permit_id=pid)


# --- records: attachments, annotations, incidents ---------------------------------------------------------------

ATTACHMENT = {
    "uri": "https://docs.example/permits/gas-free-certificate.pdf",
    "sha256": "9f" * 32,
    "media_type": "application/pdf",
    "size": 48213,
    "title": "Gas-free certificate",
}


@covers("addAttachment", "accepted")
def test_SEC_05_the_requestor_attaches_a_document_shown_in_the_detail(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    req = api("req")
    accepted(req.send("addAttachment", ATTACHMENT, permit_id=pid), "AttachmentAdded")
    [attachment] = req.permit(pid)["records"]["attachments"]
    assert (attachment["uri"], attachment["sha256"], attachment["added_by"]) == (
        ATTACHMENT["uri"],
        ATTACHMENT["sha256"],
        "req",
    )
    retry = req.send("addAttachment", ATTACHMENT, permit_id=pid)
    assert (retry.status_code, retry.json()["events"]) == (200, [])  # the same document: nothing recorded


@covers("addAttachment", "refused")
def test_SEC_12_an_attachment_with_a_malformed_digest_is_refused_naming_it(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    body = {**ATTACHMENT, "sha256": "not-a-digest"}
    problem = api("req").refused("addAttachment", body, 422, "validation_failed", "SEC-12", permit_id=pid)
    assert problem["fields"] == ["sha256"]


def test_LIFE_05_a_closed_permit_takes_no_attachment(site: World, api: Callable[..., Api]) -> None:
    pid = site.closed()
    problem = api("area").refused("addAttachment", ATTACHMENT, 409, "invalid_transition", permit_id=pid)
    assert problem["allowed_commands"] == ["AnnotatePermit", "LinkIncident"]


@covers("annotatePermit", "accepted")
def test_AUD_11_a_safety_officer_annotates_a_closed_permit(site: World, api: Callable[..., Api]) -> None:
    pid = site.closed()
    safe = api("safe")
    text = "Entrant reported dizziness at 14:10; ventilation was increased"
    accepted(safe.send("annotatePermit", {"text": text}, permit_id=pid), "PermitAnnotated")
    permit = safe.permit(pid)
    assert permit["status"] == "closed"
    [note] = permit["records"]["annotations"]
    assert (note["text"], note["by"], note["status"]) == (text, "safe", "closed")


@covers("annotatePermit", "refused")
def test_SEC_04_a_requestor_does_not_annotate(site: World, api: Callable[..., Api]) -> None:
    pid = site.closed()
    api("req").refused("annotatePermit", {"text": "mine"}, 403, "forbidden", "SEC-04", permit_id=pid)


@covers("linkIncident", "accepted")
def test_RPT_04_an_integration_principal_links_an_incident(
    site: World, api: Callable[..., Api], client: Any, api_settings: ApiSettings
) -> None:
    pid = site.closed()
    token = mint_token(
        api_settings,
        subject="incident-system",
        projects={site.project_id: ProjectGrant(roles=frozenset({Role.INTEGRATION}))},
        organisation=site.organisation_id,
        kind=ActorKind.SERVICE,
        scopes=("ptw:read", "ptw:write"),
    )
    ims = Api(Caller(client, site, token, site.project_id))
    body = {"incident_ref": "INC-2026-0042", "occurred_at": now(site), "summary": "Hand burn while grinding"}
    accepted(ims.send("linkIncident", body, permit_id=pid), "IncidentLinked")
    [incident] = ims.permit(pid)["records"]["incidents"]
    assert (incident["incident_ref"], incident["linked_by"]) == ("INC-2026-0042", "incident-system")
    again = ims.send("linkIncident", body, permit_id=pid)
    assert (again.status_code, again.json()["events"]) == (200, [])  # redelivered: nothing recorded


@covers("linkIncident", "refused")
def test_RPT_04_an_approver_does_not_link_incidents(site: World, api: Callable[..., Api]) -> None:
    pid = site.active()
    body = {"incident_ref": "INC-7"}
    api("app").refused("linkIncident", body, 403, "forbidden", "RPT-04", permit_id=pid)


# --- SIMOPS ----------------------------------------------------------------------------------------------------


@covers("resolveConflict", "accepted")
def test_SIM_08_an_area_authority_accepts_a_conflict_with_controls(
    site: World, api: Callable[..., Api]
) -> None:
    newer, conflict_id = conflict(site)
    area = api("area")
    body = {"decision": "accept_with_controls", "controls": "Fire blanket over the manway"}
    accepted(area.send("resolveConflict", body, conflict_id=conflict_id), "ConflictResolved")
    [item] = area.read("/registers/conflicts", state="accepted")["items"]
    assert item["id"] == str(conflict_id)
    assert "SIM-06" not in {b.rule for b in site.service.readiness(newer).actions["approve"].blockers}


@covers("resolveConflict", "refused")
def test_SEC_04_an_approver_does_not_resolve_a_conflict(site: World, api: Callable[..., Api]) -> None:
    _newer, conflict_id = conflict(site)
    body = {"decision": "accept_with_controls", "controls": "x"}
    api("app").refused("resolveConflict", body, 403, "forbidden", conflict_id=conflict_id)


@covers("publishZoneMap", "accepted")
def test_SIM_02_SIM_09_a_published_zone_map_makes_permits_in_adjacent_areas_conflict(
    site: World, api: Callable[..., Api]
) -> None:
    site.publish_template({"key": "tank", "category": "confined_space"})
    site.submitted(template="tank", area="U100")
    newer = site.under_review(area="U200", equipment_tags=("P-900",))
    accepted(api("admin").send("publishZoneMap", {"adjacency": {"U100": ["U200"]}}), "ZoneMapPublished")
    [blocker] = [b for b in site.service.readiness(newer).actions["approve"].blockers if b.rule == "SIM-06"]
    assert blocker.facts["overlapping"] == {"adjacent_areas": ["U100 <-> U200"]}


@covers("publishZoneMap", "refused")
def test_SEC_04_a_safety_officer_does_not_publish_the_zone_map(api: Callable[..., Api]) -> None:
    api("safe").refused("publishZoneMap", {"adjacency": {"U100": ["U200"]}}, 403, "forbidden", "SEC-04")


@covers("publishSimopsMatrix", "accepted")
def test_SIM_05_a_safety_officer_publishes_the_next_interaction_matrix(
    site: World, api: Callable[..., Api]
) -> None:
    site.submitted(template="cold-work", area="U300")
    later = site.submitted(template="cold-work", area="U300")
    body = {"entries": [{"first": "cold_work", "second": "*", "severity": "high", "rule": "SIM-M08"}]}
    accepted(api("safe").send("publishSimopsMatrix", body), "SimopsMatrixPublished")
    [blocker] = [b for b in site.service.readiness(later).actions["approve"].blockers if b.rule == "SIM-06"]
    assert (blocker.facts["rule"], blocker.facts["severity"]) == ("SIM-M08", "high")


@covers("publishSimopsMatrix", "refused")
def test_SIM_05_a_matrix_entry_with_an_unknown_severity_is_refused(api: Callable[..., Api]) -> None:
    body = {"entries": [{"first": "cold_work", "second": "*", "severity": "critical", "rule": "SIM-M08"}]}
    problem = api("safe").refused("publishSimopsMatrix", body, 422, "validation_failed", "SIM-05")
    assert problem["fields"] == ["entries[0].severity"]


# --- the API's own part of a command ---------------------------------------------------------------------------


@ALL_BACKENDS
def test_SEC_10_an_if_match_naming_another_version_is_refused_stale_version(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.under_review()
    app = api("app")
    version = site.permit(pid).version
    response = app.send(
        "approvePermit",
        {"signature": signature(site, pid)},
        headers={"If-Match": f'"{version - 1}"'},
        permit_id=pid,
    )
    assert response.status_code == 412, response.text
    assert response.json()["code"] == "stale_version"
    assert site.permit(pid).status == "under_review"


@ALL_BACKENDS
def test_SEC_09_a_replayed_create_with_the_same_idempotency_key_returns_the_same_permit(
    site: World, api: Callable[..., Api]
) -> None:
    req = api("req")
    body = draft_body(site)
    first = req.send("createPermit", body, headers={"Idempotency-Key": "create-1"})
    again = req.send("createPermit", body, headers={"Idempotency-Key": "create-1"})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["replayed"] is True
    assert again.json()["stream_id"] == first.json()["stream_id"]
    assert len(site.service.project(site.project_id).permits) == 1


def test_TEN_02_a_permit_of_another_project_is_not_found_from_this_one(
    site: World, api: Callable[..., Api]
) -> None:
    other = World.create(site.service, site.clock, code="SOUTH")
    foreign = other.draft()
    problem = api("req").refused(
        "editPermit", {"changes": {"notes": "x"}}, 404, "not_found", permit_id=foreign
    )
    assert set(problem) & {"current_status", "current_version", "allowed_commands"} == set()


def test_SEC_12_a_body_naming_a_server_field_is_refused_naming_it(
    site: World, api: Callable[..., Api]
) -> None:
    pid = site.draft()
    body = {"changes": {"notes": "x"}, "actor": {"member": {"person_id": "app"}}}
    problem = api("req").refused("editPermit", body, 422, "validation_failed", "SEC-12", permit_id=pid)
    assert problem["fields"] == ["actor"]


# --- every route has its cases ---------------------------------------------------------------------------------


def test_issue_5_every_command_route_has_an_accepted_and_a_refused_test() -> None:
    operations = set(BY_OPERATION)
    assert len(operations) == len(ROUTES)
    assert sorted(operations - COVERED["accepted"]) == []
    assert sorted(operations - COVERED["refused"]) == []
