# ruff: noqa: N802
"""Issue 5: every GET endpoint over HTTP, once answered and once refused.

The scene is set with the domain builders; a read names the store head in `X-PTW-Min-Position` so that it
answers only once the projections have passed the builders' writes (RM-08). Refusals are problems: an unknown
or malformed parameter names the parameter (SEC-12), a project the caller is not a member of and an object of
another project are `not_found` (TEN-02), a read the role does not allow is `forbidden` (SEC-04). `covers`
registers each test; the last test fails when a GET operation of the OpenAPI document lacks its cases.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from ptw_api.http.auth import mint_token
from ptw_api.http.query_routes import query_handlers
from ptw_api.http.settings import ApiSettings
from ptw_api.http.sync_routes import sync_handlers
from ptw_domain.isolation import commands as ic
from tests.api.http.conftest import Caller
from tests.api.http.endpoint_suite import (  # noqa: F401  (fixtures, known to pytest by their names)
    ALL_BACKENDS,
    Coverage,
    calls_what_it_covers,
    patient_api_settings,
    sqlite_by_default,
)
from tests.builders import START, World, lock_exception

PROJECT_PREFIX = "/projects/{project_id:uuid}"
PATHS = {
    handler.operation_id: next(iter(handler.paths))
    for handler in (*query_handlers(), *sync_handlers())
    if "GET" in handler.http_methods
}
HEALTH = {"liveness": "/health/live", "readinessProbe": "/health/ready"}
COVERAGE = Coverage({*PATHS, *HEALTH}, ("answered", "refused"))
covers, COVERED, CALLED = COVERAGE.covers, COVERAGE.covered, COVERAGE.called


class Reader:
    """One person reading by operation id, after everything recorded so far (RM-08)."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def get(self, operation: str, params: dict[str, Any] | None = None, **ids: Any) -> Any:
        path = PATHS[operation].removeprefix(PROJECT_PREFIX)
        path = re.sub(r"\{([a-z_]+):uuid\}", lambda found: str(ids.pop(found.group(1))), path)
        assert not ids, f"{operation} does not take {sorted(ids)}"
        CALLED.add(operation)
        head = self.caller.client.app.state.runtime.head()
        return self.caller.get(path, params=params, headers={"X-PTW-Min-Position": str(head)})

    def answer(self, operation: str, params: dict[str, Any] | None = None, **ids: Any) -> dict[str, Any]:
        response = self.get(operation, params, **ids)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        return body

    def refused(
        self, operation: str, params: dict[str, Any] | None, status: int, code: str, *rules: str, **ids: Any
    ) -> dict[str, Any]:
        response = self.get(operation, params, **ids)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem: dict[str, Any] = response.json()
        assert (problem["code"], problem["type"]) == (code, f"urn:ptw:problem:{code}")
        assert set(rules) <= set(problem.get("rule_ids", [])), problem
        return problem


@pytest.fixture
def reader(as_person: Callable[..., Caller]) -> Callable[[str], Reader]:
    return lambda who: Reader(as_person(who))


@pytest.fixture
def stranger(client: TestClient[Any], site: World, api_settings: ApiSettings) -> Reader:
    """A valid token that names no project (not a member of the site's project)."""
    token = mint_token(api_settings, subject="stranger", projects={}, organisation=site.organisation_id)
    return Reader(Caller(client, site, token, site.project_id))


def electrical_active(site: World) -> uuid.UUID:
    site.publish_template({"key": "electrical", "category": "electrical"})
    return site.active(template="electrical")


def conflicting(site: World) -> tuple[uuid.UUID, uuid.UUID]:
    """SIM-06: a newer hot-work permit under review in the area of an older confined-space one."""
    site.publish_template({"key": "tank", "category": "confined_space"})
    older = site.submitted(template="tank", area="U100")
    site.clock.advance(timedelta(minutes=5))
    return older, site.under_review(area="U100")


# --- permits ---------------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("listPermits", "answered")
def test_RM_01_the_list_filters_by_status_and_pages(site: World, reader: Callable[[str], Reader]) -> None:
    approved = site.approved()
    site.draft()
    page = reader("req").answer("listPermits", {"status": "approved", "page_size": 10})
    assert [item["id"] for item in page["items"]] == [str(approved)]
    assert (page["total"], page["page"], page["page_size"]) == (1, 1, 10)
    everything = reader("req").answer("listPermits", {"sort": "number"})
    assert [item["number"] for item in everything["items"]] == ["NORTH-2026-00001", "NORTH-2026-00002"]


@covers("listPermits", "refused")
def test_SEC_12_an_unknown_list_parameter_is_refused_naming_it(reader: Callable[[str], Reader]) -> None:
    problem = reader("req").refused("listPermits", {"colour": "red"}, 422, "validation_failed", "SEC-12")
    assert problem["fields"] == ["colour"]


def test_RDY_01_the_list_filters_on_readiness_and_shows_its_summary(
    site: World, reader: Callable[[str], Reader]
) -> None:
    waiting = site.draft()  # LIFE-08: no verifier nominated yet
    ready = site.submitted()
    listed = reader("req").answer("listPermits", {"ready_for": "verify"})["items"]
    assert [item["id"] for item in listed] == [str(ready)]
    [blocked] = reader("req").answer("listPermits", {"blocked": "true", "blocked_by": "LIFE-08"})["items"]
    assert blocked["id"] == str(waiting)
    summary = blocked["readiness"]
    assert (summary["current"], summary["next_action"], summary["allowed"]) == (True, "submit", False)
    assert (summary["blockers"], summary["blocker_count"]) == (["LIFE-08"], 1)


@pytest.mark.parametrize(("parameter", "value"), [("ready_for", "launch"), ("blocked_by", "NOPE-01")])
def test_RDY_02_an_unknown_readiness_filter_value_is_refused_naming_it(
    reader: Callable[[str], Reader], parameter: str, value: str
) -> None:
    problem = reader("req").refused("listPermits", {parameter: value}, 422, "validation_failed")
    assert problem["fields"] == [parameter]


@ALL_BACKENDS
@covers("getPermit", "answered")
def test_RM_06_the_detail_shows_status_signatures_and_chain_head(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.approved()
    detail = reader("ver").answer("getPermit", permit_id=pid)
    assert (detail["id"], detail["status"], detail["version"]) == (
        str(pid),
        "approved",
        site.permit(pid).version,
    )
    signed = [(view["signature"]["point"], view["status"]) for view in detail["signatures"]]
    assert [point for point, _ in signed] == ["requestor", "verifier", "approver"]
    assert detail["core_hash"] == site.permit(pid).core_hash
    assert len(detail["chain_head"]) == 64


@covers("getPermit", "refused")
def test_TEN_02_a_permit_of_another_project_reads_as_missing(
    site: World, reader: Callable[[str], Reader]
) -> None:
    foreign = World.create(site.service, site.clock, code="SOUTH").draft()
    missing = reader("req").refused("getPermit", None, 404, "not_found", permit_id=uuid.uuid4())
    other = reader("req").refused("getPermit", None, 404, "not_found", permit_id=foreign)
    same = {"status", "code", "title", "type"}
    assert {k: other[k] for k in same} == {k: missing[k] for k in same}
    assert set(other) & {"current_status", "current_version", "blockers"} == set()


@covers("getPermitAt", "answered")
def test_BRD_02_the_permit_as_it_was_at_a_version_and_at_an_instant(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.draft()
    site.clock.advance(timedelta(minutes=10))
    site.nominate_and_submit(pid)
    req = reader("req")
    assert req.answer("getPermitAt", {"version": 1}, permit_id=pid)["status"] == "draft"
    at = (START + timedelta(minutes=5)).isoformat()
    assert req.answer("getPermitAt", {"at": at}, permit_id=pid)["status"] == "draft"
    assert (
        req.answer("getPermitAt", {"at": site.clock.now().isoformat()}, permit_id=pid)["status"]
        == "submitted"
    )


@covers("getPermitAt", "refused")
def test_BRD_02_exactly_one_of_version_and_at_is_given(site: World, reader: Callable[[str], Reader]) -> None:
    pid = site.draft()
    params = {"version": 1, "at": START.isoformat()}
    problem = reader("req").refused("getPermitAt", params, 422, "validation_failed", "SEC-12", permit_id=pid)
    assert problem["fields"] == ["version"]


@covers("getReadiness", "answered")
def test_RDY_05_readiness_for_the_caller_judges_their_own_guards(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.under_review()
    mine = reader("app").answer("getReadiness", {"as_me": "true"}, permit_id=pid)
    assert mine["actions"]["approve"]["allowed"] is True
    theirs = reader("ver").answer("getReadiness", {"as_me": "true"}, permit_id=pid)
    assert theirs["actions"]["approve"]["allowed"] is False
    assert {b["rule"] for b in theirs["actions"]["approve"]["blockers"]} == {"ROLE-04", "SOD-01"}


@covers("getReadiness", "refused")
def test_SEC_12_a_malformed_readiness_parameter_is_refused(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.draft()
    problem = reader("req").refused(
        "getReadiness", {"version": "seven"}, 422, "validation_failed", permit_id=pid
    )
    assert "version" in problem["fields"]


@covers("myTasks", "answered")
def test_RM_09_the_nominated_verifier_finds_the_verification_task(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.submitted()
    tasks = reader("ver").answer("myTasks")
    assert [(t["kind"], t["permit_id"]) for t in tasks["items"]] == [("verify", str(pid))]
    assert reader("app").answer("myTasks")["items"] == []


@covers("myTasks", "refused")
def test_TEN_02_a_caller_who_is_not_a_member_finds_no_project(stranger: Reader) -> None:
    problem = stranger.refused("myTasks", None, 404, "not_found")
    assert "rule_ids" not in problem or problem["rule_ids"] == []


# --- registers -------------------------------------------------------------------------------------------------


@covers("isolationRegister", "answered")
def test_RM_10_the_isolation_register_lists_the_permits_isolation(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = electrical_active(site)
    [item] = reader("iso").answer("isolationRegister", {"permit": str(pid)})["items"]
    assert (item["status"], item["in_place"], item["held_by_permit"]) == ("verified", True, True)
    assert [p["id"] for p in item["linked_permits"]] == [str(pid)]


@covers("isolationRegister", "refused")
def test_SEC_12_an_unknown_isolation_state_is_refused_naming_it(reader: Callable[[str], Reader]) -> None:
    problem = reader("iso").refused("isolationRegister", {"state": "floating"}, 422, "validation_failed")
    assert problem["fields"] == ["state"]


@covers("lockRegister", "answered")
def test_RM_10_the_lock_register_lists_personal_locks(site: World, reader: Callable[[str], Reader]) -> None:
    pid = electrical_active(site)
    site.run(
        ic.ApplyPersonalLock(
            actor=site.actor("crew1"), permit_id=pid, lock_id="P-7", worker_id=site.workers["crew1"]
        )
    )
    [lock] = reader("iso").answer("lockRegister", {"worker": str(site.workers["crew1"])})["items"]
    assert (lock["lock_id"], lock["permit"]["id"], lock["person_id"]) == ("P-7", str(pid), "crew1")


@covers("lockRegister", "refused")
def test_SEC_12_a_malformed_worker_id_is_refused(reader: Callable[[str], Reader]) -> None:
    problem = reader("iso").refused("lockRegister", {"worker": "not-a-uuid"}, 422, "validation_failed")
    assert "worker" in problem["fields"]


@covers("conflictRegister", "answered")
def test_RM_10_the_conflict_register_lists_the_open_conflict(
    site: World, reader: Callable[[str], Reader]
) -> None:
    older, newer = conflicting(site)
    [item] = reader("area").answer("conflictRegister", {"severity": "high"})["items"]
    assert (item["severity"], item["state"]) == ("high", "open")
    assert {item["older"]["id"], item["newer"]["id"]} == {str(older), str(newer)}


@covers("conflictRegister", "refused")
def test_SEC_12_an_unknown_conflict_state_is_refused(reader: Callable[[str], Reader]) -> None:
    problem = reader("area").refused("conflictRegister", {"state": "maybe"}, 422, "validation_failed")
    assert problem["fields"] == ["state"]


# --- reports ---------------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("getKpis", "answered")
def test_KPI_01_status_counts_at_as_of(site: World, reader: Callable[[str], Reader]) -> None:
    site.active()
    site.draft()
    report = reader("app").answer("getKpis", {"expiring_soon_hours": 2})
    assert report["counts"]["by_status"]["active"] == 1
    assert report["counts"]["by_status"]["draft"] == 1
    assert (report["counts"]["total"], report["thresholds"]["expiring_soon_hours"]) == (2, 2)


@covers("getKpis", "refused")
def test_TIME_05_an_as_of_without_an_offset_is_refused(reader: Callable[[str], Reader]) -> None:
    problem = reader("app").refused("getKpis", {"as_of": "2026-11-25T08:00:00"}, 422, "validation_failed")
    assert problem["fields"] == ["as_of"]


@covers("getComplianceSummary", "answered")
def test_RPT_02_an_approver_reads_the_compliance_summary(
    site: World, reader: Callable[[str], Reader]
) -> None:
    site.approved()
    summary = reader("app").answer(
        "getComplianceSummary", {"date_from": "2026-11-25", "date_to": "2026-11-25"}
    )
    assert (summary["window"]["date_from"], summary["window"]["date_to"]) == ("2026-11-25", "2026-11-25")
    assert (summary["permits_in_window"], summary["counts"]["by_status"]["approved"]) == (1, 1)


@covers("getComplianceSummary", "refused")
def test_SEC_04_a_requestor_does_not_read_compliance_reports(reader: Callable[[str], Reader]) -> None:
    reader("req").refused("getComplianceSummary", None, 403, "forbidden", "SEC-04")


@covers("getComplianceExceptions", "answered")
def test_RPT_03_the_exceptions_list_a_lock_removed_by_exception(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = electrical_active(site)
    site.run(
        ic.ApplyPersonalLock(
            actor=site.actor("crew1"), permit_id=pid, lock_id="P-1", worker_id=site.workers["crew1"]
        )
    )
    site.run(lock_exception(site, pid))
    report = reader("safe").answer("getComplianceExceptions", {"exceptions_cap": 5})
    removals = report["lock_removals_by_exception"]
    assert (removals["total"], removals["truncated"], report["thresholds"]["exceptions_cap"]) == (1, False, 5)
    assert removals["items"][0]["permit_id"] == str(pid)


@covers("getComplianceExceptions", "refused")
def test_SEC_04_a_verifier_does_not_read_compliance_exceptions(reader: Callable[[str], Reader]) -> None:
    reader("ver").refused("getComplianceExceptions", None, 403, "forbidden", "SEC-04")


# --- audit -----------------------------------------------------------------------------------------------------


@ALL_BACKENDS
@covers("getAuditTrail", "answered")
def test_RM_11_an_area_authority_reads_a_permits_audit_trail(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.submitted()
    page = reader("area").answer("getAuditTrail", {"permit": str(pid)})
    assert [e["type"] for e in page["items"]] == ["PermitDrafted", "VerifierNominated", "PermitSubmitted"]
    submitted = next(e for e in page["items"] if e["type"] == "PermitSubmitted")
    assert (submitted["actor_id"], submitted["stream_id"], len(submitted["hash"])) == ("req", str(pid), 64)


@covers("getAuditTrail", "refused")
def test_SEC_04_a_requestor_does_not_read_the_audit_trail(reader: Callable[[str], Reader]) -> None:
    reader("req").refused("getAuditTrail", None, 403, "forbidden", "SEC-04")


@covers("verifyChain", "answered")
def test_AUD_04_the_chains_of_a_permit_and_its_isolation_verify(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = electrical_active(site)
    report = reader("safe").answer("verifyChain", {"permit": str(pid)})
    assert report["ok"] is True
    assert [s["stream_id"] for s in report["streams"]] == [str(s) for s in site.service.permit_streams(pid)]
    assert reader("admin").answer("verifyChain")["ok"] is True


@covers("verifyChain", "refused")
def test_TEN_02_verifying_a_permit_of_another_project_is_not_found(
    site: World, reader: Callable[[str], Reader]
) -> None:
    foreign = World.create(site.service, site.clock, code="SOUTH").draft()
    problem = reader("safe").refused("verifyChain", {"permit": str(foreign)}, 404, "not_found")
    assert problem["fields"] == ["permit"]


# --- board -----------------------------------------------------------------------------------------------------


@covers("getBoardAt", "answered")
def test_BRD_01_the_board_shows_what_was_live_at_an_instant(
    site: World, reader: Callable[[str], Reader]
) -> None:
    pid = site.active()
    req = reader("req")
    board = req.answer("getBoardAt")
    assert [(p["id"], p["effective_status"]) for p in board["permits"]] == [(str(pid), "active")]
    drafted = req.answer("getBoardAt", {"at": START.isoformat()})
    assert [(p["id"], p["effective_status"]) for p in drafted["permits"]] == [(str(pid), "approved")]
    before = req.answer("getBoardAt", {"at": (START - timedelta(minutes=1)).isoformat()})
    assert before["permits"] == [] and before["at"].startswith("2026-11-25T07:59:00")


@covers("getBoardAt", "refused")
def test_SEC_12_a_malformed_board_instant_is_refused_naming_it(reader: Callable[[str], Reader]) -> None:
    problem = reader("req").refused("getBoardAt", {"at": "yesterday"}, 422, "validation_failed")
    assert problem["fields"] == ["at"]


# --- offline sync ---------------------------------------------------------------------------------------------


def synced_submit_without_verifier(site: World, reader: Reader) -> uuid.UUID:
    """An offline SubmitPermit of a draft that has no verifier: refused by a guard at sync time (SYNC-07)."""
    pid = site.draft()
    stamp = site.clock.now().isoformat()
    command = {
        "client_command_id": "c-1",
        "command": "SubmitPermit",
        "target": str(pid),
        "based_on_version": site.permit(pid).version,
        "device_time": stamp,
        "payload": {"signature": {"core_hash": site.permit(pid).core_hash, "reauthenticated_at": stamp}},
    }
    batch = {"device_id": "tablet-7", "batch_id": "b-1", "sent_at": stamp, "commands": [command]}
    response = reader.caller.post("/sync", json=batch)
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["conflict"] == 1
    return pid


@covers("getSyncReviewList", "answered")
def test_SYNC_07_a_permit_whose_offline_command_failed_a_guard_is_on_the_review_list(
    site: World, reader: Callable[[str], Reader]
) -> None:
    req = reader("req")
    pid = synced_submit_without_verifier(site, req)
    [entry] = req.answer("getSyncReviewList")["items"]
    assert (entry["permit_id"], entry["command"], entry["device_id"]) == (
        str(pid),
        "SubmitPermit",
        "tablet-7",
    )
    assert "LIFE-08" in {b["rule"] for b in entry["blockers"]}


@covers("getSyncReviewList", "refused")
def test_SEC_12_the_review_list_takes_no_parameters(reader: Callable[[str], Reader]) -> None:
    problem = reader("req").refused("getSyncReviewList", {"page": 2}, 422, "validation_failed", "SEC-12")
    assert problem["fields"] == ["page"]


@covers("getSyncHealth", "answered")
def test_SYNC_12_sync_health_counts_the_outcomes_and_devices(
    site: World, reader: Callable[[str], Reader]
) -> None:
    req = reader("req")
    synced_submit_without_verifier(site, req)
    health = req.answer("getSyncHealth")
    assert (health["project_id"], health["devices"], health["applied"]) == (str(site.project_id), 1, 0)
    assert health["conflicts"] + health["rejected"] == 1


@covers("getSyncHealth", "refused")
def test_TEN_02_sync_health_of_a_project_the_caller_is_not_in_is_not_found(stranger: Reader) -> None:
    stranger.refused("getSyncHealth", None, 404, "not_found")


# --- operations ------------------------------------------------------------------------------------------------


def probe(client: TestClient[Any], operation: str, **params: Any) -> Any:
    CALLED.add(operation)
    return client.get(HEALTH[operation], params=params)


@covers("liveness", "answered")
def test_liveness_answers_without_a_token(client: TestClient[Any]) -> None:
    response = probe(client, "liveness")
    assert (response.status_code, response.json()) == (200, {"ok": True, "checks": []})


@covers("readinessProbe", "answered")
def test_readiness_answers_without_a_token_once_the_projections_caught_up(
    site: World, client: TestClient[Any]
) -> None:
    response = probe(client, "readinessProbe", max_lag=10_000)
    assert response.status_code == 200, response.text
    assert {"store", "read_database"} <= {check["name"] for check in response.json()["checks"]}


# --- every project read ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(PATHS))
def test_SEC_01_every_project_read_needs_a_bearer_token(
    operation: str, site: World, client: TestClient[Any]
) -> None:
    path = PATHS[operation].replace("{project_id:uuid}", str(site.project_id))
    path = re.sub(r"\{[a-z_]+:uuid\}", str(uuid.uuid4()), path)
    response = client.get("/api/v1" + path)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"


def test_issue_5_every_get_operation_has_an_answered_and_a_refused_test(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    gets = {item["get"]["operationId"] for item in document["paths"].values() if "get" in item}
    assert set(PATHS) <= gets
    assert sorted(gets - COVERED["answered"]) == []
    assert sorted(set(PATHS) - COVERED["refused"]) == []  # the health probes have nothing to refuse
    assert set(HEALTH) == gets - set(PATHS)
