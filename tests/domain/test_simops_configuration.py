# ruff: noqa: N802
"""Section 8 configuration: the versioned zone map (SIM-02) and interaction matrix (SIM-05), the re-evaluation a
publication causes (SIM-09) and the versions the facts carry outside the hash (SIM-10), on every backend."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from msgspec.structs import replace

from ptw_domain.errors import Forbidden, ValidationFailed
from ptw_domain.events.simops import MatrixEntry
from ptw_domain.simops import commands as sc
from ptw_domain.simops.model import DEFAULT_MATRIX, facts_hash
from ptw_domain.simops.streams import register_id
from tests.builders import World, approve, refused


@pytest.fixture
def site(world: World) -> World:
    world.publish_template({"key": "tank", "category": "confined_space"})
    return world


def blockers(world: World, pid: uuid.UUID) -> list[dict[str, Any]]:
    return [b.facts for b in world.service.readiness(pid).actions["approve"].blockers if b.rule == "SIM-06"]


def warnings(world: World, pid: uuid.UUID) -> list[dict[str, Any]]:
    return [w.facts for w in world.service.readiness(pid).actions["approve"].warnings if w.rule == "SIM-06"]


def payloads(world: World, stream_id: uuid.UUID) -> list[Any]:
    return [e.payload for e in world.service.store.events.get(stream_id)]


def zone_map(world: World, adjacency: dict[str, tuple[str, ...]], who: str = "admin") -> None:
    world.run(sc.PublishZoneMap(actor=world.actor(who), project_id=world.project_id, adjacency=adjacency))


def matrix(world: World, *entries: MatrixEntry, who: str = "admin") -> None:
    world.run(sc.PublishSimopsMatrix(actor=world.actor(who), project_id=world.project_id, entries=entries))


def entry(first: str, second: str, severity: str, rule: str) -> MatrixEntry:
    return MatrixEntry(first=first, second=second, severity=severity, rule=rule)


def test_SIM_02_SIM_09_a_published_zone_map_makes_adjacent_areas_overlap_and_its_withdrawal_clears(
    site: World,
) -> None:
    world = site
    older = world.submitted(template="tank", area="U100")
    newer = world.under_review(area="U200", equipment_tags=("P-900",))
    assert blockers(world, newer) == []  # different areas, no zone map yet (version 0)
    zone_map(world, {"U100": ("U200",)})
    (found,) = blockers(world, newer)
    assert (found["rule"], found["older"], found["newer"]) == ("SIM-M01", str(older), str(newer))
    assert found["overlapping"] == {"adjacent_areas": ["U100 <-> U200"]}
    cid = uuid.UUID(found["conflict_id"])
    (detected,) = payloads(world, cid)
    assert detected.facts.zone_map_version == 1 and detected.basis == "planned"
    zone_map(world, {"U100": ("U300",)})  # version 2: U200 no longer adjacent
    assert blockers(world, newer) == []
    cleared = payloads(world, cid)[-1]
    assert type(cleared).__name__ == "ConflictCleared" and "zone map v2" in cleared.reason


def test_SIM_02_adjacency_is_symmetric_and_found_from_either_side(site: World) -> None:
    world = site
    zone_map(world, {"U100": ("U200",)})
    (published,) = [p for p in payloads(world, world.project_id) if type(p).__name__ == "ZoneMapPublished"]
    assert published.adjacency == {"U100": ("U200",), "U200": ("U100",)}
    older = world.submitted(template="tank", area="U200")  # the listed area's neighbour comes first
    newer = world.under_review(area="U100", equipment_tags=("P-900",))
    assert [(f["older"], f["newer"]) for f in blockers(world, newer)] == [(str(older), str(newer))]


def test_SIM_05_SIM_09_a_published_matrix_changes_the_severity_of_existing_conflicts(site: World) -> None:
    world = site
    world.submitted(template="cold-work", area="U300")
    later = world.submitted(template="cold-work", area="U300")
    (notice,) = warnings(world, later)
    assert (notice["rule"], notice["severity"]) == ("SIM-M00", "low")
    matrix(world, *DEFAULT_MATRIX.entries, entry("cold_work", "cold_work", "high", "SIM-M08"), who="safe")
    (found,) = blockers(world, later)
    assert (found["rule"], found["severity"]) == ("SIM-M08", "high")
    assert warnings(world, later) == []
    old = payloads(world, uuid.UUID(notice["conflict_id"]))
    assert type(old[-1]).__name__ == "ConflictCleared"  # another rule is another conflict (SIM-11)
    (detected,) = payloads(world, uuid.UUID(found["conflict_id"]))
    assert detected.matrix_version == 2 and detected.facts.matrix_version == 2


def test_SIM_10_a_changed_severity_updates_the_facts_with_the_matrix_version_outside_the_hash(
    site: World,
) -> None:
    world = site
    world.submitted(area="U400")
    later = world.submitted(area="U400")  # hot work twice: SIM-M05 medium
    (notice,) = warnings(world, later)
    cid = uuid.UUID(notice["conflict_id"])
    raised = [
        e if e.rule != "SIM-M05" else entry("hot_work", "hot_work", "high", "SIM-M05")
        for e in DEFAULT_MATRIX.entries
    ]
    matrix(world, *raised)
    detected, updated = payloads(world, cid)
    assert (updated.facts.severity, updated.facts.matrix_version, updated.facts.zone_map_version) == (
        "high",
        2,
        0,
    )
    assert updated.open and updated.facts_hash == facts_hash(updated.facts) != detected.facts_hash
    assert facts_hash(updated.facts) == facts_hash(
        replace(updated.facts, matrix_version=9, zone_map_version=9)
    )
    assert [f["conflict_id"] for f in blockers(world, later)] == [str(cid)]


def test_SIM_09_SIM_11_a_publication_that_leaves_the_facts_keeps_the_decision(site: World) -> None:
    world = site
    world.submitted(template="tank", area="U100")
    newer = world.under_review(area="U100")
    cid = uuid.UUID(blockers(world, newer)[0]["conflict_id"])
    world.run(
        sc.ResolveConflict(
            actor=world.actor("safe"),
            conflict_id=cid,
            decision="accept_with_controls",
            controls="Gas monitor",
        )
    )
    before = payloads(world, cid)
    zone_map(world, {"U100": ("U900",)})  # touches U100, changes nothing of this conflict
    matrix(world, *DEFAULT_MATRIX.entries)  # the same entries again, version 2
    assert payloads(world, cid) == before  # nothing recorded: same hash, the decision holds
    assert blockers(world, newer) == []
    world.run(approve(world, newer))


def test_SIM_05_versions_increase_by_one_per_publication(site: World) -> None:
    world = site
    zone_map(world, {"A": ("B",)})
    zone_map(world, {})
    matrix(world, entry("lifting", "*", "medium", "SIM-M09"))
    register = payloads(world, register_id(world.project_id))
    assert [p.zone_map.version for p in register if type(p).__name__ == "SimopsZoneMapAdopted"] == [1, 2]
    assert [p.matrix.version for p in register if type(p).__name__ == "SimopsMatrixAdopted"] == [2]
    published = [
        (type(p).__name__, p.version) for p in payloads(world, world.project_id) if hasattr(p, "version")
    ]
    assert published == [("ZoneMapPublished", 1), ("ZoneMapPublished", 2), ("SimopsMatrixPublished", 2)]


def test_SIM_05_a_bad_matrix_is_refused_with_the_rule_and_records_nothing(site: World) -> None:
    world = site
    pid = world.submitted(area="U500")
    bad = sc.PublishSimopsMatrix(
        actor=world.actor("admin"),
        project_id=world.project_id,
        entries=(
            entry("diving", "*", "high", "SIM-M10"),
            entry("hot_work", "chemical", "critical", "SIM-M03"),
            entry("lifting", "lifting", "low", "SIM-04"),
            entry("chemical", "hot_work", "low", "SIM-M11"),
        ),
    )
    project_events = len(payloads(world, world.project_id))
    err = refused(world, pid, bad, ValidationFailed)
    assert err.rule_ids == ("SIM-05",)
    assert [(b.code, b.facts["field"]) for b in err.blockers] == [
        ("unknown_category", "entries[0].first"),
        ("unknown_severity", "entries[1].severity"),
        ("invalid_matrix_rule", "entries[2].rule"),
        ("duplicate_pair", "entries[3]"),
    ]
    assert len(payloads(world, world.project_id)) == project_events


def test_SIM_02_an_area_adjacent_to_itself_is_refused(site: World) -> None:
    world = site
    with pytest.raises(ValidationFailed) as err:
        zone_map(world, {"U100": ("U200", "U100")})
    assert err.value.rule_ids == ("SIM-02",) and err.value.facts["field"] == "adjacency.U100"
    with pytest.raises(ValidationFailed) as unnamed:
        zone_map(world, {"U100": (" ",)})
    assert [b.code for b in unnamed.value.blockers] == ["area_unnamed"]
    assert not [p for p in payloads(world, world.project_id) if type(p).__name__ == "ZoneMapPublished"]


def test_SEC_04_the_zone_map_is_the_admins_and_the_matrix_also_the_safety_officers(site: World) -> None:
    world = site
    with pytest.raises(Forbidden) as err:
        zone_map(world, {"A": ("B",)}, who="safe")
    assert err.value.rule_ids == ("SEC-04",)
    with pytest.raises(Forbidden):
        matrix(world, *DEFAULT_MATRIX.entries, who="area")
    matrix(world, *DEFAULT_MATRIX.entries, who="safe")
