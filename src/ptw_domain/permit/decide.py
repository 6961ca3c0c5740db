"""The permit's command handlers, registered as data (one table, no generic status setter: LIFE-01)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptw_domain import commands as c
from ptw_domain.closeout import guards as _closeout_guards  # noqa: F401 - registers the close-out guards
from ptw_domain.closeout.decide import CLOSEOUT_HANDLERS
from ptw_domain.gas import guards as _gas_guards  # noqa: F401 - registers the gas guards
from ptw_domain.gas.decide import GAS_HANDLERS
from ptw_domain.handover import guards as _handover_guards  # noqa: F401 - registers the handover guard
from ptw_domain.handover.decide import HANDOVER_HANDLERS
from ptw_domain.isolation import guards as _isolation_guards  # noqa: F401 - registers the isolation guards
from ptw_domain.isolation.decide import ISOLATION_HANDLERS
from ptw_domain.people import guards as _people_guards  # noqa: F401 - registers the people guards
from ptw_domain.people.decide import PEOPLE_HANDLERS
from ptw_domain.permit import execution, extensions, workflow
from ptw_domain.permit import guards as _guards  # noqa: F401 - registers the lifecycle guards
from ptw_domain.permit.context import PermitContext
from ptw_domain.records.decide import RECORDS_HANDLERS
from ptw_domain.simops import guards as _simops_guards  # noqa: F401 - registers the SIMOPS guard

Handler = Callable[[Any, PermitContext], Any]  # events, or a Decision that also writes other streams

PERMIT_HANDLERS: dict[type[c.PermitCommand], Handler] = {
    c.EditPermit: workflow.edit,
    c.AmendPermit: workflow.amend,
    c.NominateVerifier: workflow.nominate_verifier,
    c.SubmitPermit: workflow.submit,
    c.ResubmitPermit: workflow.resubmit,
    c.WithdrawPermit: workflow.withdraw,
    c.VerifyPermit: workflow.verify,
    c.RejectPermit: workflow.reject,
    c.NominateApprovers: workflow.nominate_approvers,
    c.ApprovePermit: workflow.approve,
    c.SendBackPermit: workflow.send_back,
    c.CancelPermit: workflow.cancel,
    c.ActivatePermit: execution.activate,
    c.SuspendPermit: execution.suspend,
    c.ResumePermit: execution.resume,
    c.CompletePermit: execution.complete,
    c.ClosePermit: execution.close,
    c.RequestExtension: extensions.request,
    c.DecideExtension: extensions.decide,
    **PEOPLE_HANDLERS,
    **GAS_HANDLERS,
    **ISOLATION_HANDLERS,
    **HANDOVER_HANDLERS,
    **CLOSEOUT_HANDLERS,
    **RECORDS_HANDLERS,
}
