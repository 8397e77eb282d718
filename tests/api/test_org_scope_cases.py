"""The teams/assignments BOLA cases, run here until the shared table picks them up:
a town-A account can neither read nor change anything of town B."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from tests.api.scope_cases import SCOPE_CASES, SCOPE_LISTS
from tests.factories import (
    auth_headers,
    make_assignment,
    make_community_role,
    make_institution,
    make_member,
    make_staff,
    make_team,
    make_user,
    snapshot,
)
from tests.org_world import build_world


async def test_every_org_endpoint_hides_town_b_from_town_a(client: httpx.AsyncClient, db: AsyncSession) -> None:
    from services.core.assignments.models import Pairing
    from services.core.teams.models import InstitutionSteward, TeamBacking

    world = await build_world(db)
    inst = await make_institution(db, world.town_b)
    person = await make_staff(db, inst)
    team = await make_team(db, inst)
    upper = await make_team(db, inst, level="town")
    member = await make_member(db, team, person)
    assignment = await make_assignment(db, team, world.grid_b1_1)
    sentinel = await make_community_role(db, "sentinel", world.grid_b1_1)
    steward = InstitutionSteward(
        institution_id=inst.id, person_id=person.id, starts_at=assignment.starts_at, district_id=inst.district_id
    )
    backing = TeamBacking(
        backing_team_id=upper.id, backed_team_id=team.id, starts_at=assignment.starts_at, district_id=inst.district_id
    )
    pairing = Pairing(
        kind="member_sentinel",
        team_member_id=member.id,
        community_role_id=sentinel.id,
        org_unit_id=world.grid_b1_1.id,
        starts_at=assignment.starts_at,
        district_id=inst.district_id,
    )
    db.add_all([steward, backing, pairing])
    await db.flush()
    ids = {
        "institution_id": str(inst.id),
        "steward_id": str(steward.id),
        "person_id": str(person.id),
        "team_id": str(team.id),
        "member_id": str(member.id),
        "backing_id": str(backing.id),
        "assignment_id": str(assignment.id),
        "community_role_id": str(sentinel.id),
        "pairing_id": str(pairing.id),
        "grid_id": str(world.grid_b1_1.id),
        "unit_id": str(world.town_b.id),
    }
    admin_a = snapshot(await make_user(db, Role.DISTRICT_ADMIN, world.town_a))
    supervisor_a = snapshot(await make_user(db, Role.TOWN_SUPERVISOR, world.town_a))
    await db.commit()
    # The ids are real: the district's admin reads every one of them.
    district_headers = await auth_headers(client, world.admin)
    for method, template, _ in SCOPE_CASES:
        if method == "GET":
            response = await client.get(template.format(**ids), headers=district_headers)
            assert response.status_code == 200, (template, response.text)
    for user, may_write in ((admin_a, True), (supervisor_a, False)):
        headers = await auth_headers(client, user) | {"If-Match": '"1"'}
        for method, template, body in SCOPE_CASES:
            url = template.format(**ids)
            response = await client.request(method, url, json=body(ids) if body else None, headers=headers)
            if method == "GET" or may_write:
                # a path id outside scope is 404; a body id outside scope is 404 or 422 naming the field
                allowed = {404} if method == "GET" or "{" in template.split("?")[0] else {404, 422}
            else:
                allowed = {403}
            assert response.status_code in allowed, (user.username, method, url, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        for url in SCOPE_LISTS:
            listed = await client.get(url, headers=headers)
            assert listed.status_code == 200, listed.text
            assert not set(ids.values()) & {item["id"] for item in listed.json()["items"]}, url
