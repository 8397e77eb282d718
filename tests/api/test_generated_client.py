"""A third party's view: a client generated from contracts/openapi.json with openapi-python-client,
with no warning, drives a scenario against the app (login, list, create, read the ETag, update)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core.config import Settings
from services.core.security.roles import Role
from tests.api.test_contract import CONTRACT
from tests.factories import PASSWORD, make_district, make_user

PACKAGE = "gridcare_client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate the client once per session and import it."""
    root = tmp_path_factory.mktemp("generated")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")  # no formatter needed to import it
    tool = Path(sys.executable).with_name("openapi-python-client")
    run = subprocess.run(
        [str(tool), "generate", "--path", str(CONTRACT), "--meta", "none"]
        + ["--output-path", str(root / PACKAGE), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
async def transport(db: AsyncSession, settings: Settings, engine: AsyncEngine, redis: ArqRedis) -> httpx.ASGITransport:
    """The app over an ASGI transport, every request sharing the test's session (as in conftest's client)."""
    app = create_app(settings, engine=engine, redis=redis)

    @asynccontextmanager
    async def shared_session() -> AsyncIterator[AsyncSession]:
        await db.commit()
        yield db

    app.state.session_factory = shared_session
    return httpx.ASGITransport(app=app, raise_app_exceptions=False)


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_logs_in_creates_and_updates_with_the_etag(
    generated: ModuleType, transport: httpx.ASGITransport, db: AsyncSession
) -> None:
    district = await make_district(db)
    user = await make_user(db, Role.DISTRICT_ADMIN, district)
    district_id, username = district.id, user.username
    await db.commit()
    base = "http://gridcare.test"
    models = _module("models")

    anonymous = generated.Client(base_url=base)
    anonymous.set_async_httpx_client(httpx.AsyncClient(transport=transport, base_url=base))
    token = await _module("api.auth.issue_token").asyncio_detailed(
        client=anonymous,
        body=models.BodyIssueToken(
            grant_type=models.BodyIssueTokenGrantType.PASSWORD, username=username, password=PASSWORD
        ),
    )
    assert token.status_code == 200, token.content
    assert token.parsed.token_type == "Bearer"
    assert token.headers["cache-control"] == "no-store"

    client = generated.AuthenticatedClient(base_url=base, token=token.parsed.access_token)
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=transport, base_url=base, headers={"Authorization": f"Bearer {token.parsed.access_token}"}
        )
    )
    listed = await _module("api.org.list_org_units").asyncio_detailed(client=client)
    assert listed.status_code == 200
    assert [unit.id for unit in listed.parsed.items] == [district_id]

    created = await _module("api.org.create_org_unit").asyncio_detailed(
        client=client,
        body=models.OrgUnitCreate(
            parent_id=district_id, code="500112101000", name="兴隆镇", category=models.OrgUnitCategory.TOWN
        ),
    )
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.OrgUnitRead)
    etag = created.headers["etag"]
    assert etag == f'"{created.parsed.version}"' == '"1"'  # the header, and the body's typed version

    updated = await _module("api.org.update_org_unit").asyncio_detailed(
        unit_id=created.parsed.id, client=client, body=models.OrgUnitUpdate(name="兴隆镇（新）"), if_match=etag
    )
    assert updated.status_code == 200, updated.content
    assert updated.parsed.name == "兴隆镇（新）"
    assert updated.headers["etag"] == '"2"'
    stale = await _module("api.org.update_org_unit").asyncio_detailed(
        unit_id=created.parsed.id, client=client, body=models.OrgUnitUpdate(name="再改"), if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)
    assert stale.parsed.code == "version_mismatch"

    workbook = await _module("api.roster.export_roster").asyncio_detailed(client=client, org_unit_id=district_id)
    assert workbook.status_code == 200
    assert workbook.parsed.payload.read()[:2] == b"PK"  # a zip: the .xlsx arrives as a File
