"""The scope (BOLA) table: a caller scoped to town A can neither list, read nor change town B.

Every endpoint joins this table the day it is born: ``test_every_route_is_in_the_scope_table``
fails when a route is neither here nor on the public or self-only lists. Path templates name
records of town B through the ``ids`` that ``build_world`` returns; body factories take the
same mapping. The world is built once for the module and each test runs in a savepoint of it,
rolled back after the test (tests/shared_world.py), so every test starts from the same world.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import PUBLIC_PATHS, create_app
from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.assignments.models import CommunityRoleKind, Pairing
from services.core.audit import service as audit
from services.core.config import Settings
from services.core.duties.models import DutySubmission, Livestream, WorkDay, WorkDayUnit
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
from services.core.socialwork.models import AidApplication, ConfidentialNote, PlanTask, Transfer
from services.core.supervision import service as supervision
from services.core.supervision.halves import HalfYear
from services.core.supervision.models import RectificationItem
from services.core.teams.models import InstitutionKind, InstitutionSteward, Person, Posting, TeamBacking
from services.core.volunteers.models import GroupSession, Volunteer, VolunteerHours, VolunteerShift
from services.core.webhooks.models import SECRET, WebhookMessage, WebhookSubscription
from services.core.webhooks.signing import new_secret
from tests.factories import (
    TEST_PII,
    auth_headers,
    make_assignment,
    make_case,
    make_child,
    make_community_role,
    make_department,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_signing,
    make_social_worker,
    make_staff,
    make_team,
    make_user,
    resident_id_number,
)
from tests.shared_world import Shared, savepoint_session, shared_world

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
    bare: bool = False  # a plain JSON array rather than a page
    items: str = "items"  # the answer's member holding the list


def _shown(case: Listing, body: Any) -> set[Any]:
    if case.bare:
        return {item[case.key] for item in body}
    items = [e["resource"] for e in body.get("entry", [])] if case.bundle else body[case.items]
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
    # postings (people lent across institutions)
    ("GET", "/postings/{posting_b}", None),
    ("PATCH", "/postings/{posting_b}", _period_end),
    ("POST", "/postings/{posting_b}/members", lambda ids: {"team_id": ids["team_id"]}),
    (
        "POST",
        "/postings",
        lambda ids: {
            "person_id": ids["posted_b"],
            "host_institution_id": ids["institution_id"],
            "kind": "county_hired",
            "starts_at": "2031-01-01T00:00:00+08:00",
            "ends_at": "2032-01-01T00:00:00+08:00",
        },
    ),
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
    # social work (town B's health centre has a social-work department)
    ("GET", "/social-work-departments/{department_b}", None),
    ("POST", "/social-work-departments", lambda ids: {"institution_id": ids["institution_id"], "name": "社工部"}),
    ("GET", "/social-work-cases/{case_b}", None),
    ("GET", "/social-work-cases/{case_b}/history", None),
    ("GET", "/social-work-cases/{case_b}/confidential-notes", None),
    (
        "POST",
        "/social-work-cases",
        lambda ids: {
            "department_id": ids["department_b"],
            "source": "self",
            "resident_id": ids["resident_b"],
            "service_areas": ["psychosocial"],
        },
    ),
    ("POST", "/social-work-cases/{case_b}/assessments", lambda _: {"domains": ["family"], "risk_level": "low"}),
    ("POST", "/social-work-cases/{case_b}/plan", lambda _: {"goals": ["越权"]}),
    ("POST", "/social-work-cases/{case_b}/approve-plan", lambda _: {}),
    ("POST", "/social-work-cases/{case_b}/send-back-plan", lambda _: {"comments": "越权"}),
    ("POST", "/social-work-cases/{case_b}/request-closure", lambda _: {"goals_met": "all", "summary": "越权"}),
    ("POST", "/social-work-cases/{case_b}/approve-closure", lambda _: {}),
    ("POST", "/social-work-cases/{case_b}/send-back-closure", lambda _: {"comments": "越权"}),
    ("POST", "/social-work-cases/{case_b}/reopen", lambda _: {"reason": "越权"}),
    ("POST", "/social-work-cases/{case_b}/workers", lambda ids: {"user_id": ids["user_b"]}),
    (
        "POST",
        "/social-work-cases/{case_b}/activities",
        lambda _: {
            "mode": "individual",
            "happened_at": "2026-01-01T00:00:00Z",
            "minutes": 30,
            "participants": ["患者"],
            "summary": "越权",
        },
    ),
    ("POST", "/social-work-cases/{case_b}/confidential-notes", lambda _: {"body": "越权"}),
    ("POST", "/social-work-tasks/{task_b}/done", None),
    (
        "POST",
        "/social-work-cases/{case_b}/aid-applications",
        lambda _: {"kind": "charity", "programme": "越权", "amount_requested": "1"},
    ),
    ("GET", "/social-work-aid-applications/{aid_b}", None),
    ("POST", "/social-work-aid-applications/{aid_b}/submit", lambda _: {}),
    ("POST", "/social-work-aid-applications/{aid_b}/approve", lambda _: {"amount_approved": "1"}),
    ("POST", "/social-work-aid-applications/{aid_b}/reject", lambda _: {"reason": "越权"}),
    ("POST", "/social-work-aid-applications/{aid_b}/deliver", lambda _: {}),
    ("POST", "/social-work-aid-applications/{aid_b}/withdraw", lambda _: {}),
    (
        "GET",
        "/social-work-aid-totals?department_id={department_b}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        None,
    ),
    ("POST", "/social-work-cases/{case_b}/transfers", lambda _: _transfer_body()),
    ("GET", "/social-work-transfers/{transfer_b}", None),
    ("POST", "/social-work-transfers/{transfer_b}/accept", lambda _: {}),
    ("POST", "/social-work-transfers/{transfer_b}/decline", lambda _: {"reason": "越权"}),
    ("POST", "/social-work-transfers/{transfer_b}/follow-up", lambda _: {"channel": "phone", "outcome": "reached"}),
    ("POST", "/social-work-transfers/{transfer_b}/cancel", None),
    (
        "GET",
        "/social-work-metrics?department_id={department_b}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        None,
    ),
    ("GET", "/social-work-metrics?org_unit_id={town_b}&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", None),
    # volunteers of town B's department, their shifts and hours; group work
    ("GET", "/volunteers/{volunteer_b}", None),
    ("PATCH", "/volunteers/{volunteer_b}", lambda _: {"name": "被改名"}),
    ("POST", "/volunteers", lambda ids: {"department_id": ids["department_b"], "name": "越权登记"}),
    ("GET", "/volunteer-shifts/{shift_b}", None),
    (
        "POST",
        "/volunteer-shifts",
        lambda ids: {
            "department_id": ids["department_b"],
            "title": "越权排班",
            "starts_at": "2030-01-01T01:00:00Z",
            "ends_at": "2030-01-01T03:00:00Z",
        },
    ),
    ("POST", "/volunteer-shifts/{shift_b}/schedule", lambda ids: {"volunteer_id": ids["volunteer_b"]}),
    ("POST", "/volunteer-shifts/{shift_b}/attend", lambda _: {}),
    ("POST", "/volunteer-shifts/{shift_b}/no-show", lambda _: {}),
    ("POST", "/volunteer-shifts/{shift_b}/cancel", lambda _: {}),
    (
        "POST",
        "/volunteer-hours",
        lambda ids: {"volunteer_id": ids["volunteer_b"], "served_on": "2026-01-01", "hours": 1, "activity": "越权"},
    ),
    ("GET", "/volunteer-hours/{hours_b}", None),
    ("POST", "/volunteer-hours/{hours_b}/verify", None),
    ("POST", "/volunteer-hours/{hours_b}/reject", lambda _: {"reason": "越权"}),
    ("GET", "/group-sessions/{session_b}", None),
    (
        "POST",
        "/group-sessions",
        lambda ids: {
            "department_id": ids["department_b"],
            "kind": "group",
            "topic": "越权小组",
            "held_at": "2026-01-01T01:00:00Z",
            "minutes": 60,
            "participant_count": 5,
        },
    ),
    # the FHIR face of the same referral (errors there are OperationOutcome, not problem+json)
    ("GET", "/fhir/ServiceRequest/{referral_b}", None),
    ("GET", "/fhir/Task/{referral_b}", None),
    ("PUT", "/fhir/Task/{referral_b}", lambda _: {"resourceType": "Task", "status": "received", "intent": "order"}),
    ("POST", "/fhir/ServiceRequest", lambda ids: _fhir_referral(ids)),
    # the plan's standing duties: work days, livestreams, yearly submissions
    (
        "POST",
        "/teams/{team_id}/work-days",
        lambda ids: {
            "held_on": ids["today"],
            "unit_ids": [ids["grid_id"]],
            "activities": ["consultation"],
            "residents_served": 1,
        },
    ),
    ("GET", "/teams/{team_id}/work-days", None),
    ("GET", "/work-days/{work_day_b}", None),
    (
        "POST",
        "/institutions/{institution_id}/livestreams",
        lambda _: {
            "started_at": "2026-01-01T20:00:00+08:00",
            "duration_minutes": 30,
            "topic": "越权",
            "questions_answered": 0,
        },
    ),
    ("GET", "/institutions/{institution_id}/livestreams", None),
    ("GET", "/livestreams/{livestream_b}", None),
    (
        "POST",
        "/duty-submissions",
        lambda ids: {"duty": "roster", "year": 2026, "org_unit_id": ids["town_b"], "content": "越权"},
    ),
    ("GET", "/duty-submissions/{submission_b}", None),
    ("GET", "/duties/metrics?org_unit_id={town_b}&from=2026-01-01&to=2027-01-01", None),
    # webhook subscriptions of town B's health centre (the referral above left a message in its outbox)
    ("GET", "/webhook-subscriptions/{subscription_b}", None),
    ("PATCH", "/webhook-subscriptions/{subscription_b}", lambda _: {"enabled": False}),
    ("DELETE", "/webhook-subscriptions/{subscription_b}", None),
    ("POST", "/webhook-subscriptions/{subscription_b}/rotate-secret", lambda _: {}),
    ("GET", "/webhook-subscriptions/{subscription_b}/deliveries", None),
    ("GET", "/webhook-subscriptions/{subscription_b}/attempts", None),
    ("POST", "/webhook-subscriptions/{subscription_b}/deliveries/{message_b}/redeliver", None),
    (
        "POST",
        "/webhook-subscriptions",
        lambda ids: {
            "url": "https://his.example.org/hooks",
            "event_types": ["referral.requested"],
            "institution_id": ids["institution_id"],
        },
    ),
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


def _transfer_body() -> dict[str, Any]:
    at = "2026-01-01T00:00:00Z"
    return {
        "summary": "越权",
        "consent": {"given_by": "patient", "method": "written", "given_at": at},
        "discharged_at": at,
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
    Listing("/postings?limit=500", ("posting_b",)),
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
    Listing("/social-work-departments?limit=500", ("department_b",)),
    Listing("/social-work-cases?limit=500", ("case_b",)),
    Listing("/social-work-transfers?limit=500", ("transfer_b",)),
    Listing("/volunteers?limit=500", ("volunteer_b",)),
    Listing("/volunteer-shifts?limit=500", ("shift_b",)),
    Listing("/volunteer-hours?limit=500", ("hours_b",)),
    Listing("/group-sessions?limit=500", ("session_b",)),
    Listing("/volunteers/attention", ("volunteer_b",), items="idle_volunteers"),
    Listing("/volunteers/attention", ("hours_b",), items="stale_hours"),
    Listing("/volunteer-hours/totals?from=2026-01-01&to=2026-12-31", ("volunteer_b",)),
    Listing("/volunteer-hours/totals?from=2026-01-01&to=2026-12-31&by=department", ("department_b",)),
    Listing("/volunteer-hours/totals?from=2026-01-01&to=2026-12-31&by=district", ("district",)),
    Listing("/social-work-departments/missing", ("hospital_id",), key="institution_id", bare=True),
    Listing("/fhir/ServiceRequest", ("referral_b",), bundle=True),
    Listing("/fhir/Task", ("referral_b",), bundle=True),
    Listing("/duty-submissions?limit=500", ("submission_b",)),
    Listing("/webhook-subscriptions?limit=500", ("subscription_b",)),
    Listing("/supervision/bulletins?limit=500", ("bulletin_b",)),
    Listing("/supervision/rectifications?limit=500", ("item_b",)),
]


def _volunteer_rows(department: Any, user_id: uuid.UUID) -> tuple[Any, ...]:
    """Town B's department's volunteer (idle since 2020), a scheduled shift, hours unverified for a month,
    a group session."""
    at = {k: getattr(department, k) for k in ("institution_id", "org_unit_id", "district_id")}
    at["department_id"] = department.id
    volunteer = Volunteer(name="乙志愿", registered_on=date(2020, 1, 1), created_by=user_id, **at)
    volunteer.id = uuid.uuid4()
    now = clock.now()
    shift = VolunteerShift(
        title="导诊",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
        status="scheduled",
        volunteer_id=volunteer.id,
        created_by=user_id,
        **at,
    )
    hours = VolunteerHours(
        volunteer_id=volunteer.id,
        served_on=date(2026, 1, 2),
        hours=Decimal("2.5"),
        activity="陪诊",
        status="submitted",
        submitted_at=now - timedelta(days=30),
        submitted_by=user_id,
        **at,
    )
    session = GroupSession(
        kind="group",
        topic="照护者小组",
        held_at=now - timedelta(days=2),
        minutes=60,
        facilitator_user_id=user_id,
        participant_count=6,
        created_by=user_id,
        **at,
    )
    return volunteer, shift, hours, session


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
    subscription_id = uuid.uuid4()
    db.add(
        WebhookSubscription(
            id=subscription_id,
            institution_id=institution.id,
            district_id=district.id,
            url="https://his.example.org/hooks",
            event_types=["referral.requested"],
            secret_enc=SECRET.seal(TEST_PII, subscription_id, new_secret()),
            created_by=user_b.id,
        )
    )
    await db.flush()
    department = await make_department(db, institution)
    social_work = await _social_work_b(db, department, resident, team, village_b)
    volunteer_b, shift_b, hours_b, session_b = _volunteer_rows(department, user_b.id)
    db.add(volunteer_b)
    await db.flush()
    db.add_all([shift_b, session_b])
    await db.flush()
    db.add(hours_b)
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
    posted_b = await make_staff(db, hospital)
    posting_b = Posting(
        person_id=posted_b.id,
        home_institution_id=hospital.id,
        host_institution_id=institution.id,
        kind="county_hired",
        full_time=True,
        starts_at=assignment.starts_at,
        ends_at=assignment.starts_at + timedelta(days=365),
        district_id=district.id,
    )
    db.add(posting_b)
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
    duty_rows = _duty_records(district.id, team.id, institution.id, town_b.id, grid_b.id, village_b.id, user_b.id)
    db.add_all(duty_rows[:1])
    await db.flush()
    db.add_all(duty_rows[1:])
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
        "work_day_b": duty_rows[0].id,
        "livestream_b": duty_rows[2].id,
        "submission_b": duty_rows[3].id,
        "subscription_b": subscription_id,
        "message_b": await db.scalar(select(WebhookMessage.id)),
        "department_b": department.id,
        **social_work,
        "posted_b": posted_b.id,
        "posting_b": posting_b.id,
        "volunteer_b": volunteer_b.id,
        "shift_b": shift_b.id,
        "hours_b": hours_b.id,
        "session_b": session_b.id,
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


def _duty_records(*ids: uuid.UUID) -> list[Any]:
    """Town B's team's work day (in its grid), its institution's livestream, the town's roster."""
    district, team, institution, town, grid, village, user = ids
    work_day = WorkDay(
        id=uuid.uuid4(),
        district_id=district,
        team_id=team,
        held_on=signing_service.today(),
        activities=["consultation"],
        residents_served=3,
        resident_ids=[],
        recorded_by=user,
    )
    return [
        work_day,
        WorkDayUnit(work_day_id=work_day.id, org_unit_id=grid, village_id=village, position=0),
        Livestream(
            id=uuid.uuid4(),
            district_id=district,
            institution_id=institution,
            started_at=clock.now(),
            duration_minutes=40,
            topic="健康讲座",
            questions_answered=2,
            recorded_by=user,
        ),
        DutySubmission(
            id=uuid.uuid4(),
            district_id=district,
            duty="roster",
            year=2026,
            org_unit_id=town,
            attachment_name="成员明细表.xlsx",
            submitted_by=user,
            submitted_at=clock.now(),
        ),
    ]


async def _social_work_b(db: AsyncSession, department: Any, resident: Any, team: Any, village: Any) -> dict[str, Any]:
    """Town B's health centre's social-work department with a case of town B's resident: a plan task, a
    confidential note, an aid application and a transfer to the team."""
    worker = await make_social_worker(db, department)
    case = await make_case(db, department, worker, resident=resident, status="active")
    now = clock.now()
    common = {"case_id": case.id, "district_id": case.district_id}
    task = PlanTask(**common, title="任务", owner_id=worker.id, due_at=now + timedelta(days=3))
    note = ConfidentialNote(**common, body_enc=b"sealed", written_by=worker.id, written_at=now)
    application = AidApplication(
        **common,
        department_id=department.id,
        kind="medical_aid",
        programme="城乡医疗救助",
        amount_requested=Decimal("1000"),
        documents=[{"name": "低保证明", "kind": "income"}],
        status="submitted",
        created_by=worker.id,
    )
    transfer = Transfer(
        **common,
        department_id=department.id,
        resident_id=resident.id,
        grid_id=resident.grid_id,
        village_id=village.id,
        status="offered",
        scope="summary",
        summary_enc=b"sealed",
        consent_by="patient",
        consent_method="written",
        consent_at=now,
        to_team_id=team.id,
        discharged_at=now,
        offered_at=now,
        offered_by=worker.id,
    )
    db.add_all([task, note, application, transfer])
    await db.flush()
    return {"case_b": case.id, "task_b": task.id, "aid_b": application.id, "transfer_b": transfer.id}


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
        "posting",
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
        "webhook_subscription",
        "webhook_message",
        "webhook_delivery",
        "social_work_department",
        "social_work_case",
        "social_work_case_worker",
        "social_work_assessment",
        "social_work_task",
        "social_work_activity",
        "social_work_confidential_note",
        "social_work_aid_application",
        "social_work_transfer",
        "volunteer",
        "volunteer_shift",
        "volunteer_hours",
        "group_session",
        "record_transition",
        "report_follow_up",
        "deadline",
        "work_day",
        "livestream",
        "duty_submission",
        "supervision_bulletin",
        "rectification_item",
    ):
        rows += (await db.execute(text(f"select * from {table} order by id"))).all()  # noqa: S608 - fixed names
    return rows


# Callers scoped to town A: one who may write there, one who may only read.
CALLERS = [Role.DISTRICT_ADMIN, Role.TOWN_SUPERVISOR]


@pytest.fixture(scope="module")
async def shared(engine: AsyncEngine) -> AsyncIterator[Shared[Ids]]:
    """Town A and town B, built once for the module (tests/shared_world.py)."""
    async with shared_world(engine, build_world) as built:
        yield built


@pytest.fixture
async def db(shared: Shared[Ids]) -> AsyncIterator[AsyncSession]:
    """The test's session, in a savepoint of the world's transaction: nothing it writes reaches the next test."""
    async with savepoint_session(shared) as session:
        yield session


@pytest.fixture
def world(shared: Shared[Ids]) -> Ids:
    """Town B's ids (``build_world``)."""
    return shared.world


@pytest.mark.parametrize("role", CALLERS, ids=lambda r: r.value)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]} {c[1]}")
async def test_town_a_caller_cannot_read_or_change_town_b(
    client: httpx.AsyncClient, db: AsyncSession, world: Ids, role: Role, case: tuple[str, str, Body]
) -> None:
    method, template, body = case
    ids = world
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
    client: httpx.AsyncClient, db: AsyncSession, world: Ids, role: Role, route: tuple[str, str]
) -> None:
    upload = UPLOADS[route]
    ids = world
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
    client: httpx.AsyncClient, db: AsyncSession, world: Ids, role: Role, route: tuple[str, str]
) -> None:
    ids = world
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
async def test_town_a_lists_never_show_town_b(
    client: httpx.AsyncClient, db: AsyncSession, world: Ids, case: Listing
) -> None:
    ids = world
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


async def test_the_same_requests_succeed_for_the_district(
    client: httpx.AsyncClient, db: AsyncSession, world: Ids
) -> None:
    """The control: every read in the table answers 200 for a district-wide administrator (or auditor)."""
    ids = world
    district = await _unit(db, ids["district"])
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    for method, template, _ in CASES:
        # identity is for the care team only; confidential notes for the case's social workers only
        if method == "GET" and not template.endswith(("/identity", "/confidential-notes")):
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
    client: httpx.AsyncClient, db: AsyncSession, world: Ids
) -> None:
    ids = world
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
