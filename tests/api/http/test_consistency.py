"""Issue 5: what a client can rely on between its writes and its reads, on every backend.

RM-08 read-your-writes (the command's `position`, `X-PTW-Position`, `X-PTW-Min-Position`, 503 `not_caught_up`),
SEC-09 `Idempotency-Key`, SEC-10 `If-Match`/`ETag`, the correlation id recorded on the events (AUD-01, SEC-13)
and TIME-01: the server's clock, never the body, dates an event.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from ptw_api.http.app import create_app
from ptw_api.http.auth import mint_token
from ptw_api.http.settings import ApiSettings
from ptw_domain.roles import Role
from tests.api.http.conftest import SECRET, Caller, grant_of, token_for
from tests.builders import World

SHORT_WAIT = 0.3  # seconds a read waits for the projections in the not-caught-up test


def content(site: World, **overrides: Any) -> dict[str, Any]:
    start = site.clock.now() + timedelta(hours=1)
    return {
        "description": "Weld a bracket on pipe rack 3",
        "area": "A1",
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=8)).isoformat(),
        "probability": 2,
        "severity": 3,
        **overrides,
    }


def draft(site: World, caller: Caller, headers: dict[str, str] | None = None) -> Any:
    return caller.post(
        "/permits", json={"template_key": "hot-work", "content": content(site)}, headers=headers
    )


def drafted(site: World, caller: Caller) -> str:
    answer = draft(site, caller)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["stream_id"])


def edit(caller: Caller, pid: str, headers: dict[str, str] | None = None, **changes: Any) -> Any:
    return caller.post(f"/permits/{pid}/edit", json={"changes": changes}, headers=headers)


def head(client: TestClient[Any]) -> int:
    """The store's last position: what a refused or replayed request must leave unchanged."""
    return int(client.app.state.runtime.head())


def versions(site: World, pid: str) -> int:
    return len(site.service.history(uuid.UUID(pid)))


# --- RM-08 read-your-writes ---------------------------------------------------------------------------------


def test_rm08_a_command_returns_its_position_and_the_writers_next_read_reflects_it(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """RM-08: the position in the body and in `X-PTW-Position` is the store's; the very next read of the detail
    and of the list by the writer shows the new version, with no waiting by the client."""
    req = as_person("req")
    created = draft(site, req)
    assert created.status_code == 201, created.text
    pid = created.json()["stream_id"]
    assert int(created.headers["X-PTW-Position"]) == created.json()["position"] == head(client)
    for version in range(2, 7):
        written = edit(req, pid, description=f"Weld bracket {version} on pipe rack 3")
        assert written.status_code == 200, written.text
        position = written.json()["position"]
        assert int(written.headers["X-PTW-Position"]) == position == head(client)
        detail = req.get(f"/permits/{pid}")
        assert detail.json()["version"] == version
        assert detail.json()["permit"]["content"]["description"] == f"Weld bracket {version} on pipe rack 3"
        assert detail.json()["as_of_position"] >= position
        page = req.get("/permits").json()
        assert [(i["id"], i["version"]) for i in page["items"]] == [(pid, version)]
        assert page["as_of_position"] >= position


def test_rm08_another_caller_gets_the_same_guarantee_by_naming_the_position(
    site: World, as_person: Any
) -> None:
    """RM-08: a different caller (or another process of the same client) passes `X-PTW-Min-Position` and its
    reads of the detail, the list and the audit trail reflect that write."""
    site.add_person("aud", Role.AUDITOR)
    req, ver, auditor = as_person("req"), as_person("ver"), as_person("aud")
    pid = drafted(site, req)
    written = edit(req, pid, hazards=["fire"])
    assert written.status_code == 200, written.text
    told = {"X-PTW-Min-Position": written.headers["X-PTW-Position"]}
    position = written.json()["position"]
    detail = ver.get(f"/permits/{pid}", headers=told)
    assert detail.status_code == 200, detail.text
    assert (detail.json()["version"], detail.json()["permit"]["content"]["hazards"]) == (2, ["fire"])
    assert detail.json()["as_of_position"] >= position
    listed = ver.get("/permits", headers=told).json()
    assert [(i["id"], i["version"]) for i in listed["items"]] == [(pid, 2)]
    trail = auditor.get("/audit-trail", params={"permit": pid}, headers=told).json()
    assert [(r["position"], r["type"]) for r in trail["items"]][-1] == (position, "PermitEdited")


def test_rm08_readiness_in_another_process_reflects_a_write_named_by_its_position(
    site: World, as_person: Any, api_settings: ApiSettings, clock: Any
) -> None:
    """RM-08 for readiness across API processes sharing one store: the other process may answer readiness from
    the streams its cache watch keeps current (ADR 0016), but never from a position before the one named;
    without a position named it catches up by itself. (In memory nothing is shared between processes.)"""
    if api_settings.database_url.startswith("memory"):
        pytest.skip("an in-memory store is not shared by processes")
    req = as_person("req")
    pid = str(site.submitted())
    with TestClient(create_app(api_settings, clock=clock)) as other:
        elsewhere = Caller(other, site, token_for(api_settings, site, "ver"), site.project_id)
        before = elsewhere.get(f"/permits/{pid}/readiness")
        assert before.json()["status"] == "submitted", before.text
        withdrawn = req.post(f"/permits/{pid}/withdraw", json={})
        assert withdrawn.status_code == 200, withdrawn.text
        told = {"X-PTW-Min-Position": withdrawn.headers["X-PTW-Position"]}
        seen = elsewhere.get(f"/permits/{pid}/readiness", headers=told).json()
        assert (seen["status"], seen["version"]) == ("draft", withdrawn.json()["version"])
        deadline = time.monotonic() + 10
        while elsewhere.get(f"/permits/{pid}/readiness").json()["version"] != seen["version"]:
            assert time.monotonic() < deadline, "the other process never caught up"
            time.sleep(0.01)


def test_concurrent_commands_are_each_recorded_once_on_consecutive_versions(
    site: World, as_person: Any
) -> None:
    """On PostgreSQL commands are decided in the event loop and appended together (ADR 0017), on the other
    stores in worker threads: either way, concurrent edits of the same permits each land once, on consecutive
    versions, each answered with a position of its own, whatever batch or second decision they went through."""
    req = as_person("req")
    pids = [drafted(site, req) for _ in range(3)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda k: edit(req, pids[k % 3], notes=f"edit {k}"), range(30)))
    assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers if a.status_code != 200]
    for pid in pids:
        history = site.service.history(uuid.UUID(pid))
        assert [e.version for e in history] == list(range(1, len(history) + 1))
        assert sum(e.type == "PermitEdited" for e in history) == 10
    assert len({a.json()["position"] for a in answers}) == 30


def without_followers(database_url: str, read_wait_seconds: float) -> ApiSettings:
    """A process that runs no projection followers: its read models never reach a new write."""
    return ApiSettings(
        database_url=database_url,
        jwt_secret=SECRET,
        rate_limits_enabled=False,
        openapi_ui=False,
        read_wait_seconds=read_wait_seconds,
        run_projections=False,
    )


class TestNotCaughtUp:
    """RM-08: a read that cannot reach the asked position within the configured wait answers 503. Here the
    serving process runs no projection followers (`run_projections=False`, as when `ptw projections run` is
    down), so the read models never reach a new write."""

    @pytest.fixture
    def api_settings(self, database_url: str) -> ApiSettings:
        return without_followers(database_url, SHORT_WAIT)

    def test_rm08_a_write_the_read_models_do_not_reach_answers_503_not_caught_up_after_the_wait(
        self, site: World, as_person: Any, client: TestClient[Any]
    ) -> None:
        req, ver = as_person("req"), as_person("ver")
        created = draft(site, req)
        assert created.status_code == 201, created.text
        pid, position = created.json()["stream_id"], created.json()["position"]
        for caller, told in ((req, {}), (ver, {"X-PTW-Min-Position": str(position)})):
            for path in (f"/permits/{pid}", "/permits"):
                started = time.monotonic()
                answer = caller.get(path, headers=told)
                waited = time.monotonic() - started
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.headers["Retry-After"].isdigit()
                problem = answer.json()
                assert (problem["code"], problem["rule_ids"]) == ("not_caught_up", ["RM-08"])
                assert waited >= SHORT_WAIT

    def test_rm08_a_min_position_past_the_store_head_is_refused_at_once(
        self, site: World, as_person: Any, client: TestClient[Any]
    ) -> None:
        ver = as_person("ver")
        beyond = head(client) + 1_000
        started = time.monotonic()
        answer = ver.get("/permits", headers={"X-PTW-Min-Position": str(beyond)})
        assert time.monotonic() - started < SHORT_WAIT
        assert answer.status_code == 422, answer.text
        assert (answer.json()["code"], answer.json()["fields"]) == (
            "validation_failed",
            ["X-PTW-Min-Position"],
        )
        assert "RM-08" in answer.json()["rule_ids"]


class TestWaitInThePool:
    """RM-08: a read that waits for the read models waits in the thread pool. The detail and readiness are
    answered in the event loop itself when there is nothing to wait for (ADR 0016); the loop must go on answering
    while another caller's read waits. This process runs no projection followers (`run_projections=False`): the
    writer's next read of the detail waits out the whole wait, while readiness, which reads no read model, is
    answered."""

    WAIT = 2.0

    @pytest.fixture
    def api_settings(self, database_url: str) -> ApiSettings:
        return without_followers(database_url, self.WAIT)

    def test_rm08_a_read_waiting_for_the_read_models_holds_up_no_other_read(
        self, site: World, as_person: Any, client: TestClient[Any]
    ) -> None:
        req, ver = as_person("req"), as_person("ver")
        pid = drafted(site, req)
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(req.get, f"/permits/{pid}")
            time.sleep(self.WAIT / 5)  # the writer's read is waiting by now
            started = time.monotonic()
            for _ in range(3):
                assert ver.get(f"/permits/{pid}/readiness").status_code == 200
            assert time.monotonic() - started < self.WAIT / 2
            assert not waiting.done()
            assert waiting.result().status_code == 503


# --- SEC-09 Idempotency-Key -----------------------------------------------------------------------------------


def test_sec09_the_same_request_twice_returns_the_same_outcome_and_records_nothing_more(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-09: a retried edit with its key returns the original outcome, marked `replayed`, appending nothing."""
    req = as_person("req")
    pid = drafted(site, req)
    key = {"Idempotency-Key": "edit-hazards-1"}
    first = edit(req, pid, key, hazards=["fire"])
    assert first.status_code == 200, first.text
    store_head, recorded = head(client), versions(site, pid)
    again = edit(req, pid, key, hazards=["fire"])
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True and first.json()["replayed"] is False
    same = ("command", "stream_id", "version", "events")
    assert {k: again.json()[k] for k in same} == {k: first.json()[k] for k in same}
    assert again.headers["ETag"] == first.headers["ETag"] == '"2"'
    assert (head(client), versions(site, pid)) == (store_head, recorded)
    assert req.get(f"/permits/{pid}").json()["version"] == 2


def test_sec09_a_retried_signature_returns_the_original_and_a_second_attempt_is_refused(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-09/SIG-10: a submit retried with its key returns the original signed outcome; the same submit sent
    again without the key is a second attempt, refused by the status guard (LIFE-02)."""
    req = as_person("req")
    pid = drafted(site, req)
    assert edit(req, pid, hazards=["fire"], controls=["extinguisher"]).status_code == 200
    nominated = req.post(
        f"/permits/{pid}/nominate-verifier", json={"verifier": msgspec.to_builtins(site.people["ver"])}
    )
    assert nominated.status_code == 200, nominated.text
    core_hash = req.get(f"/permits/{pid}/readiness").json()["core_hash"]
    body = {"signature": {"core_hash": core_hash, "reauthenticated_at": site.clock.now().isoformat()}}
    key = {"Idempotency-Key": "submit-1"}
    first = req.post(f"/permits/{pid}/submit", json=body, headers=key)
    assert first.status_code == 200, first.text
    store_head = head(client)
    again = req.post(f"/permits/{pid}/submit", json=body, headers=key)
    assert again.status_code == 200, again.text
    assert (again.json()["replayed"], again.json()["version"]) == (True, first.json()["version"])
    assert head(client) == store_head
    second = req.post(f"/permits/{pid}/submit", json=body)
    assert second.status_code == 409, second.text
    assert (second.json()["code"], second.json()["current_status"]) == ("invalid_transition", "submitted")
    assert "LIFE-02" in second.json()["rule_ids"]
    assert head(client) == store_head
    signatures = req.get(f"/permits/{pid}").json()["signatures"]
    assert [(v["signature"]["point"], v["signature"]["signer"]) for v in signatures] == [("requestor", "req")]


def test_sec09_a_retried_create_without_a_client_id_creates_one_permit(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-09: the server derives the new permit's id from the key, so a retried create is recognised: the
    same stream id and number, 201 both times (the original response), the second `replayed`, and one permit in the list."""
    req = as_person("req")
    key = {"Idempotency-Key": "create-weld-bracket"}
    first = draft(site, req, key)
    assert first.status_code == 201, first.text
    store_head = head(client)
    again = draft(site, req, key)
    assert again.status_code == 201, again.text  # SEC-09: the original response
    assert again.json()["replayed"] is True
    for field in ("stream_id", "permit_number", "version"):
        assert again.json()[field] == first.json()[field]
    assert again.json()["created"] == first.json()["created"] == {"permit_id": first.json()["stream_id"]}
    assert head(client) == store_head
    page = req.get("/permits").json()
    assert (page["total"], [i["number"] for i in page["items"]]) == (1, ["NORTH-2026-00001"])
    # without a key, the same body twice is two permits: the key is what makes a retry safe
    assert draft(site, req).json()["permit_number"] == "NORTH-2026-00002"
    assert draft(site, req).json()["permit_number"] == "NORTH-2026-00003"


def test_sec09_the_same_key_with_a_different_body_is_refused(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-09: 422 `idempotency_key_reused`, nothing recorded."""
    req = as_person("req")
    pid = drafted(site, req)
    key = {"Idempotency-Key": "edit-1"}
    assert edit(req, pid, key, hazards=["fire"]).status_code == 200
    store_head = head(client)
    reused = edit(req, pid, key, hazards=["falling objects"])
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert (reused.json()["code"], reused.json()["rule_ids"]) == ("idempotency_key_reused", ["SEC-09"])
    assert head(client) == store_head
    assert req.get(f"/permits/{pid}").json()["permit"]["content"]["hazards"] == ["fire"]


def test_sec09_keys_are_scoped_per_project(
    site: World, as_person: Any, client: TestClient[Any], api_settings: ApiSettings
) -> None:
    """SEC-09: the same key in another project is another request: a second permit there, not a replay of the
    first project's (nor a refusal, nor a leak of its number)."""
    admin = as_person("admin", org_admin=True)
    opened = admin.client.post(
        "/api/v1/organisation/projects", json={"code": "SOUTH", "title": "South site"}, headers=admin.headers
    )
    assert opened.status_code == 201, opened.text
    south = uuid.UUID(opened.json()["created"]["project_id"])
    member = site.people["req"]
    token = mint_token(
        api_settings,
        subject=member.person_id,
        name=member.name,
        projects={site.project_id: grant_of(member), south: grant_of(member)},
        organisation=site.organisation_id,
    )
    north_req, south_req = Caller(client, site, token, site.project_id), Caller(client, site, token, south)
    key = {"Idempotency-Key": "create-weld-bracket"}
    north = draft(site, north_req, key)
    assert north.status_code == 201, north.text
    south_answer = draft(site, south_req, key)
    assert south_answer.status_code == 201, south_answer.text
    assert south_answer.json()["replayed"] is False
    assert south_answer.json()["permit_number"] == "SOUTH-2026-00001"
    assert south_answer.json()["stream_id"] != north.json()["stream_id"]
    # and each project's retry replays its own permit
    assert draft(site, south_req, key).json()["stream_id"] == south_answer.json()["stream_id"]
    assert draft(site, north_req, key).json()["stream_id"] == north.json()["stream_id"]
    assert [i["number"] for i in south_req.get("/permits").json()["items"]] == ["SOUTH-2026-00001"]
    assert [i["number"] for i in north_req.get("/permits").json()["items"]] == ["NORTH-2026-00001"]


# --- SEC-10 If-Match / ETag -----------------------------------------------------------------------------------


def test_sec10_a_command_based_on_the_current_version_succeeds_and_returns_the_next_etag(
    site: World, as_person: Any
) -> None:
    """SEC-10: the detail's ETag is the version; `If-Match` with it succeeds and the response's ETag is the new
    version, which the detail then shows; the weak form W/"n" is accepted too."""
    req = as_person("req")
    pid = drafted(site, req)
    etag = req.get(f"/permits/{pid}").headers["ETag"]
    assert etag == '"1"'
    answer = edit(req, pid, {"If-Match": etag}, hazards=["fire"])
    assert answer.status_code == 200, answer.text
    assert (answer.headers["ETag"], answer.json()["version"]) == ('"2"', 2)
    assert req.get(f"/permits/{pid}").headers["ETag"] == '"2"'
    weak = edit(req, pid, {"If-Match": 'W/"2"'}, controls=["extinguisher"])
    assert weak.status_code == 200, weak.text
    assert weak.headers["ETag"] == '"3"'


def test_sec10_a_stale_if_match_is_refused_412_and_records_nothing(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-10: another writer moved the permit on; the command based on the old version answers 412
    `stale_version` with the current version, and nothing is written."""
    req, admin = as_person("req"), as_person("admin")
    pid = drafted(site, req)
    assert edit(req, pid, hazards=["fire"]).status_code == 200
    store_head = head(client)
    for stale in ('"1"', 'W/"1"'):
        answer = edit(req, pid, {"If-Match": stale}, hazards=["falling objects"])
        assert answer.status_code == 412, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert (problem["code"], problem["current_version"]) == ("stale_version", 2)
        assert "SEC-10" in problem["rule_ids"]
        assert "ETag" not in answer.headers
    assert head(client) == store_head
    detail = admin.get(f"/permits/{pid}", headers={"X-PTW-Min-Position": str(store_head)})
    assert (detail.json()["version"], detail.json()["permit"]["content"]["hazards"]) == (2, ["fire"])


def test_sec10_an_if_match_that_is_not_a_version_is_refused_naming_the_header(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """SEC-10/SEC-12: `If-Match: *` or a non-numeric tag is not a version: 422 naming If-Match, nothing written."""
    req = as_person("req")
    pid = drafted(site, req)
    store_head = head(client)
    for value in ("*", '"abc"', "1"):
        answer = edit(req, pid, {"If-Match": value}, hazards=["fire"])
        assert answer.status_code == 422, (value, answer.text)
        assert (answer.json()["code"], answer.json()["fields"]) == ("validation_failed", ["If-Match"])
    assert head(client) == store_head


# --- correlation id (AUD-01, SEC-13) --------------------------------------------------------------------------


def test_aud01_a_given_correlation_id_is_echoed_and_recorded_on_the_events(
    site: World, as_person: Any
) -> None:
    """AUD-01/SEC-13: the caller's `X-Correlation-ID` comes back and is the correlation id of the events the
    request recorded, in the store's metadata and in the audit trail."""
    site.add_person("aud", Role.AUDITOR)
    req = as_person("req")
    pid = drafted(site, req)
    answer = edit(req, pid, {"X-Correlation-ID": "ui-7f3a.edit:42"}, hazards=["fire"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Correlation-ID"] == "ui-7f3a.edit:42"
    assert site.service.history(uuid.UUID(pid))[-1].metadata.correlation_id == "ui-7f3a.edit:42"
    told = {"X-PTW-Min-Position": answer.headers["X-PTW-Position"]}
    rows = as_person("aud").get("/audit-trail", params={"permit": pid}, headers=told).json()["items"]
    assert [(r["type"], r["correlation_id"]) for r in rows][-1] == ("PermitEdited", "ui-7f3a.edit:42")
    # a refusal carries it too, in the header and the problem
    refused = edit(req, pid, {"X-Correlation-ID": "ui-7f3a.edit:43", "If-Match": '"1"'}, hazards=["x"])
    assert refused.status_code == 412
    assert refused.headers["X-Correlation-ID"] == refused.json()["correlation_id"] == "ui-7f3a.edit:43"


def test_sec13_an_unsafe_correlation_id_is_replaced_by_the_servers_own(site: World, as_person: Any) -> None:
    """SEC-13: a value that is not a plain token (or too long) never reaches logs or events: the server makes
    a new id, returns it and records that one."""
    req = as_person("req")
    pid = drafted(site, req)
    made = set()
    for n, unsafe in enumerate(["has spaces", "a" * 101, "<script>", "tab\there", "", "path/like"]):
        answer = edit(req, pid, {"X-Correlation-ID": unsafe}, hazards=[f"fire {n}"])
        assert answer.status_code == 200, answer.text
        given = answer.headers["X-Correlation-ID"]
        assert given != unsafe and re.fullmatch(r"[0-9a-f]{32}", given), given
        assert site.service.history(uuid.UUID(pid))[-1].metadata.correlation_id == given
        made.add(given)
    assert len(made) == 6  # a new id per request


# --- TIME-01 the server's clock --------------------------------------------------------------------------------


def test_time01_a_body_cannot_set_the_time_of_a_command(
    site: World, as_person: Any, client: TestClient[Any]
) -> None:
    """TIME-01/SEC-12: `at` is a server fact; a body naming it is refused (422, naming `at`), nothing written."""
    req = as_person("req")
    pid = drafted(site, req)
    store_head = head(client)
    backdated = (site.clock.now() - timedelta(days=2)).isoformat()
    answer = req.post(f"/permits/{pid}/edit", json={"changes": {"hazards": ["fire"]}, "at": backdated})
    assert answer.status_code == 422, answer.text
    assert (answer.json()["code"], answer.json()["fields"]) == ("validation_failed", ["at"])
    created = req.post(
        "/permits", json={"template_key": "hot-work", "content": content(site), "at": backdated}
    )
    assert created.status_code == 422, created.text
    assert created.json()["fields"] == ["at"]
    assert head(client) == store_head


def test_time01_an_event_is_dated_by_the_servers_clock(site: World, as_person: Any) -> None:
    """TIME-01: the recorded `occurred_at` is the injected clock's now, whatever the client's own time."""
    site.add_person("aud", Role.AUDITOR)
    req = as_person("req")
    pid = drafted(site, req)
    site.clock.advance(timedelta(minutes=17, seconds=5))
    answer = edit(req, pid, {"Date": "Mon, 01 Jan 2024 00:00:00 GMT"}, hazards=["fire"])
    assert answer.status_code == 200, answer.text
    recorded = site.service.history(uuid.UUID(pid))[-1]
    assert recorded.occurred_at == site.clock.now()
    told = {"X-PTW-Min-Position": answer.headers["X-PTW-Position"]}
    rows = as_person("aud").get("/audit-trail", params={"permit": pid}, headers=told).json()["items"]
    assert datetime.fromisoformat(rows[-1]["occurred_at"]) == site.clock.now()


def test_sec10_if_match_on_a_command_that_acts_on_no_permit_is_refused_not_ignored(
    client: TestClient[Any], site: World, as_person: Any
) -> None:
    """SEC-10: If-Match names a permit version; sent to a command on another stream it is refused (422 naming
    the header), never silently ignored, and nothing is written."""
    point = site.register_point("V-201")
    before = head(client)
    refused = as_person("admin").post(
        f"/isolation-points/{point}/deactivate", json={}, headers={"If-Match": '"1"'}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"] == ["If-Match"]
    assert head(client) == before
