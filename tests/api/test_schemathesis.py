"""Schemathesis over every operation of the ASGI app: no 5xx, no response that breaks the schema.

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
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

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


def test_no_operation_answers_5xx_or_breaks_its_schema(fuzz_target: dict[str, Any]) -> None:
    """Every operation, 30 generated cases each; all failures are collected before asserting."""
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_target["app"])
    headers = {"Authorization": f"Bearer {fuzz_target['token']}"}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/oauth/logout":
            continue  # would revoke the token every other case uses; covered in test_auth
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        try:
            exercise()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
