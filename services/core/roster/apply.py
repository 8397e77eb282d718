"""Applying a checked roster plan inside the caller's savepoint: the missing records are created through
the same core service functions the API uses; a domain error becomes a problem on its row."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy import select

from services.core import periods
from services.core.assignments import service as assignments_service
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, PairingKind, Responsibility
from services.core.assignments.schemas import CommunityRoleCreate, PairingCreate, ResponsibilityCreate
from services.core.errors import DomainError
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.org.schemas import OrgUnitCreate
from services.core.roster import workbook as wb
from services.core.roster.export import _mobiles
from services.core.roster.plan import Planner, _col, _Ref
from services.core.roster.workbook import Roster
from services.core.teams import institutions as institution_service
from services.core.teams import members as member_service
from services.core.teams import people as people_service
from services.core.teams import teams as team_service
from services.core.teams.models import (
    Institution,
    InstitutionLevel,
    InstitutionSteward,
    MemberRole,
    PersonKind,
    Team,
    TeamMember,
)
from services.core.teams.schemas import InstitutionCreate, MemberCreate, PersonCreate, StewardCreate, TeamCreate

T = TypeVar("T")


class Importer(Planner):
    """A checked plan (``plan.Planner``) that writes what is missing."""

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
                institution_service.create_institution(
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
                people_service.create_person(
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
                institution_service.appoint_steward(
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
                team_service.create_team(
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
                member_service.add_member(
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


def _explain(exc: DomainError) -> str:
    errors = exc.extra.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)) or str(exc.detail)
    return str(exc.detail)
