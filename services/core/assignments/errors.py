"""Errors of the assignments domain, with stable codes clients can branch on."""

from __future__ import annotations

from services.core.errors import Conflict, ValidationFailed


class PeriodOverlap(Conflict):
    """Two periods that must not overlap do; the problem names the record already there."""

    code, title = "period_overlap", "Overlapping period"


class AssignmentOverlap(PeriodOverlap):
    """Another team is already responsible for the unit then (``conflicting_assignment_id``)."""

    code, title = "assignment_overlap", "Another team is responsible then"


class PairingOutsideArea(ValidationFailed):
    """The two sides of a pairing share no area at its start (422, code ``pairing_outside_area``)."""

    code, title = "pairing_outside_area", "The two sides share no area"
