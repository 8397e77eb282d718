"""Exporting and importing the member roster.

Import is all-or-nothing. First every row is checked against the file and the database
(formats, unknown codes, one person per mobile, names that disagree with what is
registered, scope); any problem stops there. Then, inside a savepoint, the missing
records are created a kind at a time with the rules of the core services the API uses
(scope, overlaps, pairing areas; ``apply.py``, set-based so a district of 3,000 grids
takes seconds, not minutes); a problem there is collected against its row and the
savepoint is rolled back at the end, so the answer lists every problem and the
database is as before.

Re-import semantics: a record that already exists (unit by code, institution by credit
code, person by mobile, team by institution + name, and memberships, areas, roles and
pairings in force now) is ``unchanged``. The roster only creates: it never renames,
ends or replaces. A file that disagrees with a record in force (a different name for a
code or mobile, another leader, another team on an area) is refused with that row
listed. Records in force that the file does not mention are left as they are and
counted in ``not_in_file``.

The steps live beside this orchestration: ``export.py`` (the roster in force at an instant),
``plan.py`` (loading and checking, the first phase) and ``apply.py`` (creating, the second).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.org.models import OrgUnit
from services.core.roster import workbook as wb
from services.core.roster.apply import Importer
from services.core.roster.export import export_xlsx, gather
from services.core.roster.schemas import RosterCounts, RosterImportSummary
from services.core.roster.workbook import Roster, RosterInvalid
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal

__all__ = ["export_xlsx", "gather", "import_roster"]

KINDS = (
    "villages",
    "grids",
    "institutions",
    "stewards",
    "people",
    "teams",
    "members",
    "responsibilities",
    "community_roles",
    "pairings",
)


async def import_roster(
    db: AsyncSession,
    *,
    principal: Principal,
    target: OrgUnit,
    content: bytes,
    pii: PiiCipher,
    dry_run: bool = False,
) -> RosterImportSummary:
    """Check the whole workbook, then create what is missing in one savepoint; all or nothing.

    ``target`` (a town or the district, in the caller's write scope) bounds every row.
    Raises ``RosterInvalid`` (422, every problem listed) and changes nothing when anything is wrong.
    """
    at = clock.now()
    roster, errors = wb.read(content)
    importer = Importer(db, principal, target, at, pii)
    importer.errors.extend(errors)
    await importer.load(roster)
    importer.check_units(roster)
    importer.check_institutions(roster)
    importer.check_teams(roster)
    importer.check_members(roster)
    importer.check_community(roster)
    if importer.errors:
        raise RosterInvalid(importer.errors)
    # What is in force and not in the file, read before writing: the import only adds records the file
    # names and never ends one, so the answer is the same as after, and a first import reads an empty area.
    existing = await gather(db, target, at, pii=pii) if not dry_run else Roster()
    savepoint = await db.begin_nested()
    try:
        await importer.apply(roster)
    except BaseException:
        await savepoint.rollback()
        raise
    if importer.errors or dry_run:
        await savepoint.rollback()
        if importer.errors:
            raise RosterInvalid(importer.errors)
    else:
        await savepoint.commit()
    return RosterImportSummary(
        org_unit_id=target.id,
        at=at,
        dry_run=dry_run,
        created=sum(importer.created.values()),
        unchanged=sum(importer.unchanged.values()),
        by_kind={k: RosterCounts(created=importer.created[k], unchanged=importer.unchanged[k]) for k in KINDS},
        not_in_file=_not_in_file(existing, roster),
    )


def _not_in_file(existing: Roster, file: Roster) -> dict[str, int]:
    """Records in force in the area that the file does not mention (left as they are)."""
    keys: dict[str, Callable[[Roster], set[Any]]] = {
        "grids": lambda r: {(g.village_code, g.grid_code) for g in r.grids},
        "institutions": lambda r: {i.credit_code for i in r.institutions},
        "teams": lambda r: {(t.credit_code, t.name) for t in r.teams},
        "members": lambda r: {(m.credit_code, m.team_name, m.mobile) for m in r.members},
        "responsibilities": lambda r: {(t.credit_code, t.name, a) for t in r.teams for a in t.areas},
        "community_roles": lambda r: {(c.unit_code, c.role, c.mobile) for c in r.community},
    }
    return {kind: len(key(existing) - key(file)) for kind, key in keys.items()}
