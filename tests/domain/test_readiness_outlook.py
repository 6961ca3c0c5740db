# ruff: noqa: N802
"""The readiness outlook (ADR 0014): the next lifecycle action a permit waits for, by its effective status (RDY-01,
TIME-05). Until when a stored outlook holds is tested with the read model (tests/projections/test_readiness.py)."""

from __future__ import annotations

import pytest

from ptw_domain.permit.outlook import next_action
from ptw_domain.permit.readiness import FROM_STATUSES, Action
from ptw_domain.permit.status import TERMINAL, Status

EXPECTED = {
    Status.DRAFT: Action.SUBMIT,
    Status.REJECTED: Action.SUBMIT,
    Status.SUBMITTED: Action.VERIFY,
    Status.UNDER_REVIEW: Action.APPROVE,
    Status.APPROVED: Action.ACTIVATE,
    Status.ACTIVE: Action.COMPLETE,
    Status.SUSPENDED: Action.RESUME,
    Status.EXPIRED: Action.COMPLETE,
    Status.COMPLETED: Action.CLOSE,
    Status.CLOSED: None,
    Status.CANCELLED: None,
}


@pytest.mark.parametrize(("status", "action"), EXPECTED.items())
def test_RDY_01_the_next_action_is_the_first_that_starts_from_the_effective_status(
    status: Status, action: Action | None
) -> None:
    assert next_action(status) == action
    assert action is None if status in TERMINAL else status in FROM_STATUSES[action]  # type: ignore[index]
