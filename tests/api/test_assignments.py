"""Responsibility, community roles, pairings and the queries over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.assignments import queries
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
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

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat()


async def test_after_reassigning_a_grid_responsible_at_a_past_time_is_still_the_old_team(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0 + timedelta(days=100))
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    old, new = await make_team(db, institution), await make_team(db, institution)
    headers = await auth_headers(client, world.admin)
    first = await client.post(
        "/assignments",
        json={"team_id": str(old.id), "org_unit_id": str(world.grid_a1_1.id), "starts_at": iso(T0)},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    handover = T0 + timedelta(days=30)
    ended = await client.patch(
        f"/assignments/{first.json()['id']}",
        json={"ends_at": iso(handover)},
        headers=headers | {"If-Match": first.headers["ETag"]},
    )
    assert ended.status_code == 200, ended.text
    second = await client.post(
        "/assignments",
        json={"team_id": str(new.id), "org_unit_id": str(world.grid_a1_1.id), "starts_at": iso(handover)},
        headers=headers,
    )
    assert second.status_code == 201, second.text

    grid = world.grid_a1_1.id
    past = await client.get(f"/grids/{grid}/responsible", params={"at": iso(T0 + timedelta(days=10))}, headers=headers)
    assert past.status_code == 200, past.text
    assert past.json()["team"]["id"] == str(old.id)
    assert past.json()["assignment_id"] == first.json()["id"]
    now = await client.get(f"/grids/{grid}/responsible", headers=headers)
    assert now.json()["team"]["id"] == str(new.id)
    before = await queries.responsible_for(db, grid_id=grid, at=T0 - timedelta(seconds=1))
    assert before.team is None
    at_handover = await queries.responsible_for(db, grid_id=grid, at=handover)
    assert at_handover.team is not None
    assert at_handover.team.id == new.id  # half-open: the old period ends where the new one starts


async def test_overlapping_assignment_of_a_grid_is_refused_naming_the_conflicting_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    team_1, team_2 = await make_team(db, institution), await make_team(db, institution)
    existing = await make_assignment(db, team_1, world.grid_a1_1, starts_at=T0)
    headers = await auth_headers(client, world.admin)
    clash = await client.post(
        "/assignments",
        json={
            "team_id": str(team_2.id),
            "org_unit_id": str(world.grid_a1_1.id),
            "starts_at": iso(T0 + timedelta(days=5)),
        },
        headers=headers,
    )
    body = assert_problem(clash, 409, "assignment_overlap")
    assert body["conflicting_assignment_id"] == str(existing.id)
    # ending the first one makes room from its end on
    end = T0 + timedelta(days=5)
    ok = await client.patch(
        f"/assignments/{existing.id}", json={"ends_at": iso(end)}, headers=headers | {"If-Match": '"1"'}
    )
    assert ok.status_code == 200, ok.text
    earlier = await client.post(
        "/assignments",
        json={
            "team_id": str(team_2.id),
            "org_unit_id": str(world.grid_a1_1.id),
            "starts_at": iso(end - timedelta(days=1)),
        },
        headers=headers,
    )
    assert_problem(earlier, 409, "assignment_overlap")
    fits = await client.post(
        "/assignments",
        json={"team_id": str(team_2.id), "org_unit_id": str(world.grid_a1_1.id), "starts_at": iso(end)},
        headers=headers,
    )
    assert fits.status_code == 201, fits.text
    reopen = await client.patch(
        f"/assignments/{existing.id}", json={"ends_at": None}, headers=headers | {"If-Match": '"2"'}
    )
    assert assert_problem(reopen, 409, "assignment_overlap")["conflicting_assignment_id"] == fits.json()["id"]


async def test_a_grid_assignment_overrides_its_village_but_two_village_assignments_may_not_overlap(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0 + timedelta(days=1))
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    village_team, grid_team, other = [await make_team(db, institution) for _ in range(3)]
    village_assignment = await make_assignment(db, village_team, world.village_a1, starts_at=T0)
    headers = await auth_headers(client, world.admin)
    override = await client.post(
        "/assignments",
        json={"team_id": str(grid_team.id), "org_unit_id": str(world.grid_a1_2.id), "starts_at": iso(T0)},
        headers=headers,
    )
    assert override.status_code == 201, override.text
    assert override.json()["unit_kind"] == "grid"
    second_village = await client.post(
        "/assignments",
        json={"team_id": str(other.id), "org_unit_id": str(world.village_a1.id), "starts_at": iso(T0)},
        headers=headers,
    )
    assert assert_problem(second_village, 409, "assignment_overlap")["conflicting_assignment_id"] == str(
        village_assignment.id
    )
    covered = await queries.responsible_for(db, grid_id=world.grid_a1_1.id, at=clock.now())
    assert covered.team is not None
    assert covered.team.id == village_team.id
    assert covered.assigned_via == "village"
    overridden = await queries.responsible_for(db, grid_id=world.grid_a1_2.id, at=clock.now())
    assert overridden.team is not None
    assert overridden.team.id == grid_team.id
    assert overridden.assigned_via == "grid"
    a_town = await client.post(
        "/assignments",
        json={"team_id": str(other.id), "org_unit_id": str(world.town_a.id)},
        headers=headers,
    )
    assert assert_problem(a_town, 422, "validation_error")["errors"] == [
        {"field": "body.org_unit_id", "message": "a team is responsible for a village/community or a grid"}
    ]


async def test_pairing_across_areas_is_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    clock.freeze(T0 + timedelta(days=1))
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    team_1, team_2 = await make_team(db, institution), await make_team(db, institution)
    await make_assignment(db, team_1, world.grid_a1_1, starts_at=T0)
    await make_assignment(db, team_2, world.grid_a1_2, starts_at=T0)
    member = await make_member(db, team_1, await make_staff(db, institution), starts_at=T0)
    leader = await make_member(db, team_1, await make_staff(db, institution), role="leader", starts_at=T0)
    own_sentinel = await make_community_role(db, "sentinel", world.grid_a1_1, starts_at=T0)
    other_sentinel = await make_community_role(db, "sentinel", world.grid_a1_2, starts_at=T0)
    other_grid_leader = await make_community_role(db, "grid_leader", world.grid_a1_2, starts_at=T0)
    headers = await auth_headers(client, world.admin)

    across = await client.post(
        "/pairings",
        json={
            "kind": "member_sentinel",
            "medical_side_id": str(member.id),
            "community_role_id": str(other_sentinel.id),
        },
        headers=headers,
    )
    body = assert_problem(across, 422, "pairing_outside_area")
    assert body["errors"][0]["field"] == "body.medical_side_id"
    leaders_across = await client.post(
        "/pairings",
        json={"kind": "leaders", "medical_side_id": str(leader.id), "community_role_id": str(other_grid_leader.id)},
        headers=headers,
    )
    assert_problem(leaders_across, 422, "pairing_outside_area")
    wrong_side = await client.post(
        "/pairings",
        json={"kind": "leaders", "medical_side_id": str(member.id), "community_role_id": str(own_sentinel.id)},
        headers=headers,
    )
    assert assert_problem(wrong_side, 422, "validation_error")["errors"][0]["field"] == "body.community_role_id"

    paired = await client.post(
        "/pairings",
        json={"kind": "member_sentinel", "medical_side_id": str(member.id), "community_role_id": str(own_sentinel.id)},
        headers=headers,
    )
    assert paired.status_code == 201, paired.text
    twice = await client.post(
        "/pairings",
        json={"kind": "member_sentinel", "medical_side_id": str(leader.id), "community_role_id": str(own_sentinel.id)},
        headers=headers,
    )
    assert assert_problem(twice, 409, "period_overlap")["conflicting_pairing_id"] == paired.json()["id"]

    responsible = (await client.get(f"/grids/{world.grid_a1_1.id}/responsible", headers=headers)).json()
    assert responsible["team"]["id"] == str(team_1.id)
    assert responsible["leader"]["record_id"] == str(leader.id)
    assert {m["record_id"] for m in responsible["members"]} == {str(member.id), str(leader.id)}
    assert responsible["sentinels"] == [
        {
            "record_id": str(own_sentinel.id),
            "person_id": str(own_sentinel.person_id),
            "name": responsible["sentinels"][0]["name"],
            "mobile_masked": responsible["sentinels"][0]["mobile_masked"],
            "paired_member_ids": [str(member.id)],
        }
    ]
    mine = (await client.get(f"/team-members/{member.id}/sentinels", headers=headers)).json()
    assert all(len(s["mobile_masked"]) == 11 and "****" in s["mobile_masked"] for s in mine["sentinels"])
    assert all("mobile" not in s for s in mine["sentinels"])
    assert [(s["community_role_id"], s["grid"]["id"]) for s in mine["sentinels"]] == [
        (str(own_sentinel.id), str(world.grid_a1_1.id))
    ]


async def test_stewards_pair_only_where_the_institution_sits_or_serves(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0 + timedelta(days=1))
    world = await build_world(db)
    center_a = await make_institution(db, world.town_a)
    headers = await auth_headers(client, world.admin)
    person = await make_staff(db, center_a)
    appointed = await client.post(
        f"/institutions/{center_a.id}/stewards",
        json={"person_id": str(person.id), "starts_at": iso(T0)},
        headers=headers,
    )
    assert appointed.status_code == 201, appointed.text
    steward_a1 = await make_community_role(db, "community_steward", world.village_a1, starts_at=T0)
    steward_b1 = await make_community_role(db, "community_steward", world.village_b1, starts_at=T0)
    await db.commit()
    ok = await client.post(
        "/pairings",
        json={"kind": "stewards", "medical_side_id": appointed.json()["id"], "community_role_id": str(steward_a1.id)},
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    other_town = await client.post(
        "/pairings",
        json={"kind": "stewards", "medical_side_id": appointed.json()["id"], "community_role_id": str(steward_b1.id)},
        headers=headers,
    )
    assert_problem(other_town, 422, "pairing_outside_area")
    second = await client.post(
        f"/institutions/{center_a.id}/stewards", json={"person_id": str(person.id)}, headers=headers
    )
    assert assert_problem(second, 409, "period_overlap")["conflicting_steward_id"] == appointed.json()["id"]


async def test_community_roles_one_steward_per_village_and_one_grid_leader_per_grid_but_many_sentinels(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)

    async def worker() -> str:
        response = await client.post(
            "/people",
            json={
                "name": "网格员",
                "kind": "community_worker",
                "mobile": "13800000000",
                "org_unit_id": str(world.grid_a1_1.id),
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        person_id: str = response.json()["id"]
        return person_id

    async def appoint(role: str, unit: object, person_id: str) -> httpx.Response:
        return await client.post(
            "/community-roles",
            json={"role": role, "person_id": person_id, "org_unit_id": str(unit.id)},  # type: ignore[attr-defined]
            headers=headers,
        )

    assert (await appoint("grid_leader", world.grid_a1_1, await worker())).status_code == 201
    assert_problem(await appoint("grid_leader", world.grid_a1_1, await worker()), 409, "period_overlap")
    assert (await appoint("sentinel", world.grid_a1_1, await worker())).status_code == 201
    assert (await appoint("sentinel", world.grid_a1_1, await worker())).status_code == 201
    assert (await appoint("community_steward", world.village_a1, await worker())).status_code == 201
    wrong_unit = await appoint("community_steward", world.grid_a1_1, await worker())
    assert assert_problem(wrong_unit, 422, "validation_error")["errors"][0]["field"] == "body.org_unit_id"
    listed = await client.get("/community-roles", params={"org_unit_id": str(world.grid_a1_1.id)}, headers=headers)
    assert sorted(r["role"] for r in listed.json()["items"]) == ["grid_leader", "sentinel", "sentinel"]


async def test_coverage_gaps_of_a_town_are_listed(client: httpx.AsyncClient, db: AsyncSession) -> None:
    clock.freeze(T0 + timedelta(days=1))
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    team = await make_team(db, institution)
    member = await make_member(db, team, await make_staff(db, institution), starts_at=T0)
    await make_assignment(db, team, world.village_a1, starts_at=T0)  # covers a1_1 and a1_2; a2_1 has no team
    paired = await make_community_role(db, "sentinel", world.grid_a1_1, starts_at=T0)
    unpaired = await make_community_role(db, "sentinel", world.grid_a1_2, starts_at=T0)
    await make_community_role(db, "community_steward", world.village_a1, starts_at=T0)
    await make_community_role(db, "sentinel", world.grid_b1_1, starts_at=T0)  # other town: not in the report
    headers = await auth_headers(client, world.admin)
    pairing = await client.post(
        "/pairings",
        json={"kind": "member_sentinel", "medical_side_id": str(member.id), "community_role_id": str(paired.id)},
        headers=headers,
    )
    assert pairing.status_code == 201, pairing.text
    gaps = await client.get("/coverage-gaps", params={"org_unit_id": str(world.town_a.id)}, headers=headers)
    assert gaps.status_code == 200, gaps.text
    body = gaps.json()
    assert [g["id"] for g in body["grids_without_sentinel"]] == [str(world.grid_a2_1.id)]
    assert [g["id"] for g in body["grids_without_team"]] == [str(world.grid_a2_1.id)]
    assert [s["community_role_id"] for s in body["sentinels_without_member"]] == [str(unpaired.id)]
    assert [v["id"] for v in body["villages_without_steward"]] == [str(world.village_a2.id)]
    before = await client.get(
        "/coverage-gaps",
        params={"org_unit_id": str(world.town_a.id), "at": iso(T0 - timedelta(days=1))},
        headers=headers,
    )
    assert len(before.json()["grids_without_team"]) == 3
    district = (
        await client.get("/coverage-gaps", params={"org_unit_id": str(world.district.id)}, headers=headers)
    ).json()
    assert {g["id"] for g in district["grids_without_team"]} == {str(world.grid_a2_1.id), str(world.grid_b1_1.id)}


async def test_town_a_user_cannot_see_or_change_town_b_assignments(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    inst_b = await make_institution(db, world.town_b)
    team_b = await make_team(db, inst_b)
    assignment_b = await make_assignment(db, team_b, world.grid_b1_1, starts_at=T0)
    role_b = await make_community_role(db, "sentinel", world.grid_b1_1, starts_at=T0)
    member_b = await make_member(db, team_b, await make_staff(db, inst_b), starts_at=T0)
    supervisor = await make_user(db, Role.TOWN_SUPERVISOR, world.town_a)
    admin_a = snapshot(await make_user(db, Role.DISTRICT_ADMIN, world.town_a))  # an admin grant scoped to town A
    headers = await auth_headers(client, supervisor)
    assert (await client.get("/assignments", headers=headers)).json()["items"] == []
    assert (await client.get("/community-roles", headers=headers)).json()["items"] == []
    for url in (
        f"/assignments/{assignment_b.id}",
        f"/community-roles/{role_b.id}",
        f"/grids/{world.grid_b1_1.id}/responsible",
        f"/team-members/{member_b.id}/sentinels",
    ):
        assert_problem(await client.get(url, headers=headers), 404, "not_found")
    gaps = await client.get("/coverage-gaps", params={"org_unit_id": str(world.town_b.id)}, headers=headers)
    assert_problem(gaps, 404, "not_found")
    write = await client.patch(
        f"/assignments/{assignment_b.id}", json={"ends_at": None}, headers=headers | {"If-Match": '"1"'}
    )
    assert_problem(write, 403, "forbidden")
    admin_headers = await auth_headers(client, admin_a)
    change = await client.patch(
        f"/assignments/{assignment_b.id}", json={"ends_at": None}, headers=admin_headers | {"If-Match": '"1"'}
    )
    assert_problem(change, 404, "not_found")
    steal = await client.post(
        "/assignments", json={"team_id": str(team_b.id), "org_unit_id": str(world.grid_b1_1.id)}, headers=admin_headers
    )
    assert_problem(steal, 404, "not_found")


async def test_ending_a_membership_or_a_sentinel_role_ends_its_pairings(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0 + timedelta(days=10))
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    team = await make_team(db, institution)
    await make_assignment(db, team, world.village_a1, starts_at=T0)
    member = await make_member(db, team, await make_staff(db, institution), starts_at=T0)
    sentinel_1 = await make_community_role(db, "sentinel", world.grid_a1_1, starts_at=T0)
    sentinel_2 = await make_community_role(db, "sentinel", world.grid_a1_2, starts_at=T0)
    headers = await auth_headers(client, world.admin)
    pairings = []
    for sentinel in (sentinel_1, sentinel_2):
        response = await client.post(
            "/pairings",
            json={
                "kind": "member_sentinel",
                "medical_side_id": str(member.id),
                "community_role_id": str(sentinel.id),
                "starts_at": iso(T0 + timedelta(days=1)),
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        pairings.append(response.json()["id"])

    role_end = T0 + timedelta(days=5)
    ended_role = await client.patch(
        f"/community-roles/{sentinel_1.id}", json={"ends_at": iso(role_end)}, headers=headers | {"If-Match": '"1"'}
    )
    assert ended_role.status_code == 200, ended_role.text
    first = (await client.get(f"/pairings/{pairings[0]}", headers=headers)).json()
    assert datetime.fromisoformat(first["ends_at"]) == role_end

    too_early = await client.patch(
        f"/team-members/{member.id}",
        json={"ends_at": iso(T0 + timedelta(hours=1))},
        headers=headers | {"If-Match": '"1"'},
    )
    assert assert_problem(too_early, 409, "period_overlap")["conflicting_pairing_id"] in pairings
    member_end = T0 + timedelta(days=8)
    ended = await client.patch(
        f"/team-members/{member.id}", json={"ends_at": iso(member_end)}, headers=headers | {"If-Match": '"1"'}
    )
    assert ended.status_code == 200, ended.text
    second = (await client.get(f"/pairings/{pairings[1]}", headers=headers)).json()
    assert datetime.fromisoformat(second["ends_at"]) == member_end
    now = (await client.get(f"/team-members/{member.id}/sentinels", headers=headers)).json()
    assert now["sentinels"] == []
    then = await client.get(
        f"/team-members/{member.id}/sentinels", params={"at": iso(T0 + timedelta(days=2))}, headers=headers
    )
    assert {s["pairing_id"] for s in then.json()["sentinels"]} == set(pairings)


async def test_a_team_still_responsible_for_an_area_cannot_be_dissolved(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    team = await make_team(db, await make_institution(db, world.town_a))
    assignment = await make_assignment(db, team, world.village_a1, starts_at=T0)
    headers = await auth_headers(client, world.admin)
    refused = await client.patch(
        f"/teams/{team.id}", json={"status": "dissolved"}, headers=headers | {"If-Match": '"1"'}
    )
    assert assert_problem(refused, 409, "illegal_transition")["conflicting_assignment_id"] == str(assignment.id)
    end = await client.patch(
        f"/assignments/{assignment.id}", json={"ends_at": iso(clock.now())}, headers=headers | {"If-Match": '"1"'}
    )
    assert end.status_code == 200, end.text
    dissolved = await client.patch(
        f"/teams/{team.id}", json={"status": "dissolved"}, headers=headers | {"If-Match": '"1"'}
    )
    assert dissolved.status_code == 200, dissolved.text


async def test_a_person_holds_several_roles_over_time(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    institution = await make_institution(db, world.town_a)
    person = await make_staff(db, institution)
    first_team, second_team = await make_team(db, institution), await make_team(db, institution)
    headers = await auth_headers(client, world.admin)
    joined = await client.post(
        f"/teams/{first_team.id}/members",
        json={"person_id": str(person.id), "starts_at": iso(T0), "ends_at": iso(T0 + timedelta(days=90))},
        headers=headers,
    )
    assert joined.status_code == 201, joined.text
    led = await client.post(
        f"/teams/{second_team.id}/members",
        json={"person_id": str(person.id), "role": "leader", "starts_at": iso(T0 + timedelta(days=90))},
        headers=headers,
    )
    assert led.status_code == 201, led.text
    stewardship = await client.post(
        f"/institutions/{institution.id}/stewards", json={"person_id": str(person.id)}, headers=headers
    )
    assert stewardship.status_code == 201, stewardship.text
    roles = (await client.get(f"/people/{person.id}/roles", headers=headers)).json()
    assert [(m["team_id"], m["role"]) for m in roles["memberships"]] == [
        (str(first_team.id), "member"),
        (str(second_team.id), "leader"),
    ]
    assert [s["id"] for s in roles["stewardships"]] == [stewardship.json()["id"]]
    assert roles["community_roles"] == []
