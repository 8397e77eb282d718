"""Exporting the member roster: what is in force in a town or the district at an instant, as a workbook."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import periods
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, Responsibility
from services.core.audit import service as audit
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.roster import workbook as wb
from services.core.roster.workbook import Roster
from services.core.security.pii import PiiCipher
from services.core.teams import people as people_service
from services.core.teams.models import (
    Discipline,
    Institution,
    InstitutionKind,
    InstitutionLevel,
    InstitutionSteward,
    MemberRole,
    Person,
    Team,
    TeamKind,
    TeamLevel,
    TeamMember,
    TeamStatus,
)


async def gather(db: AsyncSession, unit: OrgUnit, at: datetime, *, pii: PiiCipher) -> Roster:
    """The roster of a town or the district as it stood at ``at`` (the caller checked scope)."""
    roster = Roster()
    units = list(
        (
            await db.scalars(
                select(OrgUnit)
                .where(OrgUnit.path.startswith(unit.path), OrgUnit.kind.in_(("village", "grid")))
                .order_by(OrgUnit.code)
            )
        ).all()
    )
    unit_ids = {u.id for u in units}
    by_id: dict[uuid.UUID, OrgUnit] = {u.id: u for u in units}
    parents = {u.parent_id for u in units if u.kind == OrgUnitKind.VILLAGE}
    towns = {t.id: t for t in (await db.scalars(select(OrgUnit).where(OrgUnit.id.in_(parents)))).all()}
    villages_with_grids = {u.parent_id for u in units if u.kind == OrgUnitKind.GRID}
    for u in units:
        if u.kind == OrgUnitKind.VILLAGE and u.id not in villages_with_grids:
            town = towns[u.parent_id] if u.parent_id in towns else None
            roster.grids.append(_grid_row(town, u, None))
        elif u.kind == OrgUnitKind.GRID and u.parent_id in by_id:
            village = by_id[u.parent_id]
            town = towns.get(village.parent_id) if village.parent_id else None
            roster.grids.append(_grid_row(town, village, u))
    roster.grids.sort(key=lambda g: (g.village_code, g.grid_code or ""))

    resp_rows = (
        await db.scalars(
            select(Responsibility).where(
                Responsibility.org_unit_id.in_(unit_ids), periods.active_at(Responsibility, at)
            )
        )
    ).all()
    areas: dict[uuid.UUID, list[str]] = defaultdict(list)
    for r in resp_rows:
        areas[r.team_id].append(by_id[r.org_unit_id].code)
    based = select(Team.id).join(OrgUnit, OrgUnit.id == Team.org_unit_id).where(OrgUnit.path.startswith(unit.path))
    teams = list(
        (
            await db.scalars(
                select(Team).where(
                    (Team.id.in_(list(areas))) | (Team.id.in_(based)), Team.status != TeamStatus.DISSOLVED.value
                )
            )
        ).all()
    )
    here = select(Institution.id).join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
    institutions = list(
        (
            await db.scalars(
                select(Institution).where(
                    Institution.id.in_([t.institution_id for t in teams])
                    | Institution.id.in_(here.where(OrgUnit.path.startswith(unit.path)))
                )
            )
        ).all()
    )
    inst_by_id = {i.id: i for i in institutions}
    inst_units = {
        u.id: u.code
        for u in (await db.scalars(select(OrgUnit).where(OrgUnit.id.in_({i.org_unit_id for i in institutions})))).all()
    }
    stewards = {
        s.institution_id: s
        for s in (
            await db.scalars(
                select(InstitutionSteward).where(
                    InstitutionSteward.institution_id.in_(list(inst_by_id)), periods.active_at(InstitutionSteward, at)
                )
            )
        ).all()
    }
    members = list(
        (
            await db.scalars(
                select(TeamMember).where(
                    TeamMember.team_id.in_([t.id for t in teams]), periods.active_at(TeamMember, at)
                )
            )
        ).all()
    )
    roles = list(
        (
            await db.scalars(
                select(CommunityRole).where(
                    CommunityRole.org_unit_id.in_(unit_ids), periods.active_at(CommunityRole, at)
                )
            )
        ).all()
    )
    pairings = {
        p.community_role_id: p
        for p in (
            await db.scalars(
                select(Pairing).where(
                    Pairing.community_role_id.in_([r.id for r in roles]), periods.active_at(Pairing, at)
                )
            )
        ).all()
    }
    steward_rows = {
        s.id: s
        for s in (
            await db.scalars(
                select(InstitutionSteward).where(
                    InstitutionSteward.id.in_([p.institution_steward_id for p in pairings.values()])
                )
            )
        ).all()
    }
    member_rows = {
        m.id: m
        for m in (
            await db.scalars(select(TeamMember).where(TeamMember.id.in_([p.team_member_id for p in pairings.values()])))
        ).all()
    }
    person_ids = (
        {s.person_id for s in stewards.values()}
        | {m.person_id for m in members}
        | {r.person_id for r in roles}
        | {s.person_id for s in steward_rows.values()}
        | {m.person_id for m in member_rows.values()}
    )
    people = {p.id: p for p in (await db.scalars(select(Person).where(Person.id.in_(person_ids)))).all()}
    phones = {pid: people_service.open_mobile(p, pii) for pid, p in people.items()}

    for i in sorted(
        institutions, key=lambda i: (i.level != InstitutionLevel.DISTRICT, inst_units[i.org_unit_id], i.name)
    ):
        s = stewards.get(i.id)
        sp = people[s.person_id] if s else None
        roster.institutions.append(
            wb.InstitutionRow(
                0,
                i.name,
                InstitutionKind(i.kind),
                i.credit_code,
                inst_units[i.org_unit_id],
                sp.name if sp else None,
                phones[sp.id] if sp else None,
                Discipline(sp.discipline or Discipline.OTHER) if sp else Discipline.OTHER,
            )
        )
    team_by_id = {t.id: t for t in teams}
    for t in sorted(teams, key=lambda t: (inst_by_id[t.institution_id].credit_code, t.name)):
        roster.teams.append(
            wb.TeamRow(
                0,
                t.name,
                inst_by_id[t.institution_id].credit_code,
                TeamKind(t.kind),
                TeamLevel(t.level),
                t.service_phone,
                sorted(areas.get(t.id, [])),
            )
        )
    for m in sorted(members, key=lambda m: (str(m.team_id), m.role, phones[m.person_id])):
        t = team_by_id[m.team_id]
        p = people[m.person_id]
        roster.members.append(
            wb.MemberRow(
                0,
                t.name,
                inst_by_id[t.institution_id].credit_code,
                p.name,
                phones[p.id],
                Discipline(m.discipline),
                MemberRole(m.role),
            )
        )
    roster.members.sort(key=lambda m: (m.credit_code, m.team_name, m.role != MemberRole.LEADER, m.mobile))
    order = {CommunityRoleKind.COMMUNITY_STEWARD: 0, CommunityRoleKind.GRID_LEADER: 1, CommunityRoleKind.SENTINEL: 2}
    for cr in roles:
        pairing = pairings.get(cr.id)
        paired: str | None = None
        if pairing is not None and pairing.institution_steward_id in steward_rows:
            paired = phones[steward_rows[pairing.institution_steward_id].person_id]
        elif pairing is not None and pairing.team_member_id in member_rows:
            paired = phones[member_rows[pairing.team_member_id].person_id]
        p = people[cr.person_id]
        roster.community.append(
            wb.CommunityRow(0, by_id[cr.org_unit_id].code, CommunityRoleKind(cr.role), p.name, phones[p.id], paired)
        )
    roster.community.sort(key=lambda c: (c.unit_code[:12], c.unit_code, order[c.role], c.mobile))
    return roster


def _grid_row(town: OrgUnit | None, village: OrgUnit, grid: OrgUnit | None) -> wb.GridRow:
    return wb.GridRow(
        0,
        town.code if town else "",
        town.name if town else "",
        village.code,
        village.name,
        "community" if village.category == OrgUnitCategory.COMMUNITY else "village",
        grid.code if grid else None,
        grid.name if grid else None,
    )


async def export_xlsx(
    db: AsyncSession, unit: OrgUnit, at: datetime, *, pii: PiiCipher, actor_id: uuid.UUID | None
) -> bytes:
    """The roster of ``unit`` at ``at`` as .xlsx bytes, full mobiles included: one audit event per export."""
    roster = await gather(db, unit, at, pii=pii)
    await audit.record(
        db,
        actor_id=actor_id,
        action="roster.exported",
        subject_type="org_unit",
        subject_id=unit.id,
        org_path=unit.path,
        details={"at": at.isoformat(), "mobiles_revealed": len(_mobiles(roster))},
    )
    return wb.write(roster, title=f"{unit.name}({unit.code}) {at:%Y-%m-%d}")


def _mobiles(roster: Roster) -> set[str]:
    out = {m.mobile for m in roster.members} | {c.mobile for c in roster.community}
    return out | {i.steward_mobile for i in roster.institutions if i.steward_mobile}
