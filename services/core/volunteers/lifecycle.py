"""The lives of a volunteer shift and of an hours entry, declared once (see CONTRIBUTING "Adding a
stateful domain"). Both are a department's records: a permission counts only at the record's
institution (a social worker's grant names theirs)."""

from __future__ import annotations

from typing import Any

from services.core.lifecycle import Lifecycle, Transition
from services.core.security.roles import Permission
from services.core.volunteers.models import HoursStatus, ShiftStatus, VolunteerHours, VolunteerShift

S, H = ShiftStatus, HoursStatus
WRITE = Permission.VOLUNTEERS_WRITE


def _at_institution(actor: Any, permission: Permission, record: Any, path: str) -> bool:
    """The permission at the record's org unit, by a grant that names no institution or names its own."""
    return bool(actor.can_at_institution(permission, path, record.institution_id))


SHIFT: Lifecycle[VolunteerShift] = Lifecycle(
    subject_type="volunteer_shift",
    noun="shift",
    states=ShiftStatus,
    transitions=[
        Transition("offer", (None,), S.OFFERED, WRITE),
        Transition("schedule", (S.OFFERED,), S.SCHEDULED, WRITE),
        Transition("attend", (S.SCHEDULED,), S.ATTENDED, WRITE),
        Transition("no_show", (S.SCHEDULED,), S.NO_SHOW, WRITE),
        Transition("cancel", (S.OFFERED, S.SCHEDULED), S.CANCELLED, WRITE),
    ],
    authorize=_at_institution,
    snapshot=lambda s: {"volunteer_id": str(s.volunteer_id) if s.volunteer_id else None},
)

# ``submit`` is the volunteer's own (their login), ``record`` a social worker's on their behalf; either
# way a social worker of the department then verifies or rejects.
HOURS: Lifecycle[VolunteerHours] = Lifecycle(
    subject_type="volunteer_hours",
    noun="hours entry",
    states=HoursStatus,
    transitions=[
        Transition("submit", (None,), H.SUBMITTED, Permission.VOLUNTEERS_SUBMIT_HOURS),
        Transition("record", (None,), H.SUBMITTED, WRITE),
        Transition("verify", (H.SUBMITTED,), H.VERIFIED, WRITE),
        Transition("reject", (H.SUBMITTED,), H.REJECTED, WRITE),
    ],
    authorize=_at_institution,
    snapshot=lambda h: {"volunteer_id": str(h.volunteer_id), "hours": str(h.hours)},
)
