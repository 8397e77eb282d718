"""Alembic is the only way the schema is made: models and migrations agree, and downgrade works."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core import clock
from services.core.audit import service as audit
from services.core.config import get_settings
from services.core.db import make_engine, make_session_factory
from services.core.models import Base
from services.core.reports import service as reports
from services.core.reports.schemas import ReportCreate
from services.core.security.pii import mask_phone
from services.core.security.roles import Role
from services.core.system.service import alembic_config
from services.core.teams import people as people_service
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import TEST_PII, make_child, make_district, make_resident, make_user, make_worker
from tests.report_world import build_report_world, health_need, sentinel_principal

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], "models differ from migrations; write a migration:\n" + "\n".join(map(str, differences))


async def test_downgrade_to_base_and_back(servers: Servers) -> None:
    url = await fresh_database(servers, "gridcare_migrate")
    try:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.downgrade, cfg, "base")
        engine = make_engine(url, null_pool=True)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        await engine.dispose()
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
    finally:
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def test_person_mobiles_survive_0007_both_ways(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    """0007 seals existing plaintext mobiles with the application's keys; its downgrade opens them again."""
    monkeypatch.setenv("GRIDCARE_PII_KEYS", '{"1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}')
    monkeypatch.setenv("GRIDCARE_PII_BLIND_INDEX_KEY", "test-blind-index-key")
    get_settings.cache_clear()
    url = await fresh_database(servers, "gridcare_mobile")
    engine = make_engine(url, null_pool=True)
    try:
        async with make_session_factory(engine)() as db:
            district = await make_district(db)
            worker = await make_worker(db, district)
            await db.commit()
        phone = people_service.open_mobile(worker, TEST_PII)
        cfg = alembic_config(url)
        await asyncio.to_thread(command.downgrade, cfg, "0006")
        async with engine.connect() as conn:
            plain = await conn.scalar(text("select mobile from person where id = :id"), {"id": worker.id})
        assert plain == phone
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as conn:
            enc, bidx, masked = (
                await conn.execute(
                    text("select mobile_enc, mobile_bidx, mobile_masked from person where id = :id"), {"id": worker.id}
                )
            ).one()
        assert phone.encode() not in bytes(enc)
        assert TEST_PII.decrypt(bytes(enc), context=f"person.mobile:{worker.id}") == phone
        assert bytes(bidx) == people_service.mobile_index(TEST_PII, phone)
        assert masked == mask_phone(phone)
    finally:
        get_settings.cache_clear()
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def test_0009_gives_existing_audit_events_their_subjects_path_and_keeps_the_trail_append_only(
    servers: Servers,
) -> None:
    """Events recorded before org_path existed get it from their subject where it resolves; the backfill
    lifts the append-only trigger only inside its own transaction."""
    url = await fresh_database(servers, "gridcare_audit_path")
    engine = make_engine(url, null_pool=True)
    try:
        async with make_session_factory(engine)() as db:
            district = await make_district(db)
            town = await make_child(db, district, number=1)
            grid = await make_child(db, await make_child(db, town, number=1), number=1)
            resident = await make_resident(db, grid)
            worker = await make_worker(db, grid)
            user = await make_user(db, Role.AUDITOR, town)
            subjects = [
                ("resident", resident.id, grid.path),
                ("person", worker.id, grid.path),
                ("user", user.id, town.path),
                ("org_unit", town.id, town.path),
                ("resident", uuid.uuid4(), None),  # gone
                ("login", None, None),  # about no org unit
            ]
            for subject_type, subject_id, _ in subjects:
                await audit.record(
                    db,
                    actor_id=None,
                    action="migration.test",
                    subject_type=subject_type,
                    subject_id=subject_id,
                    org_path=None,
                )
            await db.commit()
        cfg = alembic_config(url)
        await asyncio.to_thread(command.downgrade, cfg, "0008")  # below 0009, whatever came after it
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as conn:
            paths = (
                await conn.scalars(text("select org_path from audit_event where action = 'migration.test' order by id"))
            ).all()
            assert paths == [path for _, _, path in subjects]
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text("update audit_event set org_path = null"))
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def test_report_history_survives_0008_both_ways(servers: Servers) -> None:
    """0008 moves report_transition into record_transition (action derived, team in details); its
    downgrade copies the reports' rows back."""
    url = await fresh_database(servers, "gridcare_lifecycle")
    engine = make_engine(url, null_pool=True)
    try:
        clock.freeze(T0 - timedelta(days=1))
        async with make_session_factory(engine)() as db:
            world = await build_report_world(db, at=T0 - timedelta(days=1))
            clock.freeze(T0)
            body = ReportCreate.model_validate(health_need(world.grid.id, world.resident.id))
            await reports.create(db, sentinel_principal(world.sentinel.id, world.grid), body, pii=TEST_PII)
            await db.commit()
        row = (world.sentinel.id, T0, "submit", None, "submitted", {"team_id": str(world.team.id)})
        query = text(
            "select actor_id, at, action, from_state, to_state, details from record_transition"
            " where subject_type = 'report' and subject_id = :id"
        )
        async with engine.connect() as conn:
            assert [tuple(r) for r in await conn.execute(query, {"id": body.id})] == [row]
        cfg = alembic_config(url)
        await asyncio.to_thread(command.downgrade, cfg, "0007")
        async with engine.connect() as conn:
            old = await conn.execute(
                text("select from_status, to_status, team_id from report_transition where report_id = :id"),
                {"id": body.id},
            )
            assert [tuple(r) for r in old] == [(None, "submitted", world.team.id)]
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as conn:
            assert [tuple(r) for r in await conn.execute(query, {"id": body.id})] == [row]
    finally:
        clock.unfreeze()
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])
