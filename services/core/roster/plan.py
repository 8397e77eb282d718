"""Planning a roster import: load what is registered, then check every row against the file and the
database (formats, unknown codes, one person per mobile, names that disagree, scope), collecting problems."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.assignments.models import CommunityRoleKind
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.roster import workbook as wb
from services.core.roster.workbook import CellError, Roster
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal
from services.core.teams import people as people_service
from services.core.teams import repository as teams_repository
from services.core.teams.models import Discipline, Institution, MemberRole, Person, PersonKind, Team


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


class Planner:
    """What the file asks for, checked; ``apply.Importer`` then writes it."""

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
        self._children: dict[uuid.UUID, list[uuid.UUID]] = {}
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
        by_index = {people_service.mobile_index(self.pii, m): m for m in mobiles}
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
