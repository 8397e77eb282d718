"""Exporting and importing the member roster.

Import is all-or-nothing. First every row is checked against the file and the database
(formats, unknown codes, one person per mobile, names that disagree with what is
registered, scope); any problem stops there. Then, inside a savepoint, the missing
records are created through the same core service functions the API uses (they
check overlaps and pairing areas); a problem there is collected against its row and
the savepoint is rolled back at the end, so the answer lists every problem and the
database is as before.

Re-import semantics: a record that already exists (unit by code, institution by credit
code, person by mobile, team by institution + name, and memberships, areas, roles and
pairings in force now) is ``unchanged``. The roster only creates: it never renames,
ends or replaces. A file that disagrees with a record in force (a different name for a
code or mobile, another leader, another team on an area) is refused with that row
listed. Records in force that the file does not mention are left as they are and
counted in ``not_in_file``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, periods
from services.core.assignments import service as assignments_service
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, PairingKind, Responsibility
from services.core.assignments.schemas import CommunityRoleCreate, PairingCreate, ResponsibilityCreate
from services.core.audit import service as audit
from services.core.errors import DomainError
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.org.schemas import OrgUnitCreate
from services.core.roster import workbook as wb
from services.core.roster.schemas import RosterCounts, RosterImportSummary
from services.core.roster.workbook import CellError, Roster, RosterInvalid
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal
from services.core.teams import repository as teams_repository
from services.core.teams import service as teams_service
from services.core.teams.models import (
    Discipline,
    Institution,
    InstitutionKind,
    InstitutionLevel,
    InstitutionSteward,
    MemberRole,
    Person,
    PersonKind,
    Team,
    TeamKind,
    TeamLevel,
    TeamMember,
    TeamStatus,
)
from services.core.teams.schemas import InstitutionCreate, MemberCreate, PersonCreate, StewardCreate, TeamCreate

T = TypeVar("T")

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

# --- export -------------------------------------------------------------------------------


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
    phones = {pid: teams_service.open_mobile(p, pii) for pid, p in people.items()}

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


# --- import -------------------------------------------------------------------------------


@dataclass
class _Ref:
    sheet: str
    row: int
    column: str

    def error(self, message: str) -> CellError:
        return CellError(self.sheet, self.row, self.column, message)


@dataclass
class _PlannedPerson:
    name: str
    kind: PersonKind
    discipline: Discipline | None
    institution_code: str | None
    unit_code: str | None
    ref: _Ref


def _col(sheet: str, header: str) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(wb.HEADERS[sheet].index(header) + 1))


class _Importer:
    def __init__(self, db: AsyncSession, principal: Principal, target: OrgUnit, at: datetime, pii: PiiCipher) -> None:
        self.pii = pii
        self.db = db
        self.principal = principal
        self.target = target
        self.at = at
        self.errors: list[CellError] = []
        self.created: dict[str, int] = defaultdict(int)
        self.unchanged: dict[str, int] = defaultdict(int)
        self.units: dict[str, OrgUnit] = {}
        self.planned_units: dict[str, tuple[OrgUnitKind, str, str, str, _Ref]] = {}
        self.institutions: dict[str, Institution] = {}
        self.people: dict[str, Person] = {}
        self.planned_people: dict[str, _PlannedPerson] = {}
        self.teams: dict[tuple[str, str], Team] = {}
        self.district_code = ""
        self._by_id: dict[uuid.UUID, OrgUnit] = {}
        self.readable_people: set[uuid.UUID] = set()
        self.readable_institutions: set[uuid.UUID] = set()

    def err(self, sheet: str, row: int, header: str, message: str) -> None:
        self.errors.append(CellError(sheet, row, _col(sheet, header), message))

    # -- loading
    async def load(self, roster: Roster) -> None:
        district_id = self.target.district_id
        for u in (await self.db.scalars(select(OrgUnit).where(OrgUnit.district_id == district_id))).all():
            self.units[u.code] = u
            if u.kind == OrgUnitKind.DISTRICT:
                self.district_code = u.code
        codes = {i.credit_code for i in roster.institutions} | {t.credit_code for t in roster.teams}
        codes |= {m.credit_code for m in roster.members}
        for i in (await self.db.scalars(select(Institution).where(Institution.credit_code.in_(codes)))).all():
            self.institutions[i.credit_code] = i
        mobiles = {m.mobile for m in roster.members} | {c.mobile for c in roster.community}
        mobiles |= {i.steward_mobile for i in roster.institutions if i.steward_mobile}
        mobiles |= {c.paired_mobile for c in roster.community if c.paired_mobile}
        by_index = {teams_service.mobile_index(self.pii, m): m for m in mobiles}
        for p in (
            await self.db.scalars(
                select(Person).where(Person.district_id == district_id, Person.mobile_bidx.in_(list(by_index)))
            )
        ).all():
            self.people[by_index[p.mobile_bidx]] = p
        # Names of records the caller may not read never appear in an error message.
        self.readable_people = set(
            (
                await self.db.scalars(
                    teams_repository.readable_people(self.principal)
                    .where(Person.id.in_([p.id for p in self.people.values()]))
                    .with_only_columns(Person.id)
                )
            ).all()
        )
        self.readable_institutions = set(
            (
                await self.db.scalars(
                    teams_repository.readable_institutions(self.principal)
                    .where(Institution.id.in_([i.id for i in self.institutions.values()]))
                    .with_only_columns(Institution.id)
                )
            ).all()
        )
        inst_by_id = {i.id: code for code, i in self.institutions.items()}
        for t in (await self.db.scalars(select(Team).where(Team.institution_id.in_(list(inst_by_id))))).all():
            self.teams[(inst_by_id[t.institution_id], t.name)] = t

    def in_target(self, code: str) -> bool:
        unit = self.units.get(code)
        if unit is not None:
            return unit.path.startswith(self.target.path)
        planned = self.planned_units.get(code)
        return planned is not None and self.in_target(planned[1])

    def unit_kind(self, code: str) -> OrgUnitKind | None:
        if code in self.units:
            return OrgUnitKind(self.units[code].kind)
        if code in self.planned_units:
            return self.planned_units[code][0]
        return None

    # -- checking
    def check_units(self, roster: Roster) -> None:
        s = wb.GRIDS
        seen_grids: dict[str, int] = {}
        for g in roster.grids:
            town = self.units.get(g.town_code)
            if town is None or town.kind != OrgUnitKind.TOWN:
                self.err(s, g.row, "镇街编码", f"镇街编码“{g.town_code}”在本区不存在")
                continue
            if not town.path.startswith(self.target.path):
                self.err(s, g.row, "镇街编码", f"镇街“{town.name}”不在本次导入范围({self.target.name})内")
                continue
            category = OrgUnitCategory.COMMUNITY if g.village_category == "community" else OrgUnitCategory.VILLAGE
            ref = _Ref(s, g.row, _col(s, "村(社区)编码"))
            self._unit(g.village_code, OrgUnitKind.VILLAGE, town.code, g.village_name, category, ref, "村(社区)")
            if g.grid_code and g.grid_name:
                if g.grid_code in seen_grids:
                    self.err(s, g.row, "网格编码", f"网格编码“{g.grid_code}”与第{seen_grids[g.grid_code]}行重复")
                    continue
                seen_grids[g.grid_code] = g.row
                ref = _Ref(s, g.row, _col(s, "网格编码"))
                self._unit(
                    g.grid_code, OrgUnitKind.GRID, g.village_code, g.grid_name, OrgUnitCategory.GRID, ref, "网格"
                )

    def _unit(
        self, code: str, kind: OrgUnitKind, parent: str, name: str, category: OrgUnitCategory, ref: _Ref, what: str
    ) -> None:
        existing = self.units.get(code)
        if existing is not None:
            parent_unit = self.units.get(parent)
            if existing.kind != kind or parent_unit is None or existing.parent_id != parent_unit.id:
                self.errors.append(ref.error(f"{what}编码“{code}”已登记为其他单位“{existing.name}”"))
            elif existing.name != name:
                self.errors.append(ref.error(f"{what}“{code}”已登记名称为“{existing.name}”,与“{name}”不符"))
            elif kind is OrgUnitKind.VILLAGE and existing.category != category:
                self.errors.append(
                    ref.error(f"{what}“{code}”已登记为{'社区' if existing.category == 'community' else '村'}")
                )
            return
        planned = self.planned_units.get(code)
        if planned is not None:
            if planned[2] != name or planned[3] != category:
                self.errors.append(ref.error(f"{what}“{code}”在第{planned[4].row}行名称或类别不同"))
            return
        self.planned_units[code] = (kind, parent, name, category, ref)

    def plan_person(self, mobile: str, person: _PlannedPerson) -> None:
        existing = self.people.get(mobile)
        ref = person.ref
        if existing is not None:
            if existing.name != person.name and existing.id not in self.readable_people:
                self.errors.append(ref.error(f"手机 {mobile} 已在本区登记为他人(不在您的管理范围内)"))
            elif existing.name != person.name:
                self.errors.append(ref.error(f"手机 {mobile} 已登记为“{existing.name}”,与“{person.name}”不符"))
            elif existing.kind != person.kind:
                kind = "医务人员" if existing.kind == PersonKind.STAFF else "社区人员"
                self.errors.append(ref.error(f"手机 {mobile} 已登记为{kind}“{existing.name}”"))
            return
        planned = self.planned_people.get(mobile)
        if planned is None:
            self.planned_people[mobile] = person
            return
        if planned.name != person.name:
            self.errors.append(
                ref.error(
                    f"重复人员: 手机 {mobile} 在“{planned.ref.sheet}”第{planned.ref.row}行是“{planned.name}”,"
                    f"此处为“{person.name}”"
                )
            )
        elif planned.kind != person.kind:
            self.errors.append(ref.error(f"手机 {mobile} 不能既是医务人员又是社区人员"))

    def check_institutions(self, roster: Roster) -> None:
        s = wb.INSTITUTIONS
        seen: dict[str, int] = {}
        for i in roster.institutions:
            if i.credit_code in seen:
                self.err(s, i.row, "统一社会信用代码", f"信用代码与第{seen[i.credit_code]}行重复")
                continue
            seen[i.credit_code] = i.row
            existing = self.institutions.get(i.credit_code)
            if existing is not None:
                if existing.district_id != self.target.district_id:
                    self.err(s, i.row, "统一社会信用代码", "该信用代码已在其他区登记")
                elif existing.name != i.name and existing.id not in self.readable_institutions:
                    self.err(s, i.row, "机构名称", "该信用代码已登记为另一机构(不在您的管理范围内)")
                elif existing.name != i.name:
                    self.err(s, i.row, "机构名称", f"该信用代码已登记为“{existing.name}”")
                elif existing.kind != i.kind:
                    self.err(s, i.row, "机构类别", f"该机构已登记为“{wb.label(wb.INSTITUTION_KINDS, existing.kind)}”")
            else:
                unit = self.units.get(i.unit_code)
                if unit is None or unit.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN):
                    self.err(s, i.row, "所在区/镇街编码", f"“{i.unit_code}”不是本区或本区的镇街")
                elif not unit.path.startswith(self.target.path):
                    self.err(s, i.row, "所在区/镇街编码", f"新机构须位于导入范围({self.target.name})内")
            if i.steward_mobile and i.steward_name:
                self.plan_person(
                    i.steward_mobile,
                    _PlannedPerson(
                        i.steward_name,
                        PersonKind.STAFF,
                        i.steward_discipline,
                        i.credit_code,
                        None,
                        _Ref(s, i.row, _col(s, "家医管家手机")),
                    ),
                )

    def known_institution(self, code: str, roster_codes: set[str]) -> bool:
        return code in self.institutions or code in roster_codes

    def check_teams(self, roster: Roster) -> None:
        s = wb.TEAMS
        file_codes = {i.credit_code for i in roster.institutions}
        seen: dict[tuple[str, str], int] = {}
        claimed: dict[str, int] = {}
        for t in roster.teams:
            key = (t.credit_code, t.name)
            if not self.known_institution(t.credit_code, file_codes):
                self.err(s, t.row, "所属机构信用代码", f"机构“{t.credit_code}”既不在“机构”表中,也未登记")
            if key in seen:
                self.err(s, t.row, "团队名称", f"同一机构的团队“{t.name}”与第{seen[key]}行重复")
                continue
            seen[key] = t.row
            existing = self.teams.get(key)
            if existing is not None:
                if existing.kind != t.kind or existing.level != t.level:
                    self.err(s, t.row, "团队类别", "团队类别或层级与系统登记不符")
                if (existing.service_phone or None) != t.service_phone:
                    self.err(s, t.row, "服务电话", f"服务电话与系统登记(“{existing.service_phone or ''}”)不符")
            for code in t.areas:
                kind = self.unit_kind(code)
                if kind not in (OrgUnitKind.VILLAGE, OrgUnitKind.GRID):
                    self.err(s, t.row, "负责村(社区)/网格编码", f"村(社区)或网格编码“{code}”不存在")
                elif not self.in_target(code):
                    self.err(s, t.row, "负责村(社区)/网格编码", f"“{code}”不在导入范围({self.target.name})内")
                elif code in claimed:
                    self.err(s, t.row, "负责村(社区)/网格编码", f"“{code}”已由第{claimed[code]}行的团队负责")
                else:
                    claimed[code] = t.row

    def check_members(self, roster: Roster) -> None:
        s = wb.MEMBERS
        teams = {(t.credit_code, t.name) for t in roster.teams} | set(self.teams)
        seen: dict[tuple[str, str, str], int] = {}
        leaders: dict[tuple[str, str], int] = {}
        for m in roster.members:
            key = (m.credit_code, m.team_name)
            if key not in teams:
                self.err(s, m.row, "团队名称", f"团队“{m.team_name}”既不在“团队”表中,也未登记")
            if (*key, m.mobile) in seen:
                self.err(s, m.row, "手机", f"该成员与第{seen[(*key, m.mobile)]}行重复")
                continue
            seen[(*key, m.mobile)] = m.row
            if m.role is MemberRole.LEADER:
                if key in leaders:
                    self.err(s, m.row, "团队长/成员", f"一个团队只有一名团队长(见第{leaders[key]}行)")
                leaders[key] = m.row
            self.plan_person(
                m.mobile,
                _PlannedPerson(
                    m.name, PersonKind.STAFF, m.discipline, m.credit_code, None, _Ref(s, m.row, _col(s, "手机"))
                ),
            )

    def check_community(self, roster: Roster) -> None:
        s = wb.COMMUNITY
        single: dict[tuple[str, CommunityRoleKind], int] = {}
        seen: dict[tuple[str, CommunityRoleKind, str], int] = {}
        for c in roster.community:
            kind = self.unit_kind(c.unit_code)
            want = OrgUnitKind.VILLAGE if c.role is CommunityRoleKind.COMMUNITY_STEWARD else OrgUnitKind.GRID
            what = "村(社区)" if want is OrgUnitKind.VILLAGE else "网格"
            if kind is not want:
                self.err(s, c.row, "村(社区)/网格编码", f"{what}编码“{c.unit_code}”不存在")
            elif not self.in_target(c.unit_code):
                self.err(s, c.row, "村(社区)/网格编码", f"“{c.unit_code}”不在导入范围({self.target.name})内")
            key = (c.unit_code, c.role, c.mobile)
            if key in seen:
                self.err(s, c.row, "手机", f"与第{seen[key]}行重复")
                continue
            seen[key] = c.row
            if c.role is not CommunityRoleKind.SENTINEL:
                if (c.unit_code, c.role) in single:
                    self.err(
                        s,
                        c.row,
                        "角色",
                        f"每个{what}只有一名{wb.label(wb.COMMUNITY_ROLES, c.role)}"
                        f"(见第{single[(c.unit_code, c.role)]}行)",
                    )
                single[(c.unit_code, c.role)] = c.row
            self.plan_person(
                c.mobile,
                _PlannedPerson(
                    c.name, PersonKind.COMMUNITY_WORKER, None, None, c.unit_code, _Ref(s, c.row, _col(s, "手机"))
                ),
            )
        for c in roster.community:
            if c.paired_mobile is None:
                continue
            staff = self.people.get(c.paired_mobile)
            planned = self.planned_people.get(c.paired_mobile)
            person_kind = staff.kind if staff is not None else planned.kind if planned is not None else None
            if person_kind != PersonKind.STAFF:
                self.err(s, c.row, "结对人手机", f"结对人手机 {c.paired_mobile} 不是名册中或已登记的医务人员")

    # -- applying
    async def guarded(self, ref: _Ref, step: Awaitable[T]) -> T | None:
        """Await one core call; a domain error becomes this row's problem (checks precede writes in core)."""
        try:
            return await step
        except DomainError as exc:
            self.errors.append(ref.error(_explain(exc)))
            return None

    def count(self, kind: str, created: bool) -> None:
        (self.created if created else self.unchanged)[kind] += 1

    async def apply(self, roster: Roster) -> None:
        db, principal = self.db, self.principal
        # units, parents first (villages before grids)
        for code, (kind, parent, name, category, ref) in sorted(self.planned_units.items(), key=lambda kv: len(kv[0])):
            parent_unit = self.units.get(parent)
            if parent_unit is None:
                continue  # its parent failed; that row is already listed
            made = await self.guarded(
                ref,
                org_service.create(
                    db, principal, OrgUnitCreate(parent_id=parent_unit.id, code=code, name=name, category=category)
                ),
            )
            if made is not None:
                self.units[code] = made[0]
                self.count("villages" if kind is OrgUnitKind.VILLAGE else "grids", True)
        self.unchanged["villages"] = len({g.village_code for g in roster.grids} - set(self.planned_units))
        self.unchanged["grids"] = len({g.grid_code for g in roster.grids if g.grid_code} - set(self.planned_units))
        # institutions
        for i in roster.institutions:
            ref = _Ref(wb.INSTITUTIONS, i.row, _col(wb.INSTITUTIONS, "统一社会信用代码"))
            if i.credit_code in self.institutions:
                self.count("institutions", False)
                continue
            home = self.units[i.unit_code]
            made_inst = await self.guarded(
                ref,
                teams_service.create_institution(
                    db,
                    principal=principal,
                    data=InstitutionCreate(name=i.name, kind=i.kind, credit_code=i.credit_code, org_unit_id=home.id),
                ),
            )
            if made_inst is not None:
                self.institutions[i.credit_code] = made_inst[0]
                self.count("institutions", True)
        # people
        for mobile, p in self.planned_people.items():
            institution = self.institutions.get(p.institution_code or "")
            where = self.units.get(p.unit_code or "")
            if (p.kind is PersonKind.STAFF and institution is None) or (
                p.kind is PersonKind.COMMUNITY_WORKER and where is None
            ):
                continue
            made_person = await self.guarded(
                p.ref,
                teams_service.create_person(
                    db,
                    principal=principal,
                    pii=self.pii,
                    data=PersonCreate(
                        name=p.name,
                        kind=p.kind,
                        discipline=p.discipline if p.kind is PersonKind.STAFF else None,
                        mobile=mobile,
                        institution_id=institution.id if institution and p.kind is PersonKind.STAFF else None,
                        org_unit_id=where.id if where and p.kind is PersonKind.COMMUNITY_WORKER else None,
                    ),
                ),
            )
            if made_person is not None:
                self.people[mobile] = made_person[0]
                self.count("people", True)
        self.unchanged["people"] = len({m for m in self.people if m not in self.planned_people} & _mobiles(roster))
        await self.preload()
        await self.apply_stewards(roster)
        await self.apply_teams(roster)
        await self.apply_members(roster)
        await self.apply_responsibilities(roster)
        await self.apply_community(roster)

    async def preload(self) -> None:
        """What is in force in the district now, so the apply steps need no query per row."""
        district_id, at = self.target.district_id, self.at
        self.responsibility: dict[uuid.UUID, Responsibility] = {
            r.org_unit_id: r
            for r in (
                await self.db.scalars(
                    select(Responsibility).where(
                        Responsibility.district_id == district_id, periods.active_at(Responsibility, at)
                    )
                )
            ).all()
        }
        self.roles: dict[tuple[uuid.UUID, str, uuid.UUID], CommunityRole] = {
            (r.org_unit_id, r.role, r.person_id): r
            for r in (
                await self.db.scalars(
                    select(CommunityRole).where(
                        CommunityRole.district_id == district_id, periods.active_at(CommunityRole, at)
                    )
                )
            ).all()
        }
        self.pairings: dict[uuid.UUID, Pairing] = {
            p.community_role_id: p
            for p in (
                await self.db.scalars(
                    select(Pairing).where(Pairing.district_id == district_id, periods.active_at(Pairing, at))
                )
            ).all()
        }
        self.memberships: dict[tuple[uuid.UUID, uuid.UUID], TeamMember] = {
            (m.team_id, m.person_id): m
            for m in (
                await self.db.scalars(
                    select(TeamMember).where(TeamMember.district_id == district_id, periods.active_at(TeamMember, at))
                )
            ).all()
        }
        self.stewards: dict[uuid.UUID, InstitutionSteward] = {
            s.institution_id: s
            for s in (
                await self.db.scalars(
                    select(InstitutionSteward).where(
                        InstitutionSteward.district_id == district_id, periods.active_at(InstitutionSteward, at)
                    )
                )
            ).all()
        }

    def leader_of(self, team_id: uuid.UUID) -> TeamMember | None:
        return next(
            (m for (t, _), m in self.memberships.items() if t == team_id and m.role == MemberRole.LEADER.value), None
        )

    async def apply_stewards(self, roster: Roster) -> None:
        for i in roster.institutions:
            institution = self.institutions.get(i.credit_code)
            person = self.people.get(i.steward_mobile or "")
            if institution is None or person is None:
                continue
            ref = _Ref(wb.INSTITUTIONS, i.row, _col(wb.INSTITUTIONS, "家医管家手机"))
            current = self.stewards.get(institution.id)
            if current is not None:
                if current.person_id == person.id:
                    self.count("stewards", False)
                else:
                    self.errors.append(ref.error("该机构已有另一名家医管家在任;请先在系统中结束其任期"))
                continue
            made = await self.guarded(
                ref,
                teams_service.appoint_steward(
                    self.db,
                    principal=self.principal,
                    institution_id=institution.id,
                    data=StewardCreate(person_id=person.id, starts_at=self.at),
                ),
            )
            if made is not None:
                self.stewards[institution.id] = made[0]
                self.count("stewards", True)

    async def apply_teams(self, roster: Roster) -> None:
        for t in roster.teams:
            key = (t.credit_code, t.name)
            if key in self.teams:
                self.count("teams", False)
                continue
            institution = self.institutions.get(t.credit_code)
            if institution is None:
                continue
            made = await self.guarded(
                _Ref(wb.TEAMS, t.row, _col(wb.TEAMS, "团队名称")),
                teams_service.create_team(
                    self.db,
                    principal=self.principal,
                    data=TeamCreate(
                        institution_id=institution.id,
                        name=t.name,
                        kind=t.kind,
                        level=t.level,
                        service_phone=t.service_phone,
                    ),
                ),
            )
            if made is not None:
                self.teams[key] = made[0]
                self.count("teams", True)

    async def apply_members(self, roster: Roster) -> None:
        for m in roster.members:
            team = self.teams.get((m.credit_code, m.team_name))
            person = self.people.get(m.mobile)
            if team is None or person is None:
                continue
            ref = _Ref(wb.MEMBERS, m.row, _col(wb.MEMBERS, "团队长/成员"))
            current = self.memberships.get((team.id, person.id))
            if current is not None:
                if current.role == m.role:
                    self.count("members", False)
                else:
                    self.errors.append(
                        ref.error(f"系统中此人在该团队的角色为“{wb.label(wb.MEMBER_ROLES, current.role)}”")
                    )
                continue
            made = await self.guarded(
                ref,
                teams_service.add_member(
                    self.db,
                    principal=self.principal,
                    team_id=team.id,
                    data=MemberCreate(person_id=person.id, role=m.role, discipline=m.discipline, starts_at=self.at),
                ),
            )
            if made is not None:
                self.memberships[(team.id, person.id)] = made[0]
                self.count("members", True)

    async def apply_responsibilities(self, roster: Roster) -> None:
        for t in roster.teams:
            team = self.teams.get((t.credit_code, t.name))
            if team is None:
                continue
            for code in t.areas:
                unit = self.units.get(code)
                if unit is None:
                    continue
                ref = _Ref(wb.TEAMS, t.row, _col(wb.TEAMS, "负责村(社区)/网格编码"))
                current = self.responsibility.get(unit.id)
                if current is not None and current.team_id == team.id:
                    self.count("responsibilities", False)
                    continue
                made = await self.guarded(
                    ref,
                    assignments_service.assign_team(
                        self.db,
                        principal=self.principal,
                        data=ResponsibilityCreate(team_id=team.id, org_unit_id=unit.id, starts_at=self.at),
                    ),
                )
                if made is not None:
                    self.responsibility[unit.id] = made[0]
                    self.count("responsibilities", True)

    async def apply_community(self, roster: Roster) -> None:
        s = wb.COMMUNITY
        for c in roster.community:
            unit = self.units.get(c.unit_code)
            person = self.people.get(c.mobile)
            if unit is None or person is None:
                continue
            ref = _Ref(s, c.row, _col(s, "角色"))
            role: CommunityRole | None = self.roles.get((unit.id, c.role.value, person.id))
            if role is not None:
                self.count("community_roles", False)
            else:
                made = await self.guarded(
                    ref,
                    assignments_service.add_community_role(
                        self.db,
                        principal=self.principal,
                        data=CommunityRoleCreate(
                            role=c.role, person_id=person.id, org_unit_id=unit.id, starts_at=self.at
                        ),
                    ),
                )
                role = made[0] if made is not None else None
                if role is not None:
                    self.roles[(unit.id, c.role.value, person.id)] = role
                    self.count("community_roles", True)
            if role is not None:
                await self.pair(c, role, _Ref(s, c.row, _col(s, "结对人手机")))

    async def pair(self, c: wb.CommunityRow, role: CommunityRole, ref: _Ref) -> None:
        existing = self.pairings.get(role.id)
        medical = await self.medical_side(c, role, ref)
        if medical is None:
            if existing is not None and c.paired_mobile is None:
                self.count("pairings", False)
            return
        if existing is not None:
            if medical in (existing.team_member_id, existing.institution_steward_id):
                self.count("pairings", False)
            elif c.paired_mobile is None:
                self.count("pairings", False)  # derived pairing: keep the one in force
            else:
                self.errors.append(ref.error("此人已与另一名医务人员结对;请先在系统中结束原结对"))
            return
        kind = {
            CommunityRoleKind.COMMUNITY_STEWARD: PairingKind.STEWARDS,
            CommunityRoleKind.GRID_LEADER: PairingKind.LEADERS,
            CommunityRoleKind.SENTINEL: PairingKind.MEMBER_SENTINEL,
        }[c.role]
        made = await self.guarded(
            ref,
            assignments_service.create_pairing(
                self.db,
                principal=self.principal,
                data=PairingCreate(kind=kind, medical_side_id=medical, community_role_id=role.id, starts_at=self.at),
            ),
        )
        if made is not None:
            self.pairings[role.id] = made[0]
            self.count("pairings", True)

    async def medical_side(self, c: wb.CommunityRow, role: CommunityRole, ref: _Ref) -> uuid.UUID | None:
        """The steward or membership record to pair with: named by mobile, or derived when left empty."""
        person = self.people.get(c.paired_mobile) if c.paired_mobile else None
        if c.paired_mobile and person is None:
            return None  # the person failed to be created; listed already
        if c.role is CommunityRoleKind.COMMUNITY_STEWARD:
            if person is not None:
                found = next((s.id for s in self.stewards.values() if s.person_id == person.id), None)
                if found is None:
                    self.errors.append(ref.error(f"结对人 {c.paired_mobile} 不是在任的机构家医管家"))
                return found
            areas = [role.org_unit_id] + [u.id for u in self.units.values() if u.parent_id == role.org_unit_id]
            candidates: list[tuple[bool, str, uuid.UUID]] = []
            for area in areas:
                responsible = self.responsibility.get(area)
                team = await self.db.get(Team, responsible.team_id) if responsible else None
                institution = await self.db.get(Institution, team.institution_id) if team else None
                steward = self.stewards.get(institution.id) if institution else None
                if institution is not None and steward is not None:
                    candidates.append(
                        (institution.level != InstitutionLevel.PRIMARY, institution.credit_code, steward.id)
                    )
            return min(candidates)[2] if candidates else None
        grid = self.units_by_id().get(role.org_unit_id)
        responsible = self.responsibility.get(role.org_unit_id) or (
            self.responsibility.get(grid.parent_id) if grid is not None and grid.parent_id else None
        )
        if responsible is None:
            if person is not None:
                self.errors.append(ref.error("该网格此时没有负责的家医团队,无法结对"))
            return None
        if person is not None:
            member = self.memberships.get((responsible.team_id, person.id))
            if member is None:
                self.errors.append(ref.error(f"结对人 {c.paired_mobile} 不是负责该网格的家医团队的成员"))
                return None
            if c.role is CommunityRoleKind.GRID_LEADER and member.role != MemberRole.LEADER.value:
                self.errors.append(ref.error("网格长与家医团队长结对;结对人不是团队长"))
                return None
            return member.id
        if c.role is CommunityRoleKind.GRID_LEADER:
            leader = self.leader_of(responsible.team_id)
            return leader.id if leader is not None else None
        return None  # a sentinel left unpaired on purpose

    def units_by_id(self) -> dict[uuid.UUID, OrgUnit]:
        if len(self._by_id) != len(self.units):
            self._by_id = {u.id: u for u in self.units.values()}
        return self._by_id


def _mobiles(roster: Roster) -> set[str]:
    out = {m.mobile for m in roster.members} | {c.mobile for c in roster.community}
    return out | {i.steward_mobile for i in roster.institutions if i.steward_mobile}


def _explain(exc: DomainError) -> str:
    errors = exc.extra.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)) or str(exc.detail)
    return str(exc.detail)


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
    importer = _Importer(db, principal, target, at, pii)
    importer.errors.extend(errors)
    await importer.load(roster)
    importer.check_units(roster)
    importer.check_institutions(roster)
    importer.check_teams(roster)
    importer.check_members(roster)
    importer.check_community(roster)
    if importer.errors:
        raise RosterInvalid(importer.errors)
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
    existing = await gather(db, target, at, pii=pii) if not dry_run else Roster()
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
