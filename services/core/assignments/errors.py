"""Errors of the assignments domain, with stable codes clients can branch on."""

from __future__ import annotations

from services.core.errors import PeriodOverlap, ValidationFailed

__all__ = ["AssignmentOverlap", "PairingOutsideArea", "PeriodOverlap"]


class AssignmentOverlap(PeriodOverlap):
    """Another team is already responsible for the unit then (``conflicting_assignment_id``)."""

    code, title = "assignment_overlap", "Another team is responsible then"


class PairingOutsideArea(ValidationFailed):
    """The two sides of a pairing share no area at its start (422, code ``pairing_outside_area``)."""

    code, title = "pairing_outside_area", "The two sides share no area"
