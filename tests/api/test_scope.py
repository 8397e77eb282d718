"""The scope (BOLA) table: a caller scoped to town A can neither list, read nor change town B.

Every endpoint joins this table the day it is born: ``test_every_route_is_in_the_scope_table``
fails when a route is neither here nor on the public or self-only lists. Path templates name
records of town B through the ``ids`` that ``build_world`` returns; body factories take the
same mapping.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.app import PUBLIC_PATHS, create_app
from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.assignments.models import CommunityRoleKind, Pairing
from services.core.audit import service as audit
from services.core.config import Settings
from services.core.jobs import drop_job_intents
from services.core.referrals import service as referrals
from services.core.referrals.access import Viewer as ReferralViewer
from services.core.referrals.schemas import ReferralCreate
from services.core.reports import service as reports
from services.core.reports.schemas import ReportCreate
from services.core.residents.models import KeyPopulation, ResidentTag
from services.core.roster import workbook
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.signing import service as signing_service
from services.core.signing.models import Contact
from services.core.supervision import service as supervision
from services.core.supervision.halves import HalfYear
from services.core.supervision.models import RectificationItem
from services.core.teams.models import InstitutionKind, InstitutionSteward, Person, TeamBacking
from tests.factories import (
    TEST_PII,
    auth_headers,
    make_assignment,
    make_child,
    make_community_role,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_signing,
    make_staff,
    make_team,
    make_user,
    resident_id_number,
)

Ids = dict[str, str]
Body = Callable[[Ids], dict[str, Any]] | None


@dataclass(frozen=True)
class Upload:
    """A multipart request (imports): the files, and the answers allowed besides 403/404.

    Per-row operations answer 200 and refuse each out-of-scope row; town B must still not move.
    """

    files: Callable[[Ids], dict[str, Any]]
    allowed: tuple[int, ...] = (200, 403)


@dataclass(frozen=True)
class Listing:
    """A list that must not show town B's records; ``hidden`` names the ids to look for in ``key``."""

    path: str
    hidden: tuple[str, ...]
    method: str = "GET"
    body: Body = None
    key: str = "id"
    role: Role | None = None  # None: every caller in CALLERS
    bundle: bool = False  # a FHIR searchset: the items are the entries' resources


def _shown(case: Listing, body: dict[str, Any]) -> set[Any]:
    items = [e["resource"] for e in body.get("entry", [])] if case.bundle else body["items"]
    return {item[case.key] for item in items}


# Routes that only ever act on the caller itself.
# The inbox is always the caller's own; tests/api/test_inbox.py shows A cannot read or mark B's items.
SELF_ONLY = {
    ("GET", "/me"),
    ("POST", "/oauth/logout"),
    ("GET", "/inbox"),
    ("GET", "/inbox/changes"),
    ("POST", "/inbox/read-all"),
    ("POST", "/inbox/{notification_id}/read"),
    # An institution's own referral feed (its desk's and HIS's); tests/api/test_referrals.py shows another
    # institution's HIS sees none of it, and callers acting for no institution get 403.
    ("GET", "/referrals/changes"),
}


def _period_end(_: Ids) -> dict[str, Any]:
    return {"ends_at": "2030-01-01T00:00:00+00:00"}


def _rename(_: Ids) -> dict[str, Any]:
    return {"name": "renamed"}


CASES: list[tuple[str, str, Body]] = [
    # org units and accounts
    ("GET", "/org-units/{town_b}", None),
    ("GET", "/org-units/{grid_id}", None),
    ("PATCH", "/org-units/{village_b}", _rename),
    (
        "POST",
        "/org-units",
        lambda ids: {"parent_id": ids["village_b"], "code": ids["village_b_code"] + "777", "name": "越权网格"},
    ),
    ("GET", "/users/{user_b}", None),
    ("PATCH", "/users/{user_b}", lambda _: {"display_name": "被改名"}),
    (
        "POST",
        "/users",
        lambda ids: {
            "username": "intruder",
            "display_name": "x",
            "secret": "long-enough-secret",
            "org_unit_id": ids["town_b"],
        },
    ),
    ("POST", "/users/{user_b}/grants", lambda ids: {"role": "sentinel", "org_unit_id": ids["grid_id"]}),
    ("POST", "/users/{user_b}/grants/{grant_b}/end", None),
    # institutions and their stewards
    ("GET", "/institutions/{institution_id}", None),
    ("PATCH", "/institutions/{institution_id}", _rename),
    ("GET", "/institutions/{institution_id}/stewards", None),
    ("POST", "/institutions/{institution_id}/stewards", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/institution-stewards/{steward_id}", _period_end),
    # people
    ("GET", "/people/{person_id}", None),
    ("PATCH", "/people/{person_id}", _rename),
    ("GET", "/people/{person_id}/roles", None),
    ("GET", "/people/{person_id}/mobile", None),
    # teams, members, backing
    ("GET", "/teams/{team_id}", None),
    ("PATCH", "/teams/{team_id}", _rename),
    ("GET", "/teams/{team_id}/members", None),
    ("POST", "/teams/{team_id}/members", lambda ids: {"person_id": ids["person_id"]}),
    ("PATCH", "/team-members/{member_id}", _period_end),
    ("GET", "/teams/{team_id}/backings", None),
    ("PATCH", "/team-backings/{backing_id}", _period_end),
    ("POST", "/teams", lambda ids: {"institution_id": ids["institution_id"], "name": "intruder"}),
    ("POST", "/team-backings", lambda ids: {"backing_team_id": ids["upper_team_id"], "backed_team_id": ids["team_id"]}),
    # responsibility, community roles, pairings
    ("GET", "/assignments/{assignment_id}", None),
    ("PATCH", "/assignments/{assignment_id}", _period_end),
    ("POST", "/assignments", lambda ids: {"team_id": ids["team_id"], "org_unit_id": ids["grid_id"]}),
    ("GET", "/community-roles/{community_role_id}", None),
    ("PATCH", "/community-roles/{community_role_id}", _period_end),
    (
        "POST",
        "/community-roles",
        lambda ids: {"role": "sentinel", "person_id": ids["person_id"], "org_unit_id": ids["grid_id"]},
    ),
    ("GET", "/pairings/{pairing_id}", None),
    ("PATCH", "/pairings/{pairing_id}", _period_end),
    (
        "POST",
        "/pairings",
        lambda ids: {
            "kind": "member_sentinel",
            "medical_side_id": ids["member_id"],
            "community_role_id": ids["community_role_id"],
        },
    ),
    # questions about an area
    ("GET", "/grids/{grid_id}/responsible", None),
    ("GET", "/coverage-gaps?org_unit_id={town_b}", None),
    ("GET", "/team-members/{member_id}/sentinels", None),
    # residents
    ("GET", "/residents/{resident_b}", None),
    ("GET", "/residents/{resident_b}/identity", None),
    ("PATCH", "/residents/{resident_b}", _rename),
    ("POST", "/residents", lambda ids: {"grid_id": ids["grid_id"], "name": "越权", "birth_on": "1990-01-01"}),
    (
        "POST",
        "/residents/{resident_b}/tags",
        lambda _: {"population": "hypertension", "since_on": "2024-01-01", "source": "clinic"},
    ),
    ("PATCH", "/residents/{resident_b}/tags/{tag_b}", lambda _: {"until_on": "2025-01-01"}),
    # the member roster
    ("GET", "/roster.xlsx?org_unit_id={town_b}", None),
    # signing, contacts, coverage and the quarterly-contact duty
    (
        "POST",
        "/residents/{resident_b}/signings",
        lambda ids: {"team_id": ids["team_id"], "package": "basic", "starts_on": ids["today"]},
    ),
    ("GET", "/residents/{resident_b}/signings", None),
    ("GET", "/signings/{signing_b}", None),
    ("POST", "/signings/{signing_b}/renewals", lambda _: {"package": "tcm"}),
    ("POST", "/signings/{signing_b}/termination", lambda ids: {"reason": "other", "ends_on": ids["today"]}),
    (
        "POST",
        "/residents/{resident_b}/contacts",
        lambda _: {"channel": "phone", "outcome": "reached", "contacted_at": "2026-01-01T00:00:00+08:00"},
    ),
    ("GET", "/residents/{resident_b}/contacts", None),
    ("GET", "/contacts/{contact_b}", None),
    ("GET", "/teams/{team_id}/signing-coverage", None),
    ("GET", "/signing-coverage/villages?org_unit_id={town_b}", None),
    ("GET", "/teams/{team_id}/residents", None),
    ("GET", "/teams/{team_id}/contacts-due", None),
    # sentinel reports
    ("GET", "/reports/{report_b}", None),
    ("GET", "/reports/metrics?org_unit_id={town_b}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", None),
    ("POST", "/reports", lambda ids: _report_body(ids)),
    ("POST", "/reports/{report_b}/report-in", lambda _: {}),
    ("POST", "/reports/{report_b}/follow-ups", lambda _: {"channel": "phone", "outcome": "reached", "notes": "x"}),
    ("POST", "/reports/{report_b}/intervention", lambda _: {"plan": "x"}),
    ("POST", "/reports/{report_b}/close", lambda _: {"outcome": "resolved"}),
    ("POST", "/reports/{report_b}/cancel", lambda _: {}),
    # referrals (town B's resident referred up to the district hospital)
    ("GET", "/referrals/{referral_b}", None),
    ("GET", "/referrals/metrics?org_unit_id={town_b}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", None),
    ("POST", "/referrals", lambda ids: _referral_body(ids)),
    ("POST", "/referrals/{referral_b}/receive", lambda _: {}),
    (
        "POST",
        "/referrals/{referral_b}/accept",
        lambda _: {"appointment": {"at": "2030-01-01T01:00:00Z", "department": "心内科"}},
    ),
    ("POST", "/referrals/{referral_b}/decline", lambda _: {"reason": "no_capacity"}),
    ("POST", "/referrals/{referral_b}/hold", lambda _: {"reason": "等待床位"}),
    ("POST", "/referrals/{referral_b}/resume", lambda _: {}),
    ("POST", "/referrals/{referral_b}/arrive", lambda _: {}),
    ("POST", "/referrals/{referral_b}/no-show", lambda _: {}),
    ("POST", "/referrals/{referral_b}/complete", lambda _: {}),
    ("POST", "/referrals/{referral_b}/cancel", lambda _: {"reason": "越权"}),
    ("POST", "/referrals/{referral_b}/take-over", lambda _: {}),
    ("POST", "/referrals/{referral_b}/follow-up", lambda _: {"channel": "phone", "outcome": "reached"}),
    # the FHIR face of the same referral (errors there are OperationOutcome, not problem+json)
    ("GET", "/fhir/ServiceRequest/{referral_b}", None),
    ("GET", "/fhir/Task/{referral_b}", None),
    ("PUT", "/fhir/Task/{referral_b}", lambda _: {"resourceType": "Task", "status": "received", "intent": "order"}),
    ("POST", "/fhir/ServiceRequest", lambda ids: _fhir_referral(ids)),
    # supervision: town B's bulletin of the first half of 2026, its ledger item
    ("GET", "/supervision/bulletins/{bulletin_b}", None),
    ("GET", "/supervision/bulletins/{bulletin_b}/workbook", None),
    ("GET", "/supervision/bulletins/{bulletin_b}/page", None),
    ("POST", "/supervision/bulletins/{bulletin_b}/issue", None),
    ("POST", "/supervision/bulletins/{bulletin_b}/acknowledge", None),
    ("POST", "/supervision/bulletins/{bulletin_b}/corrections", lambda _: {"reason": "更正数据"}),
    ("GET", "/supervision/draft?org_unit_id={town_b}&period=2026H2", None),
    ("GET", "/supervision/rollup-status?org_unit_id={district}&period=2026H1", None),
    (
        "POST",
        "/supervision/rectifications",
        lambda ids: {
            "org_unit_id": ids["village_b"],
            "problem": "补齐哨兵",
            "owner_id": ids["user_b"],
            "due_on": "2030-01-01",
        },
    ),
    ("GET", "/supervision/rectifications/{item_b}", None),
    ("POST", "/supervision/rectifications/{item_b}/start", None),
    ("POST", "/supervision/rectifications/{item_b}/resolve", lambda _: {"evidence": "已整改"}),
    ("POST", "/supervision/rectifications/{item_b}/verify", None),
    ("POST", "/supervision/rectifications/{item_b}/reopen", lambda _: {"reason": "未落实"}),
]

# Writes a town supervisor makes in its own town (issue and correct its bulletin, keep its ledger): town B's
# records answer it 404, as to an administrator of town A, not the 403 of a role that may not write at all.
SUPERVISOR_WRITES = {
    "/supervision/bulletins/{bulletin_b}/issue",
    "/supervision/bulletins/{bulletin_b}/corrections",
    "/supervision/rectifications",
    "/supervision/rectifications/{item_b}/start",
    "/supervision/rectifications/{item_b}/resolve",
    "/supervision/rectifications/{item_b}/verify",
    "/supervision/rectifications/{item_b}/reopen",
}


def _fhir_referral(ids: Ids) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{ids['resident_b']}"},
        "requester": {"reference": f"CareTeam/{ids['team_id']}"},
        "performer": [{"reference": f"Organization/{ids['hospital_id']}"}],
        "reasonCode": [{"text": "越权转诊"}],
        "extension": [
            {
                "url": "https://gridcare.cn/fhir/StructureDefinition/informed-consent",
                "extension": [
                    {"url": "givenBy", "valueCode": "patient"},
                    {"url": "method", "valueCode": "written"},
                    {"url": "givenAt", "valueDateTime": "2026-01-01T00:00:00+08:00"},
                ],
            }
        ],
    }


def _referral_body(ids: Ids) -> dict[str, Any]:
    return {
        "direction": "upward",
        "resident_id": ids["resident_b"],
        "from_team_id": ids["team_id"],
        "to_institution_id": ids["hospital_id"],
        "reason": "越权转诊",
        "consent": {"given_by": "patient", "method": "written", "given_at": "2026-01-01T00:00:00+08:00"},
    }


def _roster_naming_town_b(ids: Ids) -> dict[str, Any]:
    """A roster adding a sentinel to town B's grid and a grid under town B's village."""
    roster = workbook.Roster(
        grids=[workbook.GridRow(0, ids["town_b_code"], "", ids["village_b_code"], "village", "village", None, None)],
        community=[workbook.CommunityRow(0, ids["grid_code"], CommunityRoleKind.SENTINEL, "越权", "13912345678", None)],
    )
    return {"file": ("roster.xlsx", workbook.write(roster, title="t"), workbook.XLSX_MEDIA_TYPE)}


def _report_body(ids: Ids) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "grid_id": ids["grid_id"],
        "resident_id": ids["resident_b"],
        "details": {"category": "health_need", "needs": ["home_visit"], "description": "越权上报"},
    }


# Per-item JSON batches: 200 with each out-of-scope item refused (or 403 for a reader); town B must not move.
BATCHES: dict[tuple[str, str], Callable[[Ids], dict[str, Any]]] = {
    ("POST", "/reports/batch"): lambda ids: {
        "reports": [_report_body(ids), _report_body(ids) | {"id": ids["report_b"]}]
    },
}


UPLOADS: dict[tuple[str, str], Upload] = {
    # all or nothing: refused whole (404 for town B as the target, 422 naming the rows outside town A)
    ("POST", "/roster/imports?org_unit_id={town_b}"): Upload(files=_roster_naming_town_b, allowed=(403, 404)),
    ("POST", "/roster/imports?org_unit_id={town_a}"): Upload(files=_roster_naming_town_b, allowed=(403, 422)),
    ("POST", "/residents/imports"): Upload(
        files=lambda ids: {
            "file": (
                "r.jsonl",
                json.dumps({"grid_code": ids["grid_code"], "name": "越权导入", "birth_on": "1990-01-01"})
                + "\n"
                + json.dumps({"grid_code": ids["grid_code"], "name": "被改名", "id_number": ids["id_number_b"]}),
                "application/x-ndjson",
            )
        }
    ),
}

# Lists that must not show town B's records (the named ids must be absent).
LIST_CASES: list[Listing] = [
    Listing("/org-units?limit=500", ("town_b", "village_b", "grid_id")),
    Listing("/org-units?limit=500&parent_id={town_b}", ("village_b",)),
    Listing("/users?limit=500", ("user_b",)),
    Listing("/institutions?limit=500", ("institution_id",)),
    Listing("/people?limit=500", ("person_id",)),
    Listing("/teams?limit=500", ("team_id", "upper_team_id")),
    Listing("/assignments?limit=500", ("assignment_id",)),
    Listing("/community-roles?limit=500", ("community_role_id",)),
    Listing("/pairings?limit=500", ("pairing_id",)),
    Listing("/residents?limit=500", ("resident_b",)),
    Listing("/residents?limit=500&org_unit_id={village_b}", ("resident_b",)),
    Listing("/residents?limit=500&population=hypertension", ("resident_b",)),
    Listing(
        "/residents/lookup",
        ("resident_b",),
        method="POST",
        body=lambda ids: {"id_number": ids["id_number_b"]},
        role=Role.TEAM_MEMBER,
    ),  # lookup is for roles that may read identity
    Listing("/sync/residents?limit=500", ("resident_b",)),
    Listing("/audit-events?limit=500", ("resident_b",), key="subject_id", role=Role.AUDITOR),
    Listing("/reports?limit=500", ("report_b",)),
    Listing("/reports?limit=500&org_unit_id={village_b}", ("report_b",)),
    Listing("/referrals?limit=500", ("referral_b",)),
    Listing("/fhir/ServiceRequest", ("referral_b",), bundle=True),
    Listing("/fhir/Task", ("referral_b",), bundle=True),
    Listing("/supervision/bulletins?limit=500", ("bulletin_b",)),
    Listing("/supervision/rectifications?limit=500", ("item_b",)),
]


async def build_world(db: AsyncSession) -> Ids:
    """Town A (empty) and town B with one of everything; returns town B's ids."""
    district = await make_district(db)
    town_a = await make_child(db, district, number=1)
    town_b = await make_child(db, district, number=2)
    village_b = await make_child(db, town_b, number=1)
    grid_b = await make_child(db, village_b, number=1)
    user_b = await make_user(db, Role.SENTINEL, grid_b)
    grant_b = await db.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user_b.id))
    institution = await make_institution(db, town_b)
    person = await make_staff(db, institution)
    team = await make_team(db, institution)
    upper = await make_team(db, institution, level="town")
    member = await make_member(db, team, person)
    assignment = await make_assignment(db, team, grid_b)
    sentinel = await make_community_role(db, "sentinel", grid_b)
    await db.execute(update(Person).where(Person.id == sentinel.person_id).values(user_id=user_b.id))
    common = {"starts_at": assignment.starts_at, "district_id": district.id}
    steward = InstitutionSteward(institution_id=institution.id, person_id=person.id, **common)
    backing = TeamBacking(backing_team_id=upper.id, backed_team_id=team.id, **common)
    pairing = Pairing(
        kind="member_sentinel", team_member_id=member.id, community_role_id=sentinel.id, org_unit_id=grid_b.id, **common
    )
    db.add_all([steward, backing, pairing])
    id_number_b = resident_id_number()
    resident = await make_resident(
        db, grid_b, id_number=id_number_b, tags=(KeyPopulation.HYPERTENSION,), reported_by=user_b.id
    )
    tag_b = await db.scalar(select(ResidentTag.id).where(ResidentTag.resident_id == resident.id))
    today = signing_service.today()
    signing = await make_signing(db, resident, team, signed_by=user_b.id, starts_on=today)
    contact = Contact(
        district_id=district.id,
        resident_id=resident.id,
        signing_id=signing.id,
        team_id=team.id,
        channel="home_visit",
        outcome="reached",
        notes_enc=None,
        contacted_at=clock.now(),
        recorded_by=user_b.id,
        team_member_id=member.id,
    )
    db.add(contact)
    sentinel_b = Principal(
        user_id=user_b.id,
        username=user_b.username,
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(grant_b, Role.SENTINEL, grid_b.id, grid_b.path),),
    )
    report = await reports.create(
        db,
        sentinel_b,
        ReportCreate.model_validate(_report_body({"grid_id": grid_b.id, "resident_b": resident.id})),
        pii=TEST_PII,
    )
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    member_b = Principal(
        user_id=user_b.id,
        username=user_b.username,
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(grant_b, Role.TEAM_MEMBER, grid_b.id, grid_b.path),),
    )
    referral = await referrals.create(
        db,
        ReferralViewer(member_b, frozenset({team.id})),
        ReferralCreate.model_validate(
            _referral_body({"resident_b": resident.id, "team_id": team.id, "hospital_id": hospital.id})
        ),
        pii=TEST_PII,
    )
    town_b_row = await _unit(db, town_b.id)
    bulletin_b, _ = await supervision.produce_town(db, town_b_row, HalfYear(2026, 1))
    item_b = RectificationItem(
        district_id=district.id,
        town_id=town_b.id,
        org_unit_id=village_b.id,
        problem="哨兵未结对",
        owner_id=user_b.id,
        due_on=date(2030, 1, 1),
        created_by=user_b.id,
    )
    db.add(item_b)
    drop_job_intents(db)  # its clock's first step is hours away: keep that job out of the shared Redis
    await audit.record(
        db,
        actor_id=user_b.id,
        action="resident.created",
        subject_type="resident",
        subject_id=resident.id,
        org_path=grid_b.path,
    )
    await db.flush()
    ids = {
        "district": district.id,
        "town_a": town_a.id,
        "town_b": town_b.id,
        "village_b": village_b.id,
        "grid_id": grid_b.id,
        "user_b": user_b.id,
        "grant_b": grant_b,
        "institution_id": institution.id,
        "person_id": person.id,
        "team_id": team.id,
        "upper_team_id": upper.id,
        "member_id": member.id,
        "assignment_id": assignment.id,
        "community_role_id": sentinel.id,
        "steward_id": steward.id,
        "backing_id": backing.id,
        "pairing_id": pairing.id,
        "resident_b": resident.id,
        "tag_b": tag_b,
        "signing_b": signing.id,
        "contact_b": contact.id,
        "report_b": report.report.id,
        "hospital_id": hospital.id,
        "referral_b": referral.referral.id,
        "bulletin_b": bulletin_b.id,
        "item_b": item_b.id,
    }
    return {name: str(value) for name, value in ids.items()} | {
        "village_b_code": village_b.code,
        "town_b_code": town_b.code,
        "grid_code": grid_b.code,
        "town_b_path": town_b.path,
        "id_number_b": id_number_b,
        "today": today.isoformat(),
    }


async def town_b_state(db: AsyncSession, ids: Ids) -> list[Any]:
    """Every row of town B's world with its version, to prove nothing changed."""
    rows = []
    for table in (
        "org_unit",
        "app_user",
        "role_grant",
        "institution",
        "person",
        "team",
        "team_member",
        "team_backing",
        "responsibility",
        "community_role",
        "pairing",
        "institution_steward",
        "resident",
        "resident_tag",
        "signing",
        "resident_contact",
        "sentinel_report",
        "referral",
        "referral_identifier",
        "record_transition",
        "report_follow_up",
        "deadline",
        "supervision_bulletin",
        "rectification_item",
    ):
        rows += (await db.execute(text(f"select * from {table} order by id"))).all()  # noqa: S608 - fixed names
    return rows


# Callers scoped to town A: one who may write there, one who may only read.
CALLERS = [Role.DISTRICT_ADMIN, Role.TOWN_SUPERVISOR]


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]} {c[1]}")
async def test_town_a_caller_cannot_read_or_change_town_b(
    client: httpx.AsyncClient, db: AsyncSession, role: Role, case: tuple[str, str, Body]
) -> None:
    method, template, body = case
    ids = await build_world(db)
    caller = await make_user(db, role, await _unit(db, ids["town_a"]))
    headers = await auth_headers(client, caller) | {"If-Match": '"1"'}
    before = await town_b_state(db, ids)
    response = await client.request(method, template.format(**ids), headers=headers, json=body(ids) if body else None)
    media = "application/fhir+json" if template.startswith("/fhir/") else "application/problem+json"
    assert response.headers["content-type"].startswith(media), response.text
    if (
        method == "GET"
        or role is Role.DISTRICT_ADMIN
        or (role is Role.TOWN_SUPERVISOR and template in SUPERVISOR_WRITES)
    ):
        # A path id outside scope is 404, as if it did not exist; an id in a create's body may also be a 422
        # naming the field ("no such team"), which says no more than 404 would.
        allowed = {404} if method == "GET" or "{" in template.split("?")[0] else {404, 422}
    else:
        allowed = {403}  # a reader may not write anywhere
    assert response.status_code in allowed, response.text
    assert await town_b_state(db, ids) == before


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("route", list(UPLOADS), ids=lambda r: f"{r[0]} {r[1]}")
async def test_town_a_uploads_cannot_touch_town_b(
    client: httpx.AsyncClient, db: AsyncSession, role: Role, route: tuple[str, str]
) -> None:
    upload = UPLOADS[route]
    ids = await build_world(db)
    caller = await make_user(db, role, await _unit(db, ids["town_a"]))
    before = await town_b_state(db, ids)
    response = await client.request(
        route[0], route[1].format(**ids), headers=await auth_headers(client, caller), files=upload.files(ids)
    )
    assert response.status_code in upload.allowed, response.text
    if response.status_code == 200:
        summary = response.json()
        assert summary["created"] == summary["updated"] == 0, summary
        assert ids["resident_b"] not in response.text
    assert await town_b_state(db, ids) == before


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("route", list(BATCHES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_town_a_batches_cannot_touch_town_b(
    client: httpx.AsyncClient, db: AsyncSession, role: Role, route: tuple[str, str]
) -> None:
    ids = await build_world(db)
    caller = await make_user(db, role, await _unit(db, ids["town_a"]))
    before = await town_b_state(db, ids)
    response = await client.request(
        route[0], route[1].format(**ids), headers=await auth_headers(client, caller), json=BATCHES[route](ids)
    )
    if role is Role.DISTRICT_ADMIN:
        assert response.status_code == 200, response.text
        assert response.json()["refused"] == len(response.json()["items"]), response.text
        assert {i["status"] for i in response.json()["items"]} <= {404, 409}
    else:
        assert response.status_code == 403, response.text
    assert await town_b_state(db, ids) == before


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_town_a_lists_never_show_town_b(client: httpx.AsyncClient, db: AsyncSession, case: Listing) -> None:
    ids = await build_world(db)
    town_a = await _unit(db, ids["town_a"])
    await make_resident(db, await make_child(db, await make_child(db, town_a, number=3), number=3))
    for role in [case.role] if case.role else CALLERS:
        caller = await make_user(db, role, town_a)
        response = await client.request(
            case.method,
            case.path.format(**ids),
            headers=await auth_headers(client, caller),
            json=case.body(ids) if case.body else None,
        )
        assert response.status_code == 200, response.text
        shown = _shown(case, response.json())
        assert shown.isdisjoint({ids[name] for name in case.hidden}), role


async def test_the_same_requests_succeed_for_the_district(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """The control: every read in the table answers 200 for a district-wide administrator (or auditor)."""
    ids = await build_world(db)
    district = await _unit(db, ids["district"])
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    for method, template, _ in CASES:
        if method == "GET" and not template.endswith("/identity"):  # identity is for the care team only
            response = await client.get(template.format(**ids), headers=headers)
            assert response.status_code == 200, (template, response.text)
    for case in LIST_CASES:
        if case.path.startswith("/sync/"):
            continue  # sync delivers committed transactions only; tests/core/test_residents_committed.py shows it
        caller = await make_user(db, case.role, district) if case.role else None
        list_headers = await auth_headers(client, caller) if caller else headers
        response = await client.request(
            case.method, case.path.format(**ids), headers=list_headers, json=case.body(ids) if case.body else None
        )
        shown = _shown(case, response.json())
        assert {ids[name] for name in case.hidden} <= shown, case.path


async def _unit(db: AsyncSession, unit_id: str) -> Any:
    from services.core.org.models import OrgUnit

    return await db.get(OrgUnit, unit_id)


def test_every_route_is_in_the_scope_table(settings: Settings) -> None:
    app = create_app(settings)
    covered = {(method, _template(path.split("?")[0])) for method, path, _ in CASES}
    covered |= {(c.method, _template(c.path.split("?")[0])) for c in LIST_CASES}
    covered |= {(method, _template(path.split("?")[0])) for method, path in UPLOADS}
    covered |= {(method, _template(path)) for method, path in BATCHES}
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        for method in route.methods:
            if (method, _template(route.path)) not in covered and (method, route.path) not in SELF_ONLY:
                missing.append((method, route.path))
    assert not missing, f"add these routes to the scope table: {missing}"


def _template(path: str) -> str:
    """``/users/{user_id}/grants/{grant_id}/end`` -> ``/users/{}/grants/{}/end`` for comparison."""
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_a_team_serving_two_towns_shows_each_town_only_its_own_sentinels(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ids = await build_world(db)
    town_a = await _unit(db, ids["town_a"])
    grid_b = await _unit(db, ids["grid_id"])
    institution_a = await make_institution(db, town_a)
    team_a = await make_team(db, institution_a)
    member_a = await make_member(db, team_a, await make_staff(db, institution_a))
    assignment = await make_assignment(db, team_a, grid_b)  # town A's team also serves a grid of town B
    sentinel_b = await make_community_role(db, "sentinel", grid_b)
    db.add(
        Pairing(
            kind="member_sentinel",
            team_member_id=member_a.id,
            community_role_id=sentinel_b.id,
            org_unit_id=grid_b.id,
            starts_at=assignment.starts_at,
            district_id=grid_b.district_id,
        )
    )
    await db.flush()
    supervisor_a = await make_user(db, Role.TOWN_SUPERVISOR, town_a)
    response = await client.get(
        f"/team-members/{member_a.id}/sentinels", headers=await auth_headers(client, supervisor_a)
    )
    assert response.status_code == 200, response.text
    assert response.json()["sentinels"] == []
