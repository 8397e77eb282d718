"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api import contract, problems
from services.api.metrics import METRICS_PATH, MetricsMiddleware, metrics_endpoint
from services.api.middleware import BodySizeLimitMiddleware, NoStoreMiddleware, RequestIdMiddleware
from services.api.routes import (
    accounts,
    assignments,
    audit,
    auth,
    duties,
    fhir,
    notifications,
    org,
    referrals,
    reports,
    residents,
    roster,
    signing,
    socialwork,
    supervision,
    system,
    teams,
    volunteers,
    webhooks,
)
from services.api.routing import guard_shadowed, index_by_first_segment
from services.core.accounts.principals import PrincipalCache
from services.core.config import Settings, get_settings
from services.core.db import make_engine, make_session_factory
from services.core.metrics import watch_pool
from services.core.system.service import migration_head

ROUTERS = (
    system.router,
    auth.router,
    org.router,
    accounts.router,
    teams.router,
    assignments.router,
    roster.router,
    notifications.router,
    residents.router,
    residents.sync_router,
    signing.router,
    reports.router,
    referrals.router,
    socialwork.router,
    volunteers.router,
    fhir.router,
    webhooks.router,
    audit.router,
    duties.router,
    supervision.router,
)

# Routes that answer without a token. A test fails when any other route lacks authentication.
# The team directory is public on purpose: the plan (seed 003 §二(一)2) asks towns to publish
# their family doctor teams to residents. It shows team, institution, the leader's name, the
# service phone and the grids served, and nothing else personal (tests/api/test_roster.py).
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/oauth/token", "/directory/villages/{village_id}/teams", "/fhir/metadata"}
)

DESCRIPTION = """\
gridcare runs a district's **family doctor × grid** loop: grid sentinels report, the
responsible family doctor team reports in and follows up within 48 hours, supervisors
see how it goes.

* Get a token at `POST /oauth/token` (OAuth2 password grant for people,
  client_credentials for systems) and send it as `Authorization: Bearer …`.
* Every error is RFC 9457 `application/problem+json` with a stable `code`.
* Updates take `If-Match` with the ETag you read; lists page with an opaque `cursor`.
* Anything outside your scope answers 404, exactly as if it did not exist.
"""


def operation_id(route: APIRoute) -> str:
    """Stable operationIds for generated clients: the handler's name (``create_org_unit``)."""
    return route.name


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    redis: ArqRedis | None = None,
) -> FastAPI:
    """Build the app; tests pass their own engine and Redis, production builds them from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        own_redis = redis is None
        db_engine = engine or make_engine(
            _require(settings.database_url, "GRIDCARE_DATABASE_URL"),
            pool_size=settings.db_pool_size,
            application_name="gridcare-api",
            pre_ping=False,
        )
        watch_pool(db_engine, "api")
        app.state.session_factory = make_session_factory(db_engine)
        app.state.redis = redis or await create_pool(
            RedisSettings.from_dsn(_require(settings.redis_url, "GRIDCARE_REDIS_URL"))
        )
        try:
            yield
        finally:
            if own_redis:
                await app.state.redis.aclose()
            if own_engine:
                await db_engine.dispose()

    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        title="gridcare",
        version="0.1.0",
        summary="Family doctor teams × community grids: the district health governance API",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=[
            {"name": "health", "description": "Liveness and readiness."},
            {"name": "auth", "description": "Tokens, logout and the caller's own account."},
            {"name": "org", "description": "District, towns, villages and grids."},
            {"name": "users", "description": "Accounts and role grants."},
            {"name": "teams", "description": "Institutions, their stewards, people, family doctor teams and backing."},
            {
                "name": "assignments",
                "description": "Who is responsible where and when: team areas, community roles, pairings, gaps.",
            },
            {
                "name": "roster",
                "description": 'The member roster (家医网格"双向赋能"成员明细表): .xlsx export per town or district, '
                "and import of the same file, all or nothing.",
            },
            {"name": "directory", "description": "Public, no login: the teams serving a village/community."},
            {"name": "inbox", "description": "The caller's own notifications: list, mark read, delta sync."},
            {
                "name": "residents",
                "description": "Residents, key-population tags and bulk import. Identity numbers and phones are "
                "encrypted at rest and masked in every answer; `GET /residents/{id}/identity` reveals them to "
                "care-team roles only, and every such read is audited.",
            },
            {
                "name": "signing",
                "description": "Family-doctor signing (签约) with a team for a service package (basic, "
                "chronic_disease, maternal_child, elderly, rehabilitation, tcm), renewal and termination; "
                "contacts with signed residents; coverage per team and village; the quarterly-contact duty.",
            },
            {"name": "sync", "description": "Delta sync for the mobile apps."},
            {
                "name": "reports",
                "description": "Sentinel reports (网格吹哨、家医报到): submit (alone or a phone's queue of up to 100), "
                "report in, follow up within 48 hours, intervene, close. The sentinel sees where a report stands "
                "(`view: status`), the team and supervisors the whole report (`view: care`).",
            },
            {
                "name": "referrals",
                "description": "Two-way referral (双向转诊): primary teams refer signed residents up to district "
                "hospitals with priority booking; hospitals refer patients down and the responsible team takes them "
                "over and follows up. Hospital systems create by their own identifiers, move referrals with "
                "If-Match, and poll `GET /referrals/changes` when they cannot receive webhooks.",
            },
            {
                "name": "fhir",
                "description": "The FHIR R4 face of referrals (`application/fhir+json`): ServiceRequest and Task, "
                "read, search, conditional create (`If-None-Exist: identifier=system|value`), Task updates; "
                "errors are OperationOutcome. `GET /fhir/metadata` is the CapabilityStatement.",
            },
            {
                "name": "duties",
                "description": "The plan's standing duties: family doctor work days (1-2 a month per team), the "
                "district institutions' weekly health livestream (30 minutes or more), the member roster (by 10 July) "
                "and the annual work summary (by 30 November). The worker tells whoever must act, once.",
            },
            {
                "name": "webhooks",
                "description": "Referral events pushed to a hospital system, signed per Standard Webhooks v1 "
                "(`webhook-id`, `webhook-timestamp`, `webhook-signature`); payload schemas in `contracts/events/`. "
                "Retried on a schedule up to about 33 hours; 410 or exhaustion disables the endpoint, and "
                "re-enabling it sends what it missed.",
            },
            {
                "name": "socialwork",
                "description": "Medical social work (医务社工): institutions' social-work departments; cases from "
                "intake to closure with the supervisor's approvals, confidential notes (audited reads), "
                "medical-aid and charity applications, hospital-to-community transfers at discharge, metrics.",
            },
            {
                "name": "volunteers",
                "description": "Volunteers of social-work departments (志愿者, 双工联动): registration, shifts, "
                "service hours submitted and verified, totals per period and an .xlsx workbook; group and "
                "community work sessions.",
            },
            {"name": "audit", "description": "The append-only audit trail, for auditors."},
            {
                "name": "supervision",
                "description": "Supervision (督导通报): each town's half-yearly bulletin (a frozen snapshot with its "
                "SHA-256; issued by the town, acknowledged by the district; corrected as a new edition), the district "
                "roll-up comparing towns, team assessment (考核), as JSON, .xlsx and a printable page; and the "
                "rectification ledger (整改问题台帐).",
            },
        ],
    )
    app.state.settings = settings
    app.state.migration_head = migration_head()
    app.state.principals = PrincipalCache(seconds=settings.auth_cache_seconds)
    if engine is not None:
        app.state.session_factory = make_session_factory(engine)
        watch_pool(engine, "api")
    if redis is not None:
        app.state.redis = redis
    problems.install(app)
    guard_shadowed(app, [route for router in ROUTERS for route in router.routes])
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(NoStoreMiddleware, paths=problems.NO_STORE_PATHS)
    app.add_middleware(MetricsMiddleware)  # outermost: times everything, 413s and 500s included
    app.add_route(METRICS_PATH, metrics_endpoint, methods=["GET"], include_in_schema=False)
    _serve_docs(app)
    index_by_first_segment(app)  # last: every route is in
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc from local files: health-commission intranets often reach no CDN."""
    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-static", StaticFiles(directory=static), name="docs-static")

    async def swagger(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="gridcare API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    async def redoc(_: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="gridcare API",
            redoc_js_url="/docs-static/redoc.standalone.js",
            redoc_favicon_url="data:,",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def _require(value: str | None, name: str) -> str:
    if not value:
        raise RuntimeError(f"{name} is not set (make run sets it for the embedded servers)")
    return value


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the Problem schema, the OAuth2 flows and what ``contract.augment`` adds."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = problems.Problem.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for name, sub in components["schemas"]["Problem"].pop("$defs", {}).items():
        components["schemas"].setdefault(name, sub)
    components.setdefault("securitySchemes", {})["OAuth2"] = {
        "type": "oauth2",
        "flows": {
            "password": {"tokenUrl": "/oauth/token", "scopes": {}},
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
        },
    }
    # Either scheme authorises an operation, so the docs' Authorize dialog can log in with a password.
    for item in schema["paths"].values():
        for operation in item.values():
            if {"HTTPBearer": []} in operation.get("security", []):
                operation["security"].append({"OAuth2": []})
    contract.augment(schema, app.routes, public_paths=PUBLIC_PATHS)
    app.openapi_schema = schema
    return schema
