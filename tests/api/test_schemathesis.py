"""Schemathesis over every operation of the ASGI app: no 5xx, no response that breaks the schema, valid
data accepted and invalid data refused, every status and header documented, and `Allow` telling the truth.

It runs against a database of its own with committed data (schemathesis drives the
app from its own event loop, so the per-test rollback transaction cannot be shared),
as a district administrator, so that writes are actually exercised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.app import create_app
from services.core import clock
from services.core.accounts import service as auth_service
from services.core.accounts import users
from services.core.accounts.schemas import GrantCreate, UserCreate
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.org import service as org_service
from services.core.security.roles import Role
from services.core.system import service as system
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings


@pytest.fixture(scope="session")
async def fuzz_target(servers: Servers) -> AsyncIterator[dict[str, Any]]:
    url = await fresh_database(servers, "gridcare_fuzz")
    fuzz_settings = make_settings(
        url, servers.redis_url, access_token_ttl_seconds=3600, worker_stale_after_seconds=3600
    )
    engine = make_engine(url, null_pool=True)
    async with session_scope(make_session_factory(engine)) as db:
        district = await org_service.create_district(db, code="500112", name="渝北区")
        await users.create_user(
            db,
            None,
            UserCreate(
                username="fuzzadmin",
                display_name="fuzz",
                secret="fuzz-admin-secret",
                org_unit_id=district.id,
                grants=[GrantCreate(role=Role.DISTRICT_ADMIN, org_unit_id=district.id)],
            ),
        )
        # A worker "seen" now, so /readyz can answer 200 as well as its documented 503.
        await system.beat(db, worker_id="fuzz-worker", started_at=clock.now())
        issued = await auth_service.login_with_password(
            db, settings=fuzz_settings, username="fuzzadmin", password="fuzz-admin-secret"
        )
    await engine.dispose()
    yield {"app": create_app(fuzz_settings), "token": issued.access_token}
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


# Rules JSON Schema cannot say, so schema-valid data may still be refused with a 422 naming these
# fields (and only these): check characters, cross-field rules, ids that must name a record in scope.
# Everything a schema *can* say (patterns, lengths, enums, formats) is in the contract instead.
UNEXPRESSIBLE: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/institutions"): frozenset({"body.credit_code"}),  # GB 32100 check character
    ("PATCH", "/institutions/{institution_id}"): frozenset({"body.credit_code"}),
    ("POST", "/people"): frozenset({"body.institution_id", "body.org_unit_id", "body.discipline"}),  # by kind
    ("POST", "/teams"): frozenset({"body.institution_id", "body.leader_id", "body.level"}),  # level by kind
    ("POST", "/pairings"): frozenset({"body.community_role_id", "body.member_id", "body.ends_at"}),
    ("POST", "/residents"): frozenset({"body.id_number", "body.birth_on", "body.sex"}),  # check digit, agree
    ("PATCH", "/residents/{resident_id}"): frozenset({"body.id_number", "body.birth_on", "body.sex", "body.died_on"}),
    ("POST", "/residents/lookup"): frozenset({"body.id_number"}),
    ("POST", "/reports"): frozenset(
        {"body.resident_id", "body.new_resident", "body.details", "body.observed_at"}  # which one, by category
    ),
    ("GET", "/reports/metrics"): frozenset({"query.to"}),  # after `from`, at most 400 days
    # one of resident_id / patient names the patient; consent comes before now
    ("POST", "/referrals"): frozenset({"body.resident_id", "body.patient", "body.consent.given_at"}),
    ("GET", "/referrals"): frozenset({"query.identifier"}),  # system|value
    ("GET", "/referrals/metrics"): frozenset({"query.from", "query.to"}),  # 2000-2100, after `from`, <= 400 days
    # duties: places the team served that day, nothing in the future, ids in scope, a town, text or attachment
    ("POST", "/teams/{team_id}/work-days"): frozenset({"body.unit_ids", "body.held_on", "body.resident_ids"}),
    ("POST", "/institutions/{institution_id}/livestreams"): frozenset({"body.started_at"}),
    ("POST", "/duty-submissions"): frozenset({"body.org_unit_id", "body.institution_id", "body.content", "body.year"}),
    ("GET", "/duty-submissions"): frozenset({"query.org_unit_id"}),
    ("GET", "/duties/metrics"): frozenset({"query.from", "query.to"}),  # 2020-2099, after `from`, <= 400 days
    # the institution defaults to the caller's one (or must name one in scope); a URL may not carry
    # credentials or a fragment, nor (where not allowed) point at a private address
    ("POST", "/webhook-subscriptions"): frozenset({"body.institution_id", "body.url"}),
    ("PATCH", "/webhook-subscriptions/{subscription_id}"): frozenset({"body.url"}),
    # social work: ids naming a record in scope; the source and its linked record; a resident or a patient
    # (ID check character); the caller's department (an administrator names one); periods as for referrals
    ("POST", "/social-work-departments"): frozenset({"body.institution_id", "body.name"}),
    ("POST", "/social-work-cases"): frozenset(
        {
            "body.department_id",
            "body.source_report_id",
            "body.source_referral_id",
            "body.referred_by",
            "body.resident_id",
            "body.patient",
            "body.worker_ids",
        }
    ),
    ("GET", "/social-work-aid-totals"): frozenset({"query.from", "query.to"}),
    ("GET", "/social-work-metrics"): frozenset({"query.department_id", "query.from", "query.to"}),
    # postings: the person's institution decides the kind; a county_hired one has a term
    ("POST", "/postings"): frozenset({"body.person_id", "body.host_institution_id", "body.ends_at"}),
    # volunteers: ids that must name a department's records in scope; not blank; no later than today
    ("POST", "/volunteers"): frozenset({"body.department_id", "body.paired_user_id", "body.user_id", "body.name"}),
    ("PATCH", "/volunteers/{volunteer_id}"): frozenset({"body.paired_user_id", "body.name"}),
    ("POST", "/volunteer-shifts"): frozenset({"body.department_id", "body.ends_at", "body.title"}),
    ("POST", "/volunteer-hours"): frozenset({"body.volunteer_id", "body.shift_id", "body.served_on", "body.activity"}),
    ("GET", "/volunteer-hours/totals"): frozenset({"query.to"}),  # not before `from`, at most 400 days on
    ("GET", "/volunteer-hours.xlsx"): frozenset({"query.to"}),
    ("POST", "/group-sessions"): frozenset(
        {
            *("body.department_id", "body.village_id", "body.held_at", "body.topic", "body.promotion_topic"),
            *("body.named_participants", "body.participants_consented", "body.facilitator_user_id"),
        }
    ),
    # a town, the district; a ledger item names a village/grid or a team, an account, a date not past
    ("GET", "/supervision/draft"): frozenset({"query.org_unit_id", "query.period"}),  # a town; a half year begun
    ("GET", "/supervision/rollup-status"): frozenset({"query.org_unit_id"}),
    ("POST", "/supervision/rectifications"): frozenset(
        {"body.org_unit_id", "body.team_id", "body.bulletin_id", "body.problem", "body.owner_id", "body.due_on"}
    ),
}

# The FHIR face validates FHIR resources and search parameters by FHIR's rules (fhir.resources, in
# tests/api/test_referrals.py) and answers OperationOutcome, not field lists: OpenAPI cannot state those
# rules, so its operations are held to the 5xx, schema, header and status checks, not to the two
# data-acceptance checks.
FHIR_FACE = "/fhir/"


def accepts_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, except a 422 whose every field is one of UNEXPRESSIBLE's for the operation."""
    if case.operation.path.startswith(FHIR_FACE):
        return None
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        allowed = UNEXPRESSIBLE.get((case.method.upper(), case.operation.path), frozenset())
        if response.status_code == 422 and allowed:
            fields = [e["field"] for e in response.json().get("errors", [])]
            if fields and all(any(f == a or f.startswith(f"{a}.") for a in allowed) for f in fields):
                return None
        raise


def sent_headers_are_declared(ctx: Any, response: Any, case: Any) -> bool | None:
    """The other direction of ``response_headers_conformance``: a record header the server sends is
    declared on that status (a route answering through a helper the contract cannot see would fail)."""
    definition = case.operation.responses.find_by_status_code(response.status_code)
    declared = {name.lower() for name, _ in (definition.headers.items() if definition is not None else [])}
    undeclared = [h for h in ("etag", "location", "idempotent-replayed", "retry-after") if h in response.headers]
    undeclared = [h for h in undeclared if h not in declared]
    if undeclared:
        raise AssertionError(f"{case.operation.label} {response.status_code} sends undeclared {undeclared}")
    return None


def rejects_invalid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """``negative_data_rejection``, except a multipart body "made invalid": on the wire every file part
    is bytes, so a file part whose JSON type was mutated (``null`` becomes the four bytes ``null``) is
    still a file, and an import reads it (and reports its rows)."""
    if case.operation.path.startswith(FHIR_FACE):
        return None
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        body = case.meta.components.get(ParameterLocation.BODY) if case.meta else None
        others = [info for location, info in case.meta.components.items() if location is not ParameterLocation.BODY]
        if (
            case.media_type == "multipart/form-data"
            and body is not None
            and body.mode.is_negative
            and not any(info.mode.is_negative for info in others)
        ):
            return None
        raise


CHECKS = [
    sent_headers_are_declared,
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    response_headers_conformance,
    accepts_valid_data,
    rejects_invalid_data,
]
POSITIVE_EXAMPLES = 15
NEGATIVE_EXAMPLES = 10


def test_no_operation_answers_5xx_or_breaks_its_schema(fuzz_target: dict[str, Any]) -> None:
    """Every operation, valid and invalid cases, and an OPTIONS request for its path's `Allow`; all
    failures are collected before asserting."""
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_target["app"])
    headers = {"Authorization": f"Bearer {fuzz_target['token']}"}
    failures: list[str] = []
    operations = 0
    paths: set[str] = set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/oauth/logout":
            continue  # would revoke the token every other case uses; covered in test_auth
        operations += 1
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):
            strategy = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE:
                strategy = strategy.map(_without_cursor)

            @given(case=strategy)
            @settings(
                max_examples=examples,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def exercise(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                exercise()
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every failure, report them all
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
        if operation.path not in paths:
            paths.add(operation.path)
            failures.extend(_options_answer_allow(operation, headers))
    assert operations >= 10
    assert not failures, "\n\n".join(failures)


def _without_cursor(case: Any) -> Any:
    """Valid cases leave the opaque cursors out: only the server makes one (a made-up one is a 422,
    which the invalid cases check)."""
    if case.query:
        case.query = {k: v for k, v in case.query.items() if k not in ("cursor", "since")}
    return case


def _options_answer_allow(operation: Any, headers: dict[str, str]) -> list[str]:
    """OPTIONS on the path (no operation answers it): 405, with `Allow` naming every documented method."""

    @given(case=operation.as_strategy())
    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def options(case: Any) -> None:
        case.method = "OPTIONS"
        case.body = NOT_SET
        response = case.call(headers=headers)
        assert response.status_code == 405, response.status_code
        case.validate_response(response, checks=[allow_header_conformance, not_a_server_error])

    try:
        options()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
        return [f"OPTIONS {operation.path}: {exc}"]
    return []
