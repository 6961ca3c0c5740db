"""The happy path on every backend: draft to close, then replay and chain verification agree."""

from tests.builders import World


def test_a_hot_work_permit_goes_from_draft_to_closed(world: World) -> None:
    pid = world.closed()
    state = world.permit(pid)
    assert state.status == "closed"
    assert state.number == "NORTH-2026-00001"
    assert [v.ok for v in world.service.verify_chain()] == [True] * len(world.service.verify_chain())
    assert world.service.permit_at_version(pid, state.version) == state
