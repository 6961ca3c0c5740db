# ruff: noqa: N802
"""Extensions EXT-01..08: request, limits, decision, exact new end, shift change and lapse."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from ptw_domain import commands as c
from ptw_domain.errors import DomainError, Forbidden, GuardFailed, ValidationFailed
from ptw_domain.roles import Role
from tests.builders import World, approve, codes, complete, refused, verify


def request(
    world: World, pid: uuid.UUID, end: datetime, actor: str = "req", reason: str = "more welding"
) -> Any:
    ext = uuid.uuid4()
    cmd = c.RequestExtension(
        actor=world.actor(actor), permit_id=pid, extension_id=ext, requested_end=end, reason=reason
    )
    return ext, cmd


def request_more(world: World, pid: uuid.UUID, by: timedelta = timedelta(minutes=30), **kw: Any) -> Any:
    """`request` for the permit's current valid_until moved by `by`."""
    return request(world, pid, world.permit(pid).valid_until + by, **kw)


def decide(world: World, pid: uuid.UUID, ext: uuid.UUID, actor: str = "app", **kw: Any) -> c.DecideExtension:
    values: dict[str, Any] = {"approve": True}
    values.update(kw)
    return c.DecideExtension(
        actor=world.actor(actor), permit_id=pid, extension_id=ext, signature=world.signature(pid), **values
    )


def extend(world: World, pid: uuid.UUID, end: datetime) -> uuid.UUID:
    ext, cmd = request(world, pid, end)
    world.run(cmd)
    world.run(decide(world, pid, ext))
    return ext


def test_EXT_01_pa_requests_an_extension_while_active(world: World) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    ext, cmd = request(world, pid, valid_until + timedelta(minutes=30))
    result = world.run(cmd)
    assert result.events == ("ExtensionRequested",)
    payload = world.service.history(pid)[-1].payload
    assert payload.extension_id == ext
    assert payload.current_end == valid_until
    assert payload.requested_end == valid_until + timedelta(minutes=30)
    assert world.permit(pid).pending_extension is not None


def test_EXT_01_requestor_may_request_while_approved(world: World) -> None:
    pid = world.approved()
    _, cmd = request_more(world, pid)
    assert world.run(cmd).events == ("ExtensionRequested",)


def test_EXT_01_only_the_pa_requests(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid, actor="app")
    refused(world, pid, cmd, Forbidden)


def test_EXT_01_request_needs_a_reason(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid, reason="  ")
    err = refused(world, pid, cmd, ValidationFailed)
    assert err.rule_ids == ("EXT-01",)


def test_EXT_01_not_from_draft(world: World) -> None:
    pid = world.submitted()
    _, cmd = request_more(world, pid)
    err = refused(world, pid, cmd, DomainError)
    assert err.code == "invalid_transition"


def test_EXT_02_max_extensions(world: World) -> None:
    pid = world.active()
    end = world.permit(pid).valid_until
    extend(world, pid, end + timedelta(minutes=10))
    extend(world, pid, end + timedelta(minutes=20))
    _, cmd = request(world, pid, end + timedelta(minutes=30))
    err = refused(world, pid, cmd, GuardFailed)
    assert err.rule_ids == ("EXT-02",)
    assert err.blockers[0].facts == {"used": 2, "max": 2}


def test_EXT_02_rejected_extensions_do_not_count(world: World) -> None:
    pid = world.active()
    end = world.permit(pid).valid_until
    ext, cmd = request(world, pid, end + timedelta(minutes=10))
    world.run(cmd)
    world.run(decide(world, pid, ext, approve=False, reason="not needed"))
    extend(world, pid, end + timedelta(minutes=20))
    extend(world, pid, end + timedelta(minutes=30))
    assert world.permit(pid).counted_extensions() == 2


def test_EXT_04_one_pending_at_a_time(world: World) -> None:
    pid = world.active()
    end = world.permit(pid).valid_until
    _, first = request(world, pid, end + timedelta(minutes=10))
    world.run(first)
    _, second = request(world, pid, end + timedelta(minutes=20))
    err = refused(world, pid, second, GuardFailed)
    assert err.rule_ids == ("EXT-04",)


def test_EXT_03_one_extension_adds_at_most_validity_hours(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid, timedelta(hours=13))
    err = refused(world, pid, cmd, GuardFailed)
    assert err.rule_ids == ("EXT-03",)
    assert codes(err) == {"extension_too_long"}


def test_EXT_03_beyond_total_validity_refused_with_successor_hint(world: World) -> None:
    world.publish_template(
        {
            "key": "short",
            "category": "cold_work",
            "name": "Short",
            "validity_hours": 8,
            "max_total_validity_hours": 10,
        }
    )
    start = world.clock.now() + timedelta(hours=1)
    pid = world.draft("short", planned_start=start, planned_end=start + timedelta(hours=8))
    world.nominate_and_submit(pid)
    world.run(verify(world, pid))
    world.run(approve(world, pid))
    _, cmd = request(world, pid, start + timedelta(hours=11))
    err = refused(world, pid, cmd, GuardFailed)
    assert err.rule_ids == ("EXT-03",)
    blocker = err.blockers[0]
    assert blocker.code == "total_validity_exceeded"
    assert blocker.facts["hint"] == "raise a successor permit"
    _, ok = request(world, pid, start + timedelta(hours=10))
    world.run(ok)


def test_EXT_03_requested_end_must_be_later(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid, -timedelta(hours=1))
    err = refused(world, pid, cmd, GuardFailed)
    assert codes(err) == {"not_later"}


def test_EXT_05_SOD_05_requester_cannot_decide(world: World) -> None:
    world.add_person("pa", Role.REQUESTOR, Role.APPROVER)
    pid = world.active(performing_authority="pa")
    ext, cmd = request_more(world, pid, actor="pa")
    world.run(cmd)
    err = refused(world, pid, decide(world, pid, ext, actor="pa"), GuardFailed)
    assert err.rule_ids == ("SOD-05",)
    world.run(decide(world, pid, ext, actor="app2"))


def test_EXT_05_requestor_without_approver_role_cannot_decide(world: World) -> None:
    pid = world.active()
    ext, cmd = request_more(world, pid)
    world.run(cmd)
    refused(world, pid, decide(world, pid, ext, actor="req"), Forbidden)


def test_EXT_06_approval_moves_valid_until_exactly_and_expiry_follows(world: World) -> None:
    pid = world.active()
    old = world.permit(pid).valid_until
    new = old + timedelta(minutes=47)
    ext, cmd = request(world, pid, new)
    world.run(cmd)
    result = world.run(decide(world, pid, ext))
    assert result.events == ("ExtensionApproved",)
    payload = world.service.history(pid)[-1].payload
    assert payload.old_valid_until == old
    assert payload.new_valid_until == new
    assert world.permit(pid).valid_until == new
    assert world.service.run_sweep(old) == []
    assert world.service.run_sweep(new - timedelta(seconds=1)) == []
    world.service.run_sweep(new)
    expired = world.service.history(pid)[-1]
    assert expired.type == "PermitExpired"
    assert expired.payload.expired_at == new


def test_EXT_06_requested_end_is_to_the_minute(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid, timedelta(minutes=30, seconds=5))
    err = refused(world, pid, cmd, ValidationFailed)
    assert err.rule_ids == ("EXT-06",)


def test_EXT_07_shift_change_needs_reassessment_confirmed(world: World) -> None:
    pid = world.active()
    assert world.permit(pid).content.work_nature == "day"
    night_end = world.permit(pid).valid_until + timedelta(hours=2)  # 19:00 UTC: night shift
    ext, cmd = request(world, pid, night_end)
    world.run(cmd)
    assert world.service.history(pid)[-1].payload.shift_change is True
    err = refused(world, pid, decide(world, pid, ext), GuardFailed)
    assert err.rule_ids == ("EXT-07",)
    world.run(decide(world, pid, ext, reassessment_confirmed=True))
    assert world.permit(pid).valid_until == night_end
    assert world.service.history(pid)[-1].payload.reassessment_confirmed is True


def test_EXT_07_same_shift_is_not_flagged(world: World) -> None:
    pid = world.active()
    ext, cmd = request_more(world, pid)
    world.run(cmd)
    assert world.service.history(pid)[-1].payload.shift_change is False
    world.run(decide(world, pid, ext))


def test_EXT_08_pending_extension_lapses_at_expiry(world: World) -> None:
    pid = world.active()
    valid_until = world.permit(pid).valid_until
    ext, cmd = request(world, pid, valid_until + timedelta(minutes=30))
    world.run(cmd)
    results = world.service.run_sweep(valid_until)
    assert [r.events for r in results] == [("PermitExpired", "ExtensionLapsed")]
    state = world.permit(pid)
    assert state.pending_extension is None
    assert state.extensions[0].state == "lapsed"
    assert state.counted_extensions() == 0
    # A decision after the lapse is refused.
    refused(world, pid, decide(world, pid, ext), DomainError)


def test_EXT_08_pending_extension_lapses_at_hand_back(world: World) -> None:
    pid = world.active()
    _, cmd = request_more(world, pid)
    world.run(cmd)
    result = world.run(complete(world, pid))
    assert "ExtensionLapsed" in result.events
    assert world.permit(pid).extensions[0].state == "lapsed"
