"""Who is calling, and the policy that turns their grants into SQL filters.

Every scoped query in the code base gets its WHERE clause from ``scope_clause``:
a grant on an org unit covers that unit's whole subtree, found by prefix on the
``path`` column. A principal without the permission anywhere gets ``false()``, so a
list is empty and a get is 404: existence never leaks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, literal, or_
from sqlalchemy.orm import InstrumentedAttribute

from services.core.errors import Forbidden
from services.core.security.roles import ROLE_PERMISSIONS, Permission, Role


@dataclass(frozen=True)
class Grant:
    """An active role grant with the path of the org unit it covers."""

    id: uuid.UUID
    role: Role
    org_unit_id: uuid.UUID
    org_path: str
    institution_id: uuid.UUID | None = None  # an institution steward's grant may name its one institution

    def may(self, permission: Permission) -> bool:
        """Whether this grant's role has ``permission`` (the table decides, never the role's name)."""
        return permission in ROLE_PERMISSIONS[self.role]

    def covers(self, path: str) -> bool:
        """Whether the org unit with ``path`` lies in this grant's subtree."""
        return path.startswith(self.org_path)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a person or a system, with its active grants."""

    user_id: uuid.UUID
    username: str
    kind: str
    session_id: uuid.UUID
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    def paths_with(self, permission: Permission) -> list[str]:
        """Org-unit paths under which this principal holds ``permission``."""
        return [g.org_path for g in self.grants if permission in ROLE_PERMISSIONS[g.role]]

    def can(self, permission: Permission) -> bool:
        """Whether some grant gives ``permission`` somewhere."""
        return bool(self.paths_with(permission))

    def can_at(self, permission: Permission, path: str) -> bool:
        """Whether ``permission`` holds at the org unit with ``path``: ``scope_clause``'s rule, in Python,
        for a row already loaded (what of it the caller may see)."""
        return any(path.startswith(p) for p in self.paths_with(permission))

    def can_at_institution(self, permission: Permission, path: str, institution_id: uuid.UUID | None) -> bool:
        """Whether ``permission`` holds at ``path`` for a record of ``institution_id`` (None: no institution).

        A grant naming an institution covers only that institution's records.
        """
        return any(
            path.startswith(g.org_path) and (g.institution_id is None or g.institution_id == institution_id)
            for g in self.grants
            if permission in ROLE_PERMISSIONS[g.role]
        )

    def roles(self) -> set[Role]:
        """The roles this principal currently holds."""
        return {g.role for g in self.grants}


def require(principal: Principal, permission: Permission) -> None:
    """Refuse with 403 when the principal holds ``permission`` nowhere."""
    if not principal.can(permission):
        raise Forbidden(f"this account may not {permission.value}")


def scope_clause(
    principal: Principal,
    permission: Permission,
    path_column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | ColumnElement[str],
) -> ColumnElement[bool]:
    """SQL that keeps rows whose org-unit path lies under one of the principal's grants (a NULL path: none)."""
    paths = _outermost(principal.paths_with(permission))
    if not paths:
        return false()
    return or_(*(path_column.startswith(p) for p in paths))


def scope_or_ancestor_clause(
    principal: Principal, permission: Permission, path_column: InstrumentedAttribute[str] | ColumnElement[str]
) -> ColumnElement[bool]:
    """Like ``scope_clause``, plus rows sitting *above* a grant (a town's user sees the
    district-level institutions and teams that serve it). For reads of shared things only."""
    paths = principal.paths_with(permission)
    if not paths:
        return false()
    above = [literal(p).startswith(path_column) for p in sorted(set(paths))]
    return or_(scope_clause(principal, permission, path_column), *above)


def institution_scope_clause(
    principal: Principal,
    permission: Permission,
    path_column: InstrumentedAttribute[str] | ColumnElement[str],
    institution_column: InstrumentedAttribute[uuid.UUID | None] | InstrumentedAttribute[uuid.UUID],
    *,
    with_unaffiliated: bool = False,
) -> ColumnElement[bool]:
    """Like ``scope_clause``, but a grant naming an institution keeps only that institution's rows
    (and, ``with_unaffiliated``, rows of no institution in its unit: the community workers of its area)."""
    terms: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if permission not in ROLE_PERMISSIONS[g.role]:
            continue
        in_unit = path_column.startswith(g.org_path)
        if g.institution_id is None:
            terms.append(in_unit)
            continue
        ours = institution_column == g.institution_id
        terms.append(and_(in_unit, or_(ours, institution_column.is_(None)) if with_unaffiliated else ours))
    return or_(*terms) if terms else false()


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths already covered by a shorter one, keeping the SQL small."""
    kept: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept
