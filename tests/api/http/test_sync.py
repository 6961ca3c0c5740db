# ruff: noqa: N802
"""Offline sync over HTTP: `POST /projects/{p}/sync` and the ledger reads (SYNC-01..13, SEC-04/06/11/12).

Given the site (tests/api/http/conftest.py) and a device that worked offline, When it posts its batch, Then the
answer lists each command's outcome in order with totals, and the store holds exactly what the rules allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.settings import ApiSettings
from ptw_domain.clock import ManualClock
from ptw_domain.roles import Role
from tests.api.http.conftest import Caller, token_for
from tests.builders import World, edit, nominate

DEVICE = "tablet-7"


def offline(
    ccid: str,
    name: str,
    payload: dict[str, Any],
    at: Any,
    *,
    target: Any = None,
    base: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One offline command as a device sends it."""
    body: dict[str, Any] = {
        "client_command_id": ccid,
        "command": name,
        "device_time": at.isoformat(),
        "payload": payload,
    }
    if target is not None:
        body["target"] = str(target)
    if base is not None:
        body["based_on_version"] = base
    return body | extra


def batch(site: World, *commands: dict[str, Any], batch_id: str = "b-1") -> dict[str, Any]:
    return {
        "device_id": DEVICE,
        "batch_id": batch_id,
        "sent_at": site.clock.now().isoformat(),
        "commands": list(commands),
    }


def post(caller: Caller, body: Any) -> Any:
    return caller.post("/sync", json=body)


def results(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]  # type: ignore[no-any-return]


def head(client: TestClient[Any]) -> int:
    return client.app.state.runtime.service.store.head_position()  # type: ignore[no-any-return]


def new_permit(site: World) -> dict[str, Any]:
    start = site.clock.now().replace(microsecond=0) + timedelta(hours=1)
    return {
        "template_key": "hot-work",
        "content": {
            "description": "Weld a bracket",
            "area": "A1",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=6)).isoformat(),
            "probability": 2,
            "severity": 3,
            "hazards": ["hot work"],
            "controls": ["fire extinguisher"],
            "ppe": ["welding gloves"],
            "checklist_answers": {"combustibles_removed": True, "extinguisher": True},
        },
    }


def test_SYNC_03_a_batch_sent_twice_gives_the_same_outcomes_and_appends_nothing(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    pid = site.draft()
    now = site.clock.now()
    body = batch(
        site,
        offline("c1", "EditPermit", {"changes": {"title": "Offline"}}, now, target=pid, base=1),
        offline("c2", "CreatePermit", new_permit(site), now, target="tmp:a"),
        offline("c3", "EditPermit", {"changes": {"notes": "x"}}, now, target=uuid.uuid4(), base=1),
    )
    req = as_person("req")
    first = post(req, body)
    before = head(client)
    second = post(req, body)
    assert head(client) == before
    assert first.headers["X-PTW-Position"] == str(before)
    once, twice = results(first), results(second)
    assert [r["outcome"] for r in once] == ["applied", "applied", "rejected"]
    assert [{**r, "replayed": False} for r in twice] == once
    assert all(r["replayed"] for r in twice)
    assert second.json()["totals"] == {"applied": 2, "conflict": 0, "rejected": 1, "replayed": 3}
    assert (
        twice[1]["created"]["permit_id"] == once[1]["created"]["permit_id"]
    )  # the same permit, not a second


def test_SYNC_05_06_a_stale_command_conflicts_with_per_field_hints(site: World, as_person: Any) -> None:
    pid = site.draft()
    site.run(edit(site, pid, description="Server text", ppe=("helmet",)))
    changes = {"description": "Device text", "ppe": ["gloves"], "title": "t"}
    body = batch(
        site, offline("c1", "EditPermit", {"changes": changes}, site.clock.now(), target=pid, base=1)
    )
    (result,) = results(post(as_person("req"), body))
    assert (result["outcome"], result["reason"], result["replayed"]) == ("conflict", "stale_version", False)
    assert {f["field"]: (f["device"], f["server"], f["hint"]) for f in result["fields"]} == {
        "description": ("Device text", "Server text", "choose"),
        "ppe": (["gloves"], ["helmet"], "union"),
    }
    assert result["server_state"] == {
        "kind": "permit",
        "id": str(pid),
        "status": "draft",
        "version": 2,
        "number": "NORTH-2026-00001",
        "core_hash": site.permit(pid).core_hash,
    }
    assert site.permit(pid).content.title == ""  # nothing merged


def test_SYNC_04_a_permit_created_by_temporary_reference_is_submitted_in_the_same_batch(
    site: World, as_person: Any
) -> None:
    now = site.clock.now()
    verifier = msgspec.to_builtins(site.people["ver"])
    signature = {"core_hash": "tmp", "reauthenticated_at": now.isoformat(), "method": "pin"}
    body = batch(
        site,
        offline("c1", "CreatePermit", new_permit(site), now, target="tmp:weld"),
        offline("c2", "NominateVerifier", {"verifier": verifier}, now, target="tmp:weld"),
        offline("c3", "SubmitPermit", {"signature": signature}, now, target="tmp:weld"),
    )
    answer = post(as_person("req"), body)
    created, nominated, submitted = results(answer)
    assert [r["outcome"] for r in (created, nominated, submitted)] == ["applied"] * 3
    assert (created["ref"], created["permit_number"]) == ("tmp:weld", "NORTH-2026-00001")
    pid = uuid.UUID(created["created"]["permit_id"])
    assert site.permit(pid).status == "submitted"
    assert submitted["version"] == site.permit(pid).version
    assert answer.json()["totals"] == {"applied": 3, "conflict": 0, "rejected": 0, "replayed": 0}


def test_SYNC_04_a_command_on_a_failed_temporary_reference_is_rejected_dependency_failed(
    site: World, as_person: Any
) -> None:
    now = site.clock.now()
    bad = new_permit(site) | {"template_key": "no-such-template"}
    body = batch(
        site,
        offline("c1", "CreatePermit", bad, now, target="tmp:a"),
        offline("c2", "WithdrawPermit", {"reason": "x"}, now, target="tmp:a"),
        offline("c3", "CreatePermit", new_permit(site), now, target="tmp:b"),
    )
    outcomes = [(r["outcome"], r["reason"]) for r in results(post(as_person("req"), body))]
    assert outcomes == [("rejected", "not_found"), ("rejected", "dependency_failed"), ("applied", None)]


def test_SYNC_02_clock_skew_and_too_old_device_times_are_rejected(site: World, as_person: Any) -> None:
    pid = site.draft()
    now = site.clock.now()
    body = batch(
        site,
        offline(
            "c1", "EditPermit", {"changes": {"title": "a"}}, now + timedelta(minutes=10), target=pid, base=1
        ),
        offline(
            "c2", "EditPermit", {"changes": {"title": "b"}}, now - timedelta(hours=73), target=pid, base=1
        ),
    )
    told = [(r["outcome"], r["reason"], r["rule_ids"]) for r in results(post(as_person("req"), body))]
    assert told == [("rejected", "clock_skew", ["SYNC-02", "TIME-02"]), ("rejected", "too_old", ["SYNC-02"])]
    assert site.permit(pid).version == 1


def test_SYNC_09_foreign_ids_are_rejected_not_found_like_unknown_ones(site: World, as_person: Any) -> None:
    south = World.create(site.service, site.clock, code="SOUTH")
    foreign = south.draft()
    now = site.clock.now()
    body = batch(
        site,
        offline("c1", "CancelPermit", {"reason": "x"}, now, target=foreign, base=1),
        offline("c2", "CancelPermit", {"reason": "x"}, now, target=uuid.uuid4(), base=1),
    )
    answer = post(as_person("req"), body)
    varying = {"client_command_id", "target"}
    told = [{k: v for k, v in r.items() if k not in varying} for r in results(answer)]
    assert told[0] == told[1]
    assert (told[0]["reason"], told[0]["server_state"]) == ("not_found", None)
    assert "SOUTH" not in answer.text and south.permit(foreign).status == "draft"


def test_SYNC_07_12_RM_08_the_review_list_and_health_reflect_the_batch_at_once(
    site: World, as_person: Any
) -> None:
    """Read from the sync ledger read model, after the projection has passed the batch (RM-08)."""
    pid = site.draft()
    now = site.clock.now()
    signature = {"core_hash": site.permit(pid).core_hash, "reauthenticated_at": now.isoformat()}
    req = as_person("req")
    body = batch(
        site,
        offline("c1", "SubmitPermit", {"signature": signature}, now, target=pid, base=1),  # no verifier yet
        offline("c2", "EditPermit", {"changes": {"title": "t"}}, now, target=pid),  # no base version
    )
    answer = post(req, body)
    first, second = results(answer)
    assert (first["reason"], first["needs_review"]) == ("guard_failed", True)
    assert [b["code"] for b in first["blockers"]] == ["verifier_not_nominated"]
    assert second["reason"] == "missing_base_version"
    written = int(answer.headers["X-PTW-Position"])
    review = req.get("/sync/review")
    assert review.status_code == 200, review.text
    assert [(i["permit_id"], i["client_command_id"]) for i in review.json()["items"]] == [(str(pid), "c1")]
    assert review.json()["as_of_position"] >= written
    health = req.get("/sync/health").json()
    assert (health["applied"], health["conflicts"], health["rejected"]) == (0, 2, 0)
    assert health["reasons"] == {"guard_failed": 1, "missing_base_version": 1}
    assert health["as_of_position"] >= written
    assert req.get("/sync/health", params={"window": "1"}).status_code == 422  # SEC-12


def test_SYNC_07_RM_01_RM_05_the_permit_list_filters_and_shows_needs_review_until_an_offline_command_applies(
    site: World, as_person: Any
) -> None:
    pid = site.draft()
    calm = site.draft()
    now = site.clock.now()
    signature = {"core_hash": site.permit(pid).core_hash, "reauthenticated_at": now.isoformat()}
    req = as_person("req")
    results(
        post(
            req, batch(site, offline("c1", "SubmitPermit", {"signature": signature}, now, target=pid, base=1))
        )
    )

    def listed(**params: Any) -> dict[str, bool]:
        page = req.get("/permits", params=params)
        assert page.status_code == 200, page.text
        return {i["id"]: i["needs_review"] for i in page.json()["items"]}

    assert listed() == {str(pid): True, str(calm): False}
    assert listed(needs_review="true") == {str(pid): True}
    assert listed(needs_review="false") == {str(calm): False}
    assert req.get("/permits", params={"needs_review": "maybe"}).status_code == 422  # SEC-12
    edited = offline("c2", "EditPermit", {"changes": {"title": "t"}}, now, target=pid, base=1)
    assert [r["outcome"] for r in results(post(req, batch(site, edited, batch_id="b-2")))] == ["applied"]
    assert listed(needs_review="true") == {}
    assert req.get("/sync/review").json()["items"] == []


def test_SYNC_02_TEN_06_too_old_follows_the_projects_offline_max_age_hours(
    site: World, as_person: Any
) -> None:
    pid = site.draft()
    made = site.clock.now()
    site.clock.advance(timedelta(hours=30))
    edited = offline("c1", "EditPermit", {"changes": {"title": "a"}}, made, target=pid, base=1)
    assert [r["outcome"] for r in results(post(as_person("req"), batch(site, edited)))] == ["applied"]
    site.change_settings(offline_max_age_hours=24)
    again = offline("c2", "EditPermit", {"changes": {"title": "b"}}, made, target=pid, base=2)
    [told] = results(post(as_person("req"), batch(site, again, batch_id="b-2")))
    assert (told["outcome"], told["reason"], told["detail"]) == (
        "rejected",
        "too_old",
        "device_time is more than 24 hours old",
    )


def test_SEC_11_a_batch_over_2_MiB_is_refused_413(site: World, as_person: Any) -> None:
    pid = site.draft()
    now = site.clock.now()
    notes = "n" * 1_900
    commands = [
        offline(f"c{i}", "EditPermit", {"changes": {"notes": notes}}, now, target=pid, base=1)
        for i in range(1_200)
    ]
    answer = post(as_person("req"), batch(site, *commands))
    assert answer.status_code == 413, answer.text[:200]
    assert answer.json()["code"] == "payload_too_large"
    assert site.permit(pid).version == 1


def test_SEC_11_a_batch_between_1_and_2_MiB_is_read(site: World, as_person: Any) -> None:
    """The sync route's own limit (2 MiB) replaces the API's 1 MiB for it."""
    pid = site.draft()
    now = site.clock.now()
    hazards = [f"{n:03d}" + "h" * 1_900 for n in range(100)]  # SEC-11: 100 hazards of up to 2,000 characters
    commands = [
        offline(f"c{i}", "EditPermit", {"changes": {"hazards": hazards[i:]}}, now, target=pid, base=i + 1)
        for i in range(7)
    ]
    body = batch(site, *commands)
    assert 1024 * 1024 < len(msgspec.json.encode(body)) < 2 * 1024 * 1024
    answer = post(as_person("req"), body)
    assert answer.json()["totals"]["applied"] == 7
    assert site.permit(pid).version == 8


def test_SYNC_01_a_batch_of_201_commands_is_refused_422(site: World, as_person: Any) -> None:
    pid = site.draft()
    now = site.clock.now()
    commands = [offline(f"c{i}", "EditPermit", {"changes": {}}, now, target=pid, base=1) for i in range(201)]
    answer = post(as_person("req"), batch(site, *commands))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_failed"
    assert site.permit(pid).version == 1


def test_SEC_12_a_derived_field_in_a_payload_rejects_that_command_only(site: World, as_person: Any) -> None:
    pid = site.draft()
    now = site.clock.now()
    body = batch(
        site,
        offline(
            "c1", "EditPermit", {"changes": {"title": "x"}, "expected_version": 1}, now, target=pid, base=1
        ),
        offline("c2", "ApproveEverything", {}, now, target=pid, base=1),
        offline("c3", "EditPermit", {"changes": {"title": "kept"}}, now, target=pid, base=1),
    )
    first, second, third = results(post(as_person("req"), body))
    assert (first["outcome"], first["reason"], first["invalid_fields"]) == (
        "rejected",
        "validation_failed",
        ["payload.expected_version"],
    )
    assert (second["reason"], second["invalid_fields"]) == ("validation_failed", ["command"])
    assert third["outcome"] == "applied" and site.permit(pid).content.title == "kept"
    unknown_field = batch(site) | {"priority": "high"}
    refused = post(as_person("req"), unknown_field)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    lenient = offline("c4", "EditPermit", {"changes": {"title": "y"}}, now, target=pid) | {
        "based_on_version": "2"
    }
    refused = post(as_person("req"), batch(site, lenient))
    assert (refused.status_code, refused.json()["fields"]) == (422, ["commands[0].based_on_version"])
    wrong_type = offline("c5", "EditPermit", {"changes": {"title": 5}}, now, target=pid, base=2)
    (typed,) = results(post(as_person("req"), batch(site, wrong_type)))
    assert (typed["reason"], typed["invalid_fields"]) == ("validation_failed", ["payload.changes.title"])


def test_SEC_04_auditors_may_not_sync(site: World, as_person: Any) -> None:
    site.add_person("aud", Role.AUDITOR)
    answer = post(as_person("aud"), batch(site))
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    assert post(as_person("req"), batch(site)).status_code == 200


def test_SYNC_11_an_offline_signature_is_judged_at_its_device_time(site: World, as_person: Any) -> None:
    pid = site.draft()
    site.run(nominate(site, pid))
    signed_at = site.clock.now()
    site.clock.advance(timedelta(hours=2))
    pin = {
        "core_hash": site.permit(pid).core_hash,
        "reauthenticated_at": (signed_at - timedelta(minutes=1)).isoformat(),
    }
    body = batch(site, offline("c1", "SubmitPermit", {"signature": pin}, signed_at, target=pid, base=2))
    (result,) = results(post(as_person("req"), body))
    assert result["outcome"] == "applied", result
    assert site.permit(pid).status == "submitted"


def test_SYNC_the_operation_is_documented_with_its_rules(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    operation = document["paths"]["/api/v1/projects/{project_id}/sync"]["post"]
    assert operation["operationId"] == "syncOfflineBatch"
    assert "SYNC-03" in operation["description"] and "SEC-04" in operation["description"]


@pytest.fixture
def limited(api_settings: ApiSettings, clock: ManualClock) -> Iterator[TestClient[Any]]:
    settings = msgspec.structs.replace(api_settings, rate_limits_enabled=True)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def test_SEC_06_sync_is_limited_to_60_batches_a_minute_per_user(
    limited: TestClient[Any], api_settings: ApiSettings, clock: ManualClock
) -> None:
    site = World.create(limited.app.state.runtime.service, clock)
    caller = Caller(limited, site, token_for(api_settings, site, "req"), site.project_id)
    answers = [post(caller, batch(site, batch_id=f"b-{i}")).status_code for i in range(61)]
    assert answers[:60] == [200] * 60
    assert answers[60] == 429
    assert caller.get("/sync/health").status_code == 200  # reads have their own budget
