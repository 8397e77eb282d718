"""Applying a checked roster plan inside the caller's savepoint: what is missing is created with the
rules of the core services that create each record, checked a kind at a time and written set-based
(``bulk``); a broken rule becomes a problem on its row.

Why not one service call per record: a district's first import is about 25,000 records and each call
costs some ten round trips (scope, lock, overlap, insert, audit), which took minutes. Each kind (units,
institutions, people, stewards, teams, memberships, responsibilities, community roles, pairings) is
checked here with its service's scope statements, kinds, period rules and area rules, under the same
row locks (taken once per kind, in id order), and inserted with its audit events in a few statements.
A rule added to one of those services must be added to its twin here (CONTRIBUTING.md).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.core import periods
from services.core.assignments import repository as assignments_repository
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, PairingKind, Responsibility
from services.core.assignments.service import _COMMUNITY_SIDE as COMMUNITY_SIDE
from services.core.assignments.service import _UNIT_OF_ROLE as UNIT_OF_ROLE
from services.core.errors import DomainError
from services.core.org import repository as org_repository
from services.core.org.codes import CHILD_KIND, code_problem
from services.core.org.models import CATEGORIES_OF, OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.roster import bulk
from services.core.roster import workbook as wb
from services.core.roster.export import _mobiles
from services.core.roster.plan import Planner, _col, _PlannedPerson, _Ref
from services.core.roster.workbook import Roster
from services.core.security.roles import Permission
from services.core.teams import people as people_service
from services.core.teams import repository as teams_repository
from services.core.teams import validation
from services.core.teams.models import (
    LEVEL_OF_KIND,
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


class Importer(Planner):
    """A checked plan (``plan.Planner``) that writes what is missing."""

    # -- applying
    def count(self, kind: str, created: bool) -> None:
        (self.created if created else self.unchanged)[kind] += 1

    async def apply(self, roster: Roster) -> None:
        """Create what the plan found missing, a kind at a time (``bulk``); the rare kinds
        (institutions, stewards, teams) through their core services, one call per record."""
        self.writer = bulk.Writer(self.db, self.principal, self.at)
        await self.apply_units(roster)
        await self.apply_institutions(roster)
        await self.apply_people(roster)
        await self.preload()
        await self.apply_stewards(roster)
        await self.apply_teams(roster)
        await self.apply_members(roster)
        await self.apply_responsibilities(roster)
        await self.apply_community(roster)

    async def apply_units(self, roster: Roster) -> None:
        """Villages, then grids: ``org.service.create``'s rules (parent writable, child kind, category,
        code format, code free anywhere), one INSERT per level."""
        for level in (OrgUnitKind.VILLAGE, OrgUnitKind.GRID):
            batch = [(code, p) for code, p in self.planned_units.items() if p[0] is level]
            parents = {self.units[p[1]].id for _, p in batch if p[1] in self.units}
            writable = await bulk.ids_in(
                self.db, org_repository.readable(self.principal, Permission.ORG_WRITE), OrgUnit.id, parents
            )
            taken = await bulk.ids_in(self.db, select(OrgUnit), OrgUnit.code, [code for code, _ in batch])
            records: list[OrgUnit] = []
            audits: list[tuple[str, str, dict[str, object]]] = []
            for code, (_, parent, name, category, ref) in batch:
                parent_unit = self.units.get(parent)
                if parent_unit is None:
                    continue  # its parent failed; that row is already listed
                parent_kind = OrgUnitKind(parent_unit.kind)
                kind = CHILD_KIND.get(parent_kind)
                problem = (
                    "上级单位不在您的可写范围内"
                    if parent_unit.id not in writable
                    else "a grid has no child units"
                    if kind is None
                    else f"a {kind.value} is one of: {', '.join(sorted(c.value for c in CATEGORIES_OF[kind]))}"
                    if OrgUnitCategory(category) not in CATEGORIES_OF[kind]
                    else code_problem(kind, code, parent_unit.code)
                    or (f"code {code} is already used" if code in taken else None)
                )
                if problem or kind is None:
                    self.errors.append(ref.error(problem or ""))
                    continue
                unit = OrgUnit(
                    id=uuid.uuid4(),
                    kind=kind,
                    category=category,
                    code=code,
                    name=name.strip(),
                    parent_id=parent_unit.id,
                    district_id=parent_unit.district_id,
                    path=f"{parent_unit.path}{code}/",
                )
                records.append(unit)
                audits.append(("org_unit.created", unit.path, {"code": unit.code, "kind": unit.kind}))
                self.units[code] = unit
                self.count("villages" if kind is OrgUnitKind.VILLAGE else "grids", True)
            await self.writer.insert(records, audits)
        self.unchanged["villages"] = len({g.village_code for g in roster.grids} - set(self.planned_units))
        self.unchanged["grids"] = len({g.grid_code for g in roster.grids if g.grid_code} - set(self.planned_units))

    async def apply_people(self, roster: Roster) -> None:
        """``teams.people.create_person``'s rules (mobile format, staff have a discipline, the institution
        readable, the home unit writable for people of that institution), one INSERT."""
        principal = self.principal
        wanted: list[tuple[str, _PlannedPerson, Institution | None, OrgUnit | None]] = []
        for mobile, p in self.planned_people.items():
            institution = self.institutions.get(p.institution_code or "")
            where = self.units.get(p.unit_code or "")
            if (p.kind is PersonKind.STAFF and institution is None) or (
                p.kind is PersonKind.COMMUNITY_WORKER and where is None
            ):
                continue
            wanted.append((mobile, p, institution, where))
        by_id = self.units_by_id()
        institution_ids = {i.id for _, p, i, _ in wanted if i is not None and p.kind is PersonKind.STAFF}
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_institutions(principal), Institution.id, institution_ids
        )
        homes = {
            w.id if p.kind is PersonKind.COMMUNITY_WORKER and w else i.org_unit_id if i else None
            for _, p, i, w in wanted
        }
        writable = await bulk.ids_in(
            self.db, org_repository.readable(principal, Permission.PEOPLE_WRITE), OrgUnit.id, homes - {None}
        )
        records: list[Person] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for mobile, p, institution, where in wanted:
            staff = p.kind is PersonKind.STAFF
            institution_id = institution.id if institution and staff else None
            home = (
                by_id.get(where.id)
                if where and not staff
                else by_id.get(institution.org_unit_id)
                if institution
                else None
            )
            try:
                phone = validation.mobile(mobile)
            except DomainError as exc:
                self.errors.append(p.ref.error(_explain(exc)))
                continue
            problem = (
                "required for staff"
                if staff and p.discipline is None
                else "机构不在您的管理范围内"
                if institution_id is not None and institution_id not in readable
                else "所在单位不在您的可写范围内"
                if home is None or home.id not in writable
                else "you manage the staff of one institution only"
                if not principal.can_at_institution(Permission.PEOPLE_WRITE, home.path, institution_id)
                else None
            )
            if problem or home is None:
                self.errors.append(p.ref.error(problem or ""))
                continue
            person = Person(
                id=uuid.uuid4(),
                name=p.name.strip(),
                kind=p.kind,
                discipline=p.discipline if staff else None,
                institution_id=institution_id,
                org_unit_id=home.id,
                user_id=None,
                district_id=home.district_id,
            )
            people_service.seal_mobile(person, self.pii, phone)
            records.append(person)
            audits.append(("person.created", home.path, {"kind": p.kind}))
            self.people[mobile] = person
            self.count("people", True)
        await self.writer.insert(records, audits)
        self.unchanged["people"] = len({m for m in self.people if m not in self.planned_people} & _mobiles(roster))

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

    async def apply_institutions(self, roster: Roster) -> None:
        """``teams.institutions.create_institution``'s rules (credit code format and free anywhere, its unit
        writable and the district or a town), one INSERT."""
        wanted = [i for i in roster.institutions if i.credit_code not in self.institutions]
        self.unchanged["institutions"] = len(roster.institutions) - len(wanted)
        if not wanted:
            return
        homes = {self.units[i.unit_code].id for i in wanted if i.unit_code in self.units}
        writable = await bulk.ids_in(
            self.db, org_repository.readable(self.principal, Permission.INSTITUTIONS_WRITE), OrgUnit.id, homes
        )
        records: list[Institution] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        codes: dict[str, str | DomainError] = {}
        for i in wanted:
            try:
                codes[i.credit_code] = validation.credit_code(i.credit_code)
            except DomainError as exc:
                codes[i.credit_code] = exc
        taken = await bulk.ids_in(
            self.db, select(Institution), Institution.credit_code, [c for c in codes.values() if isinstance(c, str)]
        )
        for i in wanted:
            ref = _Ref(wb.INSTITUTIONS, i.row, _col(wb.INSTITUTIONS, "统一社会信用代码"))
            home = self.units[i.unit_code]
            code = codes[i.credit_code]
            if isinstance(code, DomainError):
                self.errors.append(ref.error(_explain(code)))
                continue
            problem = (
                "所在单位不在您的可写范围内"
                if home.id not in writable
                else "an institution sits in the district or a town"
                if home.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN)
                else f"credit code {code} is already registered"
                if code in taken
                else None
            )
            if problem:
                self.errors.append(ref.error(problem))
                continue
            institution = Institution(
                id=uuid.uuid4(),
                name=i.name.strip(),
                kind=i.kind,
                level=LEVEL_OF_KIND[InstitutionKind(i.kind)],
                credit_code=code,
                org_unit_id=home.id,
                district_id=home.district_id,
            )
            records.append(institution)
            audits.append(("institution.created", home.path, {"kind": i.kind}))
            self.institutions[i.credit_code] = institution
            self.count("institutions", True)
        await self.writer.insert(records, audits)

    async def apply_stewards(self, roster: Roster) -> None:
        """``teams.institutions.appoint_steward``'s rules (the institution writable and locked, the person a
        readable staff member, one steward at a time), one INSERT."""
        wanted: list[tuple[Institution, Person, _Ref]] = []
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
            wanted.append((institution, person, ref))
        if not wanted:
            return
        ids = {institution.id for institution, _, _ in wanted}
        await bulk.lock(self.db, Institution.id, ids)
        writable = await bulk.ids_in(
            self.db,
            teams_repository.readable_institutions(self.principal, Permission.INSTITUTIONS_WRITE),
            Institution.id,
            ids,
        )
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_people(self.principal), Person.id, {p.id for _, p, _ in wanted}
        )
        taken = {
            row.institution_id
            for row in await bulk.overlapping(
                self.db, InstitutionSteward, InstitutionSteward.institution_id, ids, starts_at=self.at
            )
        }
        records: list[InstitutionSteward] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for institution, person, ref in wanted:
            problem = (
                "机构不在您的可写范围内"
                if institution.id not in writable
                else "人员不在您的管理范围内"
                if person.id not in readable
                else "an institution steward is a staff member"
                if person.kind != PersonKind.STAFF
                else "the institution already has a steward then"
                if institution.id in taken
                else None
            )
            if problem:
                self.errors.append(ref.error(problem))
                continue
            steward = InstitutionSteward(
                id=uuid.uuid4(),
                institution_id=institution.id,
                person_id=person.id,
                starts_at=self.at,
                ends_at=None,
                district_id=institution.district_id,
            )
            taken.add(institution.id)
            records.append(steward)
            audits.append(
                (
                    "institution_steward.appointed",
                    await self.path(institution.org_unit_id),
                    {"institution_id": institution.id},
                )
            )
            self.stewards[institution.id] = steward
            self.count("stewards", True)
        await self.writer.insert(records, audits)

    async def apply_teams(self, roster: Roster) -> None:
        """``teams.teams.create_team``'s rules (kind and level agree; the institution readable; its unit
        writable for that institution's teams; no two teams of an institution with one name), one INSERT."""
        wanted: list[tuple[wb.TeamRow, Institution, _Ref]] = []
        for t in roster.teams:
            if (t.credit_code, t.name) in self.teams:
                self.count("teams", False)
                continue
            institution = self.institutions.get(t.credit_code)
            if institution is not None:
                wanted.append((t, institution, _Ref(wb.TEAMS, t.row, _col(wb.TEAMS, "团队名称"))))
        if not wanted:
            return
        ids = {institution.id for _, institution, _ in wanted}
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_institutions(self.principal), Institution.id, ids
        )
        writable = await bulk.ids_in(
            self.db,
            org_repository.readable(self.principal, Permission.TEAMS_WRITE),
            OrgUnit.id,
            {institution.org_unit_id for _, institution, _ in wanted},
        )
        names = {
            (institution_id, name)
            for part in bulk.chunks(sorted(ids))
            for institution_id, name in (
                await self.db.execute(select(Team.institution_id, Team.name).where(Team.institution_id.in_(part)))
            ).all()
        }
        records: list[Team] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for t, institution, ref in wanted:
            level = t.level or (TeamLevel.VILLAGE if t.kind is TeamKind.PRIMARY else TeamLevel.DISTRICT)
            unit = self.units_by_id().get(institution.org_unit_id)
            name = t.name.strip()
            problem = (
                "the four departments are district-level teams"
                if t.kind is not TeamKind.PRIMARY and level is not TeamLevel.DISTRICT
                else "机构不在您的管理范围内"
                if institution.id not in readable
                else "所在单位不在您的可写范围内"
                if unit is None or unit.id not in writable
                else "you manage the teams of another institution"
                if not self.principal.can_at_institution(Permission.TEAMS_WRITE, unit.path, institution.id)
                else f"the institution already has a team named {name}"
                if (institution.id, name) in names
                else None
            )
            if problem or unit is None:
                self.errors.append(ref.error(problem or ""))
                continue
            team = Team(
                id=uuid.uuid4(),
                institution_id=institution.id,
                name=name,
                kind=t.kind,
                level=level,
                status=TeamStatus.ACTIVE,
                service_phone=t.service_phone,
                org_unit_id=unit.id,
                district_id=unit.district_id,
            )
            names.add((institution.id, name))
            records.append(team)
            audits.append(("team.created", unit.path, {"institution_id": institution.id}))
            self.teams[(t.credit_code, t.name)] = team
            self.count("teams", True)
        await self.writer.insert(records, audits)

    async def apply_members(self, roster: Roster) -> None:
        """``teams.members.add_member``'s rules (team writable and locked, not dissolved; the person a
        readable staff member; no one twice on a team, one leader at a time), one INSERT."""
        wanted: list[tuple[wb.MemberRow, Team, Person, _Ref]] = []
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
            wanted.append((m, team, person, ref))
        if not wanted:
            return
        team_ids = {team.id for _, team, _, _ in wanted}
        await bulk.lock(self.db, Team.id, team_ids)
        writable = await bulk.ids_in(
            self.db, teams_repository.readable_teams(self.principal, Permission.TEAMS_WRITE), Team.id, team_ids
        )
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_people(self.principal), Person.id, {p.id for _, _, p, _ in wanted}
        )
        on_team: set[tuple[uuid.UUID, uuid.UUID]] = set()
        leaders: set[uuid.UUID] = set()
        for row in await bulk.overlapping(self.db, TeamMember, TeamMember.team_id, team_ids, starts_at=self.at):
            on_team.add((row.team_id, row.person_id))
            if row.role == MemberRole.LEADER.value:
                leaders.add(row.team_id)
        records: list[TeamMember] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for m, team, person, ref in wanted:
            problem = (
                "团队不在您的可写范围内"
                if team.id not in writable
                else "a dissolved team takes no members"
                if team.status == TeamStatus.DISSOLVED
                else "人员不在您的管理范围内"
                if person.id not in readable
                else "team members are staff"
                if person.kind != PersonKind.STAFF or person.discipline is None
                else "the person is already on this team then"
                if (team.id, person.id) in on_team
                else "the team already has a leader then"
                if m.role is MemberRole.LEADER and team.id in leaders
                else None
            )
            if problem:
                self.errors.append(ref.error(problem))
                continue
            member = TeamMember(
                id=uuid.uuid4(),
                team_id=team.id,
                person_id=person.id,
                role=m.role,
                discipline=m.discipline or person.discipline,
                starts_at=self.at,
                ends_at=None,
                district_id=team.district_id,
            )
            on_team.add((team.id, person.id))
            if m.role is MemberRole.LEADER:
                leaders.add(team.id)
            records.append(member)
            audits.append(
                ("team_member.added", await self.path(team.org_unit_id), {"team_id": team.id, "role": m.role})
            )
            self.memberships[(team.id, person.id)] = member
            self.count("members", True)
        await self.writer.insert(records, audits)

    async def apply_responsibilities(self, roster: Roster) -> None:
        """``assignments.service.assign_team``'s rules (unit writable and locked, a village or grid; the team
        readable and not dissolved; one team per unit at a time), one INSERT."""
        wanted: list[tuple[Team, OrgUnit, _Ref]] = []
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
                wanted.append((team, unit, ref))
        if not wanted:
            return
        unit_ids = {unit.id for _, unit, _ in wanted}
        await bulk.lock(self.db, OrgUnit.id, unit_ids)
        writable = await bulk.ids_in(
            self.db, org_repository.readable(self.principal, Permission.ASSIGNMENTS_WRITE), OrgUnit.id, unit_ids
        )
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_teams(self.principal), Team.id, {team.id for team, _, _ in wanted}
        )
        taken = {
            r.org_unit_id
            for r in await bulk.overlapping(
                self.db, Responsibility, Responsibility.org_unit_id, unit_ids, starts_at=self.at
            )
        }
        records: list[Responsibility] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for team, unit, ref in wanted:
            problem = (
                "单位不在您的可写范围内"
                if unit.id not in writable
                else "a team is responsible for a village/community or a grid"
                if unit.kind not in (OrgUnitKind.VILLAGE, OrgUnitKind.GRID)
                else "团队不在您的管理范围内"
                if team.id not in readable
                else "a dissolved team cannot take on an area"
                if team.status == TeamStatus.DISSOLVED
                else "another team is responsible for this unit in that period"
                if unit.id in taken
                else None
            )
            if problem:
                self.errors.append(ref.error(problem))
                continue
            made = Responsibility(
                id=uuid.uuid4(),
                team_id=team.id,
                org_unit_id=unit.id,
                unit_kind=unit.kind,
                starts_at=self.at,
                ends_at=None,
                district_id=unit.district_id,
            )
            taken.add(unit.id)
            records.append(made)
            audits.append(("responsibility.assigned", unit.path, {"team_id": team.id, "org_unit_id": unit.id}))
            self.responsibility[unit.id] = made
            self.count("responsibilities", True)
        await self.writer.insert(records, audits)

    async def apply_community(self, roster: Roster) -> None:
        """Community roles, then their pairings: each kind checked and written whole."""
        s = wb.COMMUNITY
        wanted: list[tuple[wb.CommunityRow, OrgUnit, Person, _Ref]] = []
        for c in roster.community:
            unit = self.units.get(c.unit_code)
            person = self.people.get(c.mobile)
            if unit is None or person is None:
                continue
            if (unit.id, c.role.value, person.id) in self.roles:
                self.count("community_roles", False)
            else:
                wanted.append((c, unit, person, _Ref(s, c.row, _col(s, "角色"))))
        await self.add_roles(wanted)
        pairings: list[tuple[PairingKind, uuid.UUID, CommunityRole, _Ref]] = []
        for c in roster.community:
            unit = self.units.get(c.unit_code)
            person = self.people.get(c.mobile)
            role = self.roles.get((unit.id, c.role.value, person.id)) if unit and person else None
            if role is not None:
                wanted_pairing = await self.pair(c, role, _Ref(s, c.row, _col(s, "结对人手机")))
                if wanted_pairing is not None:
                    pairings.append(wanted_pairing)
        await self.add_pairings(pairings)

    async def add_roles(self, wanted: list[tuple[wb.CommunityRow, OrgUnit, Person, _Ref]]) -> None:
        """``assignments.service.add_community_role``'s rules (unit writable and locked, of the role's kind;
        the person a readable community worker; one steward or grid leader per unit, nobody twice), one INSERT."""
        if not wanted:
            return
        unit_ids = {unit.id for _, unit, _, _ in wanted}
        await bulk.lock(self.db, OrgUnit.id, unit_ids)
        writable = await bulk.ids_in(
            self.db, org_repository.readable(self.principal, Permission.ASSIGNMENTS_WRITE), OrgUnit.id, unit_ids
        )
        readable = await bulk.ids_in(
            self.db, teams_repository.readable_people(self.principal), Person.id, {p.id for _, _, p, _ in wanted}
        )
        single: set[tuple[uuid.UUID, str]] = set()
        held: set[tuple[uuid.UUID, str, uuid.UUID]] = set()
        for row in await bulk.overlapping(
            self.db, CommunityRole, CommunityRole.org_unit_id, unit_ids, starts_at=self.at
        ):
            single.add((row.org_unit_id, row.role))
            held.add((row.org_unit_id, row.role, row.person_id))
        records: list[CommunityRole] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for c, unit, person, ref in wanted:
            serves = UNIT_OF_ROLE[c.role]
            problem = (
                "单位不在您的可写范围内"
                if unit.id not in writable
                else f"a {c.role.value} serves a {serves.value}"
                if unit.kind != serves
                else "人员不在您的管理范围内"
                if person.id not in readable
                else "community roles are held by community workers"
                if person.kind != PersonKind.COMMUNITY_WORKER
                else f"the unit already has a {c.role.value} in that period"
                if c.role is not CommunityRoleKind.SENTINEL and (unit.id, c.role.value) in single
                else "the person already holds this role here in that period"
                if (unit.id, c.role.value, person.id) in held
                else None
            )
            if problem:
                self.errors.append(ref.error(problem))
                continue
            role = CommunityRole(
                id=uuid.uuid4(),
                role=c.role,
                person_id=person.id,
                org_unit_id=unit.id,
                starts_at=self.at,
                ends_at=None,
                district_id=unit.district_id,
            )
            single.add((unit.id, c.role.value))
            held.add((unit.id, c.role.value, person.id))
            records.append(role)
            audits.append(("community_role.added", unit.path, {"role": c.role, "org_unit_id": unit.id}))
            self.roles[(unit.id, c.role.value, person.id)] = role
            self.count("community_roles", True)
        await self.writer.insert(records, audits)

    async def pair(
        self, c: wb.CommunityRow, role: CommunityRole, ref: _Ref
    ) -> tuple[PairingKind, uuid.UUID, CommunityRole, _Ref] | None:
        """The pairing this row asks for that is not in force yet (or None: unchanged, refused, unpaired)."""
        existing = self.pairings.get(role.id)
        medical = await self.medical_side(c, role, ref)
        if medical is None:
            if existing is not None and c.paired_mobile is None:
                self.count("pairings", False)
            return None
        if existing is not None:
            if medical in (existing.team_member_id, existing.institution_steward_id):
                self.count("pairings", False)
            elif c.paired_mobile is None:
                self.count("pairings", False)  # derived pairing: keep the one in force
            else:
                self.errors.append(ref.error("此人已与另一名医务人员结对;请先在系统中结束原结对"))
            return None
        kind = {
            CommunityRoleKind.COMMUNITY_STEWARD: PairingKind.STEWARDS,
            CommunityRoleKind.GRID_LEADER: PairingKind.LEADERS,
            CommunityRoleKind.SENTINEL: PairingKind.MEMBER_SENTINEL,
        }[c.role]
        return kind, medical, role, ref

    async def add_pairings(self, wanted: list[tuple[PairingKind, uuid.UUID, CommunityRole, _Ref]]) -> None:
        """``assignments.service.create_pairing``'s rules (the community role writable, of the pairing's kind
        and in force; the medical side readable and in force; both sides sharing the area then; one pairing
        per community role at a time), under the units' locks, one INSERT."""
        if not wanted:
            return
        db, at = self.db, self.at
        roles = {role.id: role for _, _, role, _ in wanted}
        await bulk.lock(db, OrgUnit.id, {role.org_unit_id for role in roles.values()})
        writable = await bulk.ids_in(
            db,
            assignments_repository.readable_community_roles(self.principal, Permission.ASSIGNMENTS_WRITE),
            CommunityRole.id,
            roles,
        )
        paired = {
            p.community_role_id
            for p in await bulk.overlapping(db, Pairing, Pairing.community_role_id, roles, starts_at=at)
        }
        members = {m.id: m for m in self.memberships.values()}
        stewards = {s.id: s for s in self.stewards.values()}
        readable_teams = await bulk.ids_in(
            db,
            teams_repository.readable_teams(self.principal),
            Team.id,
            {members[m].team_id for k, m, _, _ in wanted if k is not PairingKind.STEWARDS and m in members},
        )
        institution_ids = {
            stewards[s].institution_id for k, s, _, _ in wanted if k is PairingKind.STEWARDS and s in stewards
        }
        institutions = {
            i.id: i
            for part in bulk.chunks(sorted(institution_ids))
            for i in (await db.scalars(select(Institution).where(Institution.id.in_(part)))).all()
        }
        readable_institutions = await bulk.ids_in(
            db, teams_repository.readable_institutions(self.principal), Institution.id, institutions
        )
        team_ids = sorted({r.team_id for r in self.responsibility.values()})
        institution_of_team = {
            t: i
            for part in bulk.chunks(team_ids)
            for t, i in (await db.execute(select(Team.id, Team.institution_id).where(Team.id.in_(part)))).all()
        }
        by_id = self.units_by_id()
        records: list[Pairing] = []
        audits: list[tuple[str, str, dict[str, object]]] = []
        for kind, medical, role, ref in wanted:
            problem = (
                "no such community role in your scope"
                if role.id not in writable
                else f"a {kind.value} pairing needs a {COMMUNITY_SIDE[kind]}"
                if role.role != COMMUNITY_SIDE[kind]
                else "the community role is not in force at the pairing's start"
                if not periods.contains(role.starts_at, role.ends_at, at)
                else self.steward_problem(
                    medical, role, stewards, institutions, readable_institutions, institution_of_team
                )
                if kind is PairingKind.STEWARDS
                else self.member_problem(kind, medical, role, members, readable_teams)
            )
            if problem is None and role.id in paired:
                problem = "the community role is already paired in that period"
            if problem:
                self.errors.append(ref.error(problem))
                continue
            pairing = Pairing(
                id=uuid.uuid4(),
                kind=kind,
                institution_steward_id=medical if kind is PairingKind.STEWARDS else None,
                team_member_id=None if kind is PairingKind.STEWARDS else medical,
                community_role_id=role.id,
                org_unit_id=role.org_unit_id,
                starts_at=at,
                ends_at=None,
                district_id=role.district_id,
            )
            paired.add(role.id)
            records.append(pairing)
            unit = by_id.get(role.org_unit_id)
            audits.append(("pairing.created", unit.path if unit else await self.path(role.org_unit_id), {"kind": kind}))
            self.pairings[role.id] = pairing
            self.count("pairings", True)
        await self.writer.insert(records, audits)

    def member_problem(
        self,
        kind: PairingKind,
        member_id: uuid.UUID,
        role: CommunityRole,
        members: dict[uuid.UUID, TeamMember],
        readable_teams: set[uuid.UUID],
    ) -> str | None:
        """``create_pairing``'s checks of a membership: readable, the leader's for a leaders pairing, in
        force, of the team responsible for the grid then (the grid's own responsibility, else its village's)."""
        member = members.get(member_id)
        if member is None:
            return "no such team member"
        if member.team_id not in readable_teams:
            return "团队不在您的管理范围内"
        if kind is PairingKind.LEADERS and member.role != MemberRole.LEADER:
            return "a leaders pairing needs the team leader's membership"
        if not periods.contains(member.starts_at, member.ends_at, self.at):
            return "the membership is not in force at the pairing's start"
        grid = self.units_by_id().get(role.org_unit_id)
        responsible = self.responsibility.get(role.org_unit_id) or (
            self.responsibility.get(grid.parent_id) if grid is not None and grid.parent_id else None
        )
        if responsible is None or responsible.team_id != member.team_id:
            return "the member's team is not responsible for this grid at the pairing's start"
        return None

    def steward_problem(
        self,
        steward_id: uuid.UUID,
        role: CommunityRole,
        stewards: dict[uuid.UUID, InstitutionSteward],
        institutions: dict[uuid.UUID, Institution],
        readable: set[uuid.UUID],
        institution_of_team: dict[uuid.UUID, uuid.UUID],
    ) -> str | None:
        """``create_pairing``'s checks of a stewardship: readable, in force, its institution sitting in the
        village's town or responsible (a team of it) for the village or one of its grids then."""
        steward = stewards.get(steward_id)
        institution = institutions.get(steward.institution_id) if steward else None
        if steward is None or institution is None:
            return "no such institution steward"
        if institution.id not in readable:
            return "机构不在您的管理范围内"
        if not periods.contains(steward.starts_at, steward.ends_at, self.at):
            return "the stewardship is not in force at the pairing's start"
        by_id = self.units_by_id()
        village, home = by_id.get(role.org_unit_id), by_id.get(institution.org_unit_id)
        if village is None or home is None:
            return "org unit not found"
        if home.kind == OrgUnitKind.TOWN and village.path.startswith(home.path):
            return None
        areas = [village.id, *self.children_of(village.id)]
        serves = any(
            (r := self.responsibility.get(area)) is not None and institution_of_team.get(r.team_id) == institution.id
            for area in areas
        )
        if not serves:
            return "the steward's institution neither sits in this town nor serves this village at the pairing's start"
        return None

    async def path(self, unit_id: uuid.UUID) -> str:
        """An org unit's path (audit scope): from the units in hand, else one query."""
        unit = self.units_by_id().get(unit_id)
        return unit.path if unit is not None else await org_repository.path_of(self.db, unit_id)

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
            areas = [role.org_unit_id, *self.children_of(role.org_unit_id)]
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

    def children_of(self, unit_id: uuid.UUID) -> list[uuid.UUID]:
        """The ids of the units directly under ``unit_id`` (an index kept with ``units_by_id``)."""
        self.units_by_id()
        return self._children.get(unit_id, [])

    def units_by_id(self) -> dict[uuid.UUID, OrgUnit]:
        if len(self._by_id) != len(self.units):
            self._by_id = {u.id: u for u in self.units.values()}
            self._children = {}
            for u in self.units.values():
                if u.parent_id is not None:
                    self._children.setdefault(u.parent_id, []).append(u.id)
        return self._by_id


def _explain(exc: DomainError) -> str:
    errors = exc.extra.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)) or str(exc.detail)
    return str(exc.detail)
