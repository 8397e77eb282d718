"""Who sees what of a resident: the fields each visibility permission opens.

The decisions are permissions in ``security/roles.py`` (the one authorization table), held
over an org-unit subtree like every other permission, so "may this caller see X of this
resident" is the scope rule itself: ``scope_clause`` in SQL, ``Principal.can_at`` (the same
prefix test on the same grants) in Python. No role is named here.

* ``residents:read_identity``: the full identity number and phone (each read audited by the
  service), the full birth date, and lookup by identity number (also audited). The full birth
  date, next to a masked ID, would leave only a handful of candidates for the whole number,
  so it goes with identity; everyone else in scope gets the birth year.
* ``residents:read_care``: the care view. A reader without it over the resident's grid gets
  the sentinel view: name, masked ID, address, grid and the tags it reported itself — never
  clinical details (other tags), phone, sex, birth date or household, nor contact notes.
  Filters obey the same rule: a sentinel cannot find residents by a tag it did not report.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from services.core.residents.schemas import ResidentView
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission

IDENTITY = Permission.RESIDENTS_READ_IDENTITY
CARE = Permission.RESIDENTS_READ_CARE


def may_read_identity(principal: Principal, grid_path: str) -> bool:
    """Whether the caller may read the full ID number, phone and birth date of a resident of that grid."""
    return principal.can_at(IDENTITY, grid_path)


def view_for(principal: Principal, grid_path: str) -> ResidentView:
    """The care view where the caller holds ``residents:read_care`` over the grid; the sentinel view otherwise."""
    return ResidentView.CARE if principal.can_at(CARE, grid_path) else ResidentView.SENTINEL


def identity_clause(
    principal: Principal, path_column: InstrumentedAttribute[str] | ColumnElement[str]
) -> ColumnElement[bool]:
    """SQL twin of ``may_read_identity``: rows whose grid path lies where the caller reads full identity."""
    return scope_clause(principal, IDENTITY, path_column)


def care_view_clause(
    principal: Principal, path_column: InstrumentedAttribute[str] | ColumnElement[str]
) -> ColumnElement[bool]:
    """SQL twin of ``view_for``: rows whose grid path lies where the caller reads the care view."""
    return scope_clause(principal, CARE, path_column)
