"""Residents with committed data, in databases of their own: concurrent updates, delta sync
under concurrent writers, key rotation. (The rolled-back test transaction cannot show these:
the sync only serves changes below the snapshot's xmin, i.e. committed and final.)"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.errors import NotFound, PreconditionFailed, SyncExpired
from services.core.org.models import OrgUnit
from services.core.residents import retention, service
from services.core.residents.models import Resident
from services.core.residents.schemas import ResidentCreate, ResidentUpdate
from services.core.security.pii import PiiCipher, cipher_for, key_version
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.security.rotation import rotate, versions_in_use
from services.core.teams import people as people_service
from services.core.teams.models import Person
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import (
    TEST_PII,
    auth_headers,
    make_child,
    make_district,
    make_resident,
    make_user,
    make_worker,
)


@dataclass
class Committed:
    url: str
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    grid: OrgUnit
    principal: Principal


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[Committed]:
    url = await fresh_database(servers, "gridcare_residents")
    engine = make_engine(url, pool_size=10)
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        district = await make_district(db)
        grid = await make_child(db, await make_child(db, await make_child(db, district, number=1), number=1), number=1)
    principal = Principal(
        user_id=uuid.uuid4(),
        username="writer",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.TEAM_LEADER, district.id, district.path),),
    )
    try:
        yield Committed(url, engine, factory, grid, principal)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def test_two_concurrent_updates_with_one_version_one_wins_one_412(committed: Committed, servers: Servers) -> None:
    settings = make_settings(committed.url, servers.redis_url)
    async with session_scope(committed.factory) as db:
        user = await make_user(db, Role.TEAM_MEMBER, committed.grid)
        resident = await make_resident(db, committed.grid)
    app = create_app(settings, engine=committed.engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = {**await auth_headers(client, user), "If-Match": '"1"'}
        for round_ in range(3):  # several rounds, so both orders of the race get exercised
            async with session_scope(committed.factory) as db:
                version = await db.scalar(select(Resident.version).where(Resident.id == resident.id))
            headers["If-Match"] = f'"{version}"'
            a, b = await asyncio.gather(
                client.patch(f"/residents/{resident.id}", json={"address": f"甲{round_}"}, headers=headers),
                client.patch(f"/residents/{resident.id}", json={"address": f"乙{round_}"}, headers=headers),
            )
            assert sorted([a.status_code, b.status_code]) == [200, 412], (a.text, b.text)
            loser = a if a.status_code == 412 else b
            assert loser.json()["code"] == "version_mismatch"


async def _settled(factory: async_sessionmaker[AsyncSession]) -> None:
    """Wait until every resident change is below the sync horizon.

    The horizon is the cluster-wide snapshot xmin, so a write transaction of *another*
    session on a shared test server holds delivery back (never loses it); this waits for
    that, not for time, and gives up after a generous bound.
    """
    for _ in range(6000):
        async with session_scope(factory) as db:
            passed = await db.scalar(
                text(
                    "select coalesce(max(change_xid), 0) < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint "
                    "from resident"
                )
            )
        if passed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sync horizon never passed the last change")


async def _sync_all(
    db_factory: async_sessionmaker[AsyncSession], principal: Principal, cursor: str | None, limit: int
) -> tuple[list[tuple[uuid.UUID, int]], str]:
    """Page until the server says there is nothing more right now."""
    seen: list[tuple[uuid.UUID, int]] = []
    while True:
        async with session_scope(db_factory) as db:
            rows, cursor, more = await service.sync(db, principal, cursor=cursor, limit=limit)
        seen += [(r.id, r.version) for r, _ in rows]
        if not more:
            return seen, cursor  # type: ignore[return-value]


def _new(grid: OrgUnit, name: str) -> ResidentCreate:
    return ResidentCreate(
        grid_id=grid.id, name=name, birth_on=date(1950, 1, 1), sex="female", confirm_not_duplicate=True
    )


async def test_a_late_commit_is_not_skipped(committed: Committed) -> None:
    """Transaction A starts first but commits last: a sequence cursor would skip its row; ours waits for it."""
    async with session_scope(committed.factory) as db:
        await service.create(db, committed.principal, _new(committed.grid, "先"), pii=TEST_PII)
    slow = committed.factory()
    await slow.begin()
    created_a = await service.create(slow, committed.principal, _new(committed.grid, "甲"), pii=TEST_PII)
    async with session_scope(committed.factory) as db:
        created_b = await service.create(db, committed.principal, _new(committed.grid, "乙"), pii=TEST_PII)
    first, cursor = await _sync_all(committed.factory, committed.principal, None, 10)
    assert created_b.record.resident.id not in {rid for rid, _ in first}, "B is newer than A's open transaction"
    await slow.commit()
    await slow.close()
    await _settled(committed.factory)
    second, _ = await _sync_all(committed.factory, committed.principal, cursor, 10)
    assert {rid for rid, _ in second} == {created_a.record.resident.id, created_b.record.resident.id}


async def test_delta_sync_delivers_every_change_exactly_once_under_concurrent_writers(committed: Committed) -> None:
    rng = random.Random(7)
    ids: list[uuid.UUID] = []
    async with session_scope(committed.factory) as db:
        for i in range(30):
            ids.append(
                (
                    await service.create(db, committed.principal, _new(committed.grid, f"人{i}"), pii=TEST_PII)
                ).record.resident.id
            )
    writers_done = asyncio.Event()

    async def writer(n: int) -> None:
        for step in range(25):
            try:
                await write(n, step)
            except (StaleDataError, PreconditionFailed):
                pass  # a lost race with another writer: fine here, the other change counts
            await asyncio.sleep(0)

    async def write(n: int, step: int) -> None:
        async with session_scope(committed.factory) as db:
            if rng.random() < 0.4:
                new = _new(committed.grid, f"w{n}-{step}")
                ids.append((await service.create(db, committed.principal, new, pii=TEST_PII)).record.resident.id)
                return
            rid = rng.choice(ids)
            current = await db.scalar(select(Resident.version).where(Resident.id == rid))
            change = ResidentUpdate(address=f"{n}-{step}")
            await service.update(db, committed.principal, rid, change, expected_version=int(current or 0), pii=TEST_PII)

    delivered: list[tuple[uuid.UUID, int]] = []

    async def reader() -> None:
        cursor: str | None = None
        while True:
            done = writers_done.is_set()
            if done:
                await _settled(committed.factory)
            page, cursor = await _sync_all(committed.factory, committed.principal, cursor, rng.choice([3, 7, 11]))
            delivered.extend(page)
            if done:
                return
            await asyncio.sleep(0)

    async def writers() -> None:
        await asyncio.gather(*(writer(n) for n in range(4)))
        writers_done.set()

    await asyncio.gather(writers(), reader())

    assert len(delivered) == len(set(delivered)), "a change was delivered twice"
    async with session_scope(committed.factory) as db:
        final = dict((await db.execute(select(Resident.id, Resident.version))).tuples().all())
    latest: dict[uuid.UUID, int] = {}
    for rid, version in delivered:
        assert version > latest.get(rid, 0), "versions of one resident arrive in order"
        latest[rid] = version
    assert latest == final, "every resident's latest change was delivered"


async def test_key_rotation_re_encrypts_in_batches_and_old_keys_still_read(
    committed: Committed, servers: Servers
) -> None:
    async with session_scope(committed.factory) as db:
        for i in range(25):
            await make_resident(db, committed.grid, name=f"旋{i}", phone=f"1390000{i:04d}")
    new_key = base64.b64encode(b"k" * 32).decode()
    old = json.loads(make_settings(committed.url, servers.redis_url).pii_keys.get_secret_value())  # type: ignore[union-attr]
    rotated = cipher_for(make_settings(committed.url, servers.redis_url, pii_keys=json.dumps({**old, "2": new_key})))
    assert isinstance(rotated, PiiCipher)
    assert rotated.newest == 2
    report = await rotate(committed.factory, rotated, batch_size=7)
    assert (report.scanned, report.rewritten) == (25, 50)
    again = await rotate(committed.factory, rotated, batch_size=7)
    assert again.rewritten == 0, "a re-run finds nothing left"
    async with session_scope(committed.factory) as db:
        assert await versions_in_use(db) == {2: 25}
        row = (await db.execute(select(Resident).where(Resident.name == "旋3"))).scalar_one()
        assert key_version(row.phone_enc or b"") == 2
        assert rotated.decrypt(row.phone_enc or b"", context=f"resident.phone:{row.id}") == "13900000003"
        assert row.version == 1, "rotation is not a change clients see"
        xids = await db.scalar(text("select count(distinct change_xid) from resident where name like '旋%'"))
        assert xids == 1


async def test_key_rotation_re_encrypts_people_mobiles_too(committed: Committed, servers: Servers) -> None:
    async with session_scope(committed.factory) as db:
        workers = [await make_worker(db, committed.grid) for _ in range(5)]
    phones = {w.id: people_service.open_mobile(w, TEST_PII) for w in workers}
    new_key = base64.b64encode(b"m" * 32).decode()
    old = json.loads(make_settings(committed.url, servers.redis_url).pii_keys.get_secret_value())  # type: ignore[union-attr]
    rotated = cipher_for(make_settings(committed.url, servers.redis_url, pii_keys=json.dumps({**old, "2": new_key})))
    report = await rotate(committed.factory, rotated, batch_size=2)
    assert (report.scanned, report.rewritten) == (5, 5)
    assert (await rotate(committed.factory, rotated, batch_size=2)).rewritten == 0
    async with session_scope(committed.factory) as db:
        for person in (await db.scalars(select(Person).where(Person.id.in_(list(phones))))).all():
            assert key_version(person.mobile_enc) == 2
            assert people_service.open_mobile(person, rotated) == phones[person.id]
            assert person.mobile_bidx == people_service.mobile_index(rotated, phones[person.id])
            assert person.version == 1


# ---------------------------------------------------------------- removals: tombstones


async def _all_settled(factory: async_sessionmaker[AsyncSession]) -> None:
    """``_settled`` for residents and tombstones both (a deletion leaves only a tombstone)."""
    for _ in range(6000):
        async with session_scope(factory) as db:
            passed = await db.scalar(
                text(
                    "select greatest((select coalesce(max(change_xid), 0) from resident), "
                    "(select coalesce(max(change_xid), 0) from resident_tombstone)) "
                    "< (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"
                )
            )
        if passed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sync horizon never passed the last change")


@dataclass
class Phone:
    """A phone's copy of its area, kept the way the sync tells clients to: removals first, then items."""

    principal: Principal
    cursor: str | None = None
    residents: dict[uuid.UUID, int] | None = None
    tombstones: list[uuid.UUID] | None = None

    async def sync(self, factory: async_sessionmaker[AsyncSession], limit: int) -> None:
        self.residents = self.residents if self.residents is not None else {}
        self.tombstones = self.tombstones if self.tombstones is not None else []
        while True:
            async with session_scope(factory) as db:
                page = await service.sync_changes(db, self.principal, cursor=self.cursor, limit=limit)
            for gone in page.removed:
                self.tombstones.append(gone.id)
                self.residents.pop(gone.resident_id, None)
            for resident, _ in page.items:
                self.residents[resident.id] = resident.version
            self.cursor = page.next_cursor
            if not page.has_more:
                return


async def _two_grids(committed: Committed) -> tuple[OrgUnit, OrgUnit]:
    """The fixture's grid (the phone's area) and another grid of the same village (outside it)."""
    async with session_scope(committed.factory) as db:
        village = await db.get(OrgUnit, committed.grid.parent_id)
        assert village is not None
        other = await make_child(db, village, number=2)
    return committed.grid, other


def _sentinel_of(grid: OrgUnit) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        username="phone",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.SENTINEL, grid.id, grid.path),),
    )


async def test_tombstones_are_delivered_once_across_pages_while_others_write(committed: Committed) -> None:
    """Writers move residents out of the phone's grid and back, record deaths, delete records and edit others
    while the phone pages with small pages: each tombstone arrives once, and the phone ends with exactly the
    living residents of its grid, at their latest version."""
    here, there = await _two_grids(committed)
    rng = random.Random(13)
    ids: list[uuid.UUID] = []
    async with session_scope(committed.factory) as db:
        for i in range(30):
            ids.append(
                (await service.create(db, committed.principal, _new(here, f"住{i}"), pii=TEST_PII)).record.resident.id
            )
    phone = Phone(_sentinel_of(here))
    deleted: set[uuid.UUID] = set()
    writers_done = asyncio.Event()

    async def write(n: int, step: int) -> None:
        rid = rng.choice(ids)
        if rid in deleted:
            return
        async with session_scope(committed.factory) as db:
            row = (await db.execute(select(Resident.version, Resident.grid_id).where(Resident.id == rid))).one_or_none()
            if row is None:
                return
            version, grid_id = row
            roll = rng.random()
            if roll < 0.05:
                deleted.add(rid)
                await db.execute(text("delete from resident where id = :id"), {"id": rid})
                return
            if roll < 0.15:
                change = ResidentUpdate(died_on=date(2026, 1, 1) if rng.random() < 0.7 else None)
            elif roll < 0.6:
                change = ResidentUpdate(grid_id=there.id if grid_id == here.id else here.id)
            else:
                change = ResidentUpdate(address=f"{n}-{step}")
            await service.update(db, committed.principal, rid, change, expected_version=int(version), pii=TEST_PII)

    async def writer(n: int) -> None:
        for step in range(30):
            try:
                await write(n, step)
            except (StaleDataError, PreconditionFailed, NotFound):
                pass  # a lost race with another writer (or a deletion): the other change counts
            await asyncio.sleep(0)

    async def writers() -> None:
        await asyncio.gather(*(writer(n) for n in range(4)))
        writers_done.set()

    async def reader() -> None:
        while True:
            done = writers_done.is_set()
            if done:
                await _all_settled(committed.factory)
            await phone.sync(committed.factory, rng.choice([2, 5, 9]))
            if done:
                return
            await asyncio.sleep(0)

    await asyncio.gather(writers(), reader())

    assert phone.tombstones is not None
    assert phone.tombstones, "the writers removed residents from the phone's grid"
    assert len(phone.tombstones) == len(set(phone.tombstones)), "a tombstone was delivered twice"
    async with session_scope(committed.factory) as db:
        living_here = dict(
            (
                await db.execute(
                    select(Resident.id, Resident.version).where(Resident.grid_id == here.id, Resident.died_on.is_(None))
                )
            ).all()
        )
        reasons = set((await db.scalars(text("select distinct reason from resident_tombstone"))).all())
    assert phone.residents == living_here, "the phone holds exactly the living residents of its grid, latest versions"
    assert reasons == {"moved_out", "died", "deleted"}


async def test_a_removal_committed_late_by_a_long_transaction_is_not_skipped(committed: Committed) -> None:
    """A move out of the phone's grid in a transaction that started first and commits last: the phone is
    held at the open transaction (nothing after it is answered), then gets the tombstone and the later change."""
    here, there = await _two_grids(committed)
    async with session_scope(committed.factory) as db:
        leaving = (await service.create(db, committed.principal, _new(here, "迁"), pii=TEST_PII)).record.resident
    phone = Phone(_sentinel_of(here))
    await _all_settled(committed.factory)
    await phone.sync(committed.factory, 10)
    assert phone.residents == {leaving.id: 1}
    slow = committed.factory()
    await slow.begin()
    await service.update(
        slow, committed.principal, leaving.id, ResidentUpdate(grid_id=there.id), expected_version=1, pii=TEST_PII
    )
    async with session_scope(committed.factory) as db:
        arriving = (await service.create(db, committed.principal, _new(here, "来"), pii=TEST_PII)).record.resident
    await phone.sync(committed.factory, 10)
    assert phone.residents == {leaving.id: 1}, "nothing committed after the open transaction is answered yet"
    assert phone.tombstones == []
    await slow.commit()
    await slow.close()
    await _all_settled(committed.factory)
    await phone.sync(committed.factory, 10)
    assert phone.residents == {arriving.id: 1}
    assert phone.tombstones is not None
    assert len(phone.tombstones) == 1
    await phone.sync(committed.factory, 10)
    assert len(phone.tombstones) == 1, "asked again, nothing is repeated"


async def test_a_phone_whose_area_holds_both_grids_gets_no_tombstone_for_a_move(committed: Committed) -> None:
    """Moving within the caller's area is a change, not a removal; the village's phone sees the resident move."""
    here, there = await _two_grids(committed)
    village = Principal(
        user_id=uuid.uuid4(),
        username="village",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(
            Grant(
                uuid.uuid4(),
                Role.TEAM_MEMBER,
                committed.grid.parent_id,
                committed.grid.path[: -len(committed.grid.code) - 1],
            ),
        ),
    )
    async with session_scope(committed.factory) as db:
        mover = (await service.create(db, committed.principal, _new(here, "动"), pii=TEST_PII)).record.resident
    async with session_scope(committed.factory) as db:
        await service.update(
            db, committed.principal, mover.id, ResidentUpdate(grid_id=there.id), expected_version=1, pii=TEST_PII
        )
    await _all_settled(committed.factory)
    wide, narrow = Phone(village), Phone(_sentinel_of(here))
    await wide.sync(committed.factory, 10)
    await narrow.sync(committed.factory, 10)
    assert (wide.residents, wide.tombstones) == ({mover.id: 2}, [])
    assert narrow.residents == {}
    assert narrow.tombstones is not None
    assert len(narrow.tombstones) == 1


async def test_a_phone_away_longer_than_removals_are_kept_starts_over_and_one_that_kept_up_does_not(
    committed: Committed,
) -> None:
    """Removals are pruned after the retention; the phone whose cursor predates the last pruned one is told
    to start over (410 ``sync_expired``), the phone that already took it goes on, a fresh sync is whole."""
    here, there = await _two_grids(committed)
    async with session_scope(committed.factory) as db:
        leaving = (await service.create(db, committed.principal, _new(here, "走"), pii=TEST_PII)).record.resident
        staying = (await service.create(db, committed.principal, _new(here, "留"), pii=TEST_PII)).record.resident
    await _all_settled(committed.factory)
    away, kept_up = Phone(_sentinel_of(here)), Phone(_sentinel_of(here))
    await away.sync(committed.factory, 10)
    async with session_scope(committed.factory) as db:
        await service.update(
            db, committed.principal, leaving.id, ResidentUpdate(grid_id=there.id), expected_version=1, pii=TEST_PII
        )
    await _all_settled(committed.factory)
    await kept_up.sync(committed.factory, 10)
    assert kept_up.residents == {staying.id: 1}

    keep = timedelta(days=180)
    async with session_scope(committed.factory) as db:
        assert await retention.prune_tombstones(db, now=clock.now(), keep=keep) == 0, "within the retention"
    async with session_scope(committed.factory) as db:
        assert await retention.prune_tombstones(db, now=clock.now() + timedelta(days=181), keep=keep) == 1
    async with session_scope(committed.factory) as db:
        assert await retention.prune_tombstones(db, now=clock.now() + timedelta(days=181), keep=keep) == 0

    await kept_up.sync(committed.factory, 10)  # its cursor is past the pruned removal: nothing lost
    assert kept_up.residents == {staying.id: 1}
    with pytest.raises(SyncExpired) as expired:
        await away.sync(committed.factory, 10)
    assert expired.value.extra == {"field": "query.cursor"}
    again = Phone(_sentinel_of(here))  # what the phone does when told: start over without a cursor
    await again.sync(committed.factory, 10)
    assert (again.residents, again.tombstones) == ({staying.id: 1}, [])
