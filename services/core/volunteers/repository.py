"""Scoped statements every read of this package starts from.

A department's records are read under ``volunteers:read`` within the caller's subtree, narrowed to the
institution a grant names (a social worker sees their own department's). A volunteer's login
(``volunteers:submit_hours``) reads only the volunteer record, shifts and hours that are their own.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.security.principal import Principal, institution_scope_clause
from services.core.security.roles import Permission
from services.core.volunteers.models import GroupSession, Volunteer, VolunteerHours, VolunteerShift

M = TypeVar("M", Volunteer, VolunteerShift, VolunteerHours, GroupSession)


def _own(principal: Principal, model: Any) -> ColumnElement[bool]:
    """Rows that are the calling volunteer's own (none unless they hold ``volunteers:submit_hours``)."""
    if not principal.can(Permission.VOLUNTEERS_SUBMIT_HOURS):
        return false()
    mine = select(Volunteer.id).where(Volunteer.user_id == principal.user_id)
    column = model.id if model is Volunteer else model.volunteer_id
    return column.in_(mine)


def readable(principal: Principal, model: type[M], permission: Permission = Permission.VOLUNTEERS_READ) -> Select[M]:
    """``model`` rows in scope for ``permission``; for reads also the volunteer's own rows."""
    stmt = select(model).join(OrgUnit, OrgUnit.id == model.org_unit_id)
    where = institution_scope_clause(principal, permission, OrgUnit.path, model.institution_id)
    if permission is Permission.VOLUNTEERS_READ and model is not GroupSession:
        where = or_(where, _own(principal, model))
    return stmt.where(where)


async def get(
    db: AsyncSession,
    principal: Principal,
    model: type[M],
    ident: uuid.UUID,
    what: str,
    permission: Permission = Permission.VOLUNTEERS_READ,
    *,
    field: str | None = None,
    for_update: bool = False,
) -> tuple[M, str]:
    """One row in scope with its org unit's path; 404 (or 422 naming ``field``) otherwise."""
    stmt: Any = readable(principal, model, permission).where(model.id == ident).add_columns(OrgUnit.path)
    if for_update:
        stmt = stmt.with_for_update(of=model)
    row = (await db.execute(stmt)).first()
    if row is None:
        if field is not None:
            raise field_error(field, f"no {what} {ident} in your scope")
        raise NotFound(f"{what} {ident} not found")
    return row[0], row[1]


def may_read(principal: Principal) -> bool:
    """Whether the caller reads department records or at least their own (else 403 at the edge)."""
    return principal.can(Permission.VOLUNTEERS_READ) or principal.can(Permission.VOLUNTEERS_SUBMIT_HOURS)
