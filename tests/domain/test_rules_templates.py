# ruff: noqa: N802
"""Templates TPL-01..06: deep merge, tightening-only overrides, the checklist normaliser, pinning and rebase."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ptw_domain import commands as c
from ptw_domain.errors import GuardFailed, InvalidTransition
from ptw_domain.templates import ChecklistItem, deep_merge, normalise_checklist
from tests.builders import HOT_WORK, World, activate, approve, create, verify


def new_permit(world: World, hours: int = 8) -> c.CreatePermit:
    """CreatePermit (hot work) for a window of `hours`, starting in an hour."""
    start = world.clock.now() + timedelta(hours=1)
    return create(world, planned_start=start, planned_end=start + timedelta(hours=hours))


def override(world: World, patch: dict[str, Any]) -> c.PublishTemplateOverride:
    """The project admin's override of the hot-work template."""
    return c.PublishTemplateOverride(
        actor=world.actor("admin"), project_id=world.project_id, template_key="hot-work", patch=patch
    )


def retire(world: World, key: str) -> c.RetireTemplate:
    return c.RetireTemplate(
        actor=world.actor("admin", org_admin=True), organisation_id=world.organisation_id, key=key
    )


# --- TPL-04 deep merge (pure) ----------------------------------------------------------------------------------


def test_TPL_04_mappings_merge_recursively_and_scalars_replace() -> None:
    base = {"a": 1, "nested": {"x": 1, "y": {"z": 1}}, "keep": "k"}
    patch = {"a": 2, "nested": {"y": {"w": 2}}}
    assert deep_merge(base, patch) == {"a": 2, "nested": {"x": 1, "y": {"z": 1, "w": 2}}, "keep": "k"}
    assert base == {"a": 1, "nested": {"x": 1, "y": {"z": 1}}, "keep": "k"}  # inputs untouched


def test_TPL_04_scalar_lists_union_by_value_keeping_order() -> None:
    assert deep_merge({"ppe": ["a", "b"]}, {"ppe": ["b", "c", "a", "d"]}) == {"ppe": ["a", "b", "c", "d"]}


def test_TPL_04_object_lists_union_by_key() -> None:
    base = {"items": [{"key": "one", "label": "One"}, {"key": "two", "label": "Two"}]}
    patch = {"items": [{"key": "two", "required": False}, {"key": "three", "label": "Three"}]}
    assert deep_merge(base, patch)["items"] == [
        {"key": "one", "label": "One"},
        {"key": "two", "label": "Two", "required": False},
        {"key": "three", "label": "Three"},
    ]


def test_TPL_04_replace_wrapper_replaces_the_list() -> None:
    merged = deep_merge({"ppe": ["a", "b"]}, {"ppe": {"replace": True, "items": ["c"]}})
    assert merged == {"ppe": ["c"]}


def test_TPL_04_type_change_replaces() -> None:
    assert deep_merge({"v": {"a": 1}}, {"v": 3}) == {"v": 3}
    assert deep_merge({"v": [1]}, {"v": "x"}) == {"v": "x"}
    assert deep_merge({}, {"new": [1, 2]}) == {"new": [1, 2]}


# --- TPL-06 normaliser (pure) ----------------------------------------------------------------------------------


def test_TPL_06_checklist_items_normalise_to_key_label_required() -> None:
    items = normalise_checklist(
        [
            "Combustibles removed",
            {"key": "extinguisher", "label": "Extinguisher at hand"},
            {"key": "screens", "label": "Screens", "required": False},
            {"label": "Gas test OK!"},
        ]
    )
    assert items == (
        ChecklistItem(key="combustibles_removed", label="Combustibles removed", required=True),
        ChecklistItem(key="extinguisher", label="Extinguisher at hand", required=True),
        ChecklistItem(key="screens", label="Screens", required=False),
        ChecklistItem(key="gas_test_ok", label="Gas test OK!", required=True),
    )


def test_TPL_06_replace_wrapper_and_empty() -> None:
    assert normalise_checklist({"replace": True, "items": ["A b"]}) == (
        ChecklistItem(key="a_b", label="A b"),
    )
    assert normalise_checklist(None) == ()


# --- TPL-05 overrides ------------------------------------------------------------------------------------------


def test_TPL_05_loosening_override_is_refused(world: World) -> None:
    with pytest.raises(GuardFailed) as info:
        world.run(override(world, {"validity_hours": 24}))
    assert info.value.rule_ids == ("TPL-05",)
    assert info.value.blockers[0].facts == {"setting": "validity_hours"}
    assert world.service.project(world.project_id).overrides == {}


def test_TPL_05_dropping_mandatory_ppe_is_loosening(world: World) -> None:
    with pytest.raises(GuardFailed) as info:
        world.run(override(world, {"mandatory_ppe": {"replace": True, "items": []}}))
    assert info.value.rule_ids == ("TPL-05",)


def test_TPL_05_switching_fire_watch_off_is_loosening(world: World) -> None:
    with pytest.raises(GuardFailed) as info:
        world.run(override(world, {"requires_fire_watch": False}))
    assert "TPL-05" in info.value.rule_ids


def test_TPL_05_tightening_override_is_accepted_and_used_by_new_permits(world: World) -> None:
    old = world.draft()
    world.run(override(world, {"validity_hours": 6, "mandatory_ppe": ["Face shield"]}))
    with pytest.raises(GuardFailed) as info:
        world.run(new_permit(world, hours=7))
    assert info.value.rule_ids == ("LIFE-06",)
    result = world.run(new_permit(world, hours=5))
    state = world.permit(result.stream_id)
    assert state.template.override_version == 1
    assert world.permit(old).template.override_version is None  # TPL-02: existing permits keep their pin
    # The added PPE is enforced at approval of the new permit.
    pid = result.stream_id
    world.nominate_and_submit(pid)
    world.run(verify(world, pid))
    with pytest.raises(GuardFailed) as approval:
        world.run(approve(world, pid))
    assert approval.value.rule_ids == ("TPL-08",)
    assert approval.value.blockers[0].facts["missing"] == ["Face shield"]


def test_TPL_05_project_may_relax_allows_listed_loosening(world: World) -> None:
    world.publish_template({**HOT_WORK, "project_may_relax": ["validity_hours"]})
    world.run(override(world, {"validity_hours": 16}))
    assert world.run(new_permit(world, hours=14)).events == ("PermitDrafted",)


# --- TPL-01 / TPL-02 -------------------------------------------------------------------------------------------


def test_TPL_01_retired_template_refuses_new_permits(world: World) -> None:
    approved = world.approved()
    world.run(retire(world, "hot-work"))
    with pytest.raises(GuardFailed) as info:
        world.run(new_permit(world))
    assert info.value.rule_ids == ("TPL-01",)
    assert world.service.project(world.project_id).permits.keys() == {world.permit(approved).number}
    # Existing permits keep working.
    world.prepare_crew(approved)
    world.clock.advance(timedelta(minutes=30))
    world.run(activate(world, approved))
    assert world.permit(approved).status == "active"


def test_TPL_01_retired_template_cannot_publish_a_new_version(world: World) -> None:
    world.run(retire(world, "cold-work"))
    with pytest.raises(InvalidTransition) as info:
        world.publish_template({"key": "cold-work", "category": "cold_work", "name": "Cold v2"})
    assert info.value.rule_ids == ("TPL-01",)


def test_TPL_02_pinned_version_is_unchanged_after_a_new_version(world: World) -> None:
    pid = world.submitted()
    pinned = world.permit(pid).template
    core = world.permit(pid).core_hash
    world.publish_template({**HOT_WORK, "validity_hours": 6})
    assert world.permit(pid).template == pinned
    assert world.permit(pid).core_hash == core
    assert pinned.version == 1
    fresh = world.run(new_permit(world, hours=5))
    assert world.permit(fresh.stream_id).template.version == 2
    # The old permit still uses its pinned 12 h validity.
    world.run(verify(world, pid))


def test_TPL_02_rebase_in_draft_moves_to_the_latest_version(world: World) -> None:
    pid = world.draft()
    world.publish_template({**HOT_WORK, "name": "Hot work v2"})
    before = world.permit(pid)
    result = world.run(c.RebasePermitTemplate(actor=world.actor("req"), permit_id=pid))
    assert result.events == ("PermitTemplateRebased",)
    after = world.permit(pid)
    assert after.template.version == 2
    assert after.core_hash != before.core_hash  # a core change (SIG-06)
    # Rebasing again is a no-op.
    assert world.run(c.RebasePermitTemplate(actor=world.actor("req"), permit_id=pid)).events == ()


def test_TPL_02_rebase_is_refused_after_submission(world: World) -> None:
    pid = world.submitted()
    version = world.permit(pid).version
    with pytest.raises(InvalidTransition):
        world.run(c.RebasePermitTemplate(actor=world.actor("req"), permit_id=pid))
    assert world.permit(pid).version == version
