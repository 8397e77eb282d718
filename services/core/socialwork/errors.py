"""Social-work errors with their stable codes."""

from __future__ import annotations

from services.core.errors import Conflict


class PlanNotSubmitted(Conflict):
    """Approving or sending back a plan that is not waiting for approval (it was sent back)."""

    code, title = "plan_not_submitted", "No plan awaits approval"


class AlreadyAssigned(Conflict):
    code, title = "already_assigned", "Already one of the case's social workers"


class CaseClosed(Conflict):
    """Adding to a closed case: reopen it first."""

    code, title = "case_closed", "The case is closed"
