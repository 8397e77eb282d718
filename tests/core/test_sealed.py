"""Sealed columns are declared once, and key rotation covers every one of them.

The round trip walks the ``sealed()`` registry: one row in every table holding a sealed
column, a value in every sealed column under key 1, rotation to key 2, key 1 retired, and
every value read back. A sealed column that is not declared fails the metadata test, so it
cannot be left out of rotation (as contact notes and report drafts once were).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, LargeBinary, MetaData, Table, Uuid, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import services.core.models  # noqa: F401 - the registry is complete once every model module is loaded
from services.core import clock
from services.core.db import Base, make_engine, make_session_factory, session_scope
from services.core.referrals.models import Referral
from services.core.reports.models import ReportStatus, SentinelReport
from services.core.residents.models import Resident
from services.core.security.pii import PiiCipher, PiiKeyError, key_version
from services.core.security.roles import Role
from services.core.security.rotation import rotate, versions_in_use
from services.core.security.sealed import SealedField, registered, sealed, unregistered_columns
from services.core.signing.models import Contact
from services.core.socialwork.models import ConfidentialNote, Transfer
from services.core.teams.models import InstitutionKind
from services.core.webhooks.models import WebhookSubscription
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import (
    TEST_PII,
    make_case,
    make_child,
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
    make_worker,
)

KEY_1 = TEST_PII.keys[1]
KEY_2 = base64.b64decode(base64.b64encode(b"2" * 32))
BOTH = PiiCipher(keys={1: KEY_1, 2: KEY_2}, blind_key=TEST_PII.blind_key)
ONLY_2 = PiiCipher(keys={2: KEY_2}, blind_key=TEST_PII.blind_key)


def test_every_encrypted_column_in_the_metadata_is_declared_sealed() -> None:
    assert unregistered_columns(Base.metadata) == [], "declare it with sealed() beside its model"


def test_an_undeclared_encrypted_column_is_found() -> None:
    scratch = MetaData()
    Table("dossier", scratch, Column("id", LargeBinary, primary_key=True), Column("secret_enc", LargeBinary))
    assert unregistered_columns(scratch) == ["dossier.secret_enc"]


def test_every_blind_index_column_belongs_to_a_sealed_field() -> None:
    declared = {f"{f.table.name}.{f.blind_index}" for f in registered() if f.blind_index}
    in_metadata = {
        f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns if c.name.endswith("_bidx")
    }
    assert declared == in_metadata


async def test_rotation_refuses_to_run_while_an_encrypted_column_is_undeclared() -> None:
    planted = Table("planted", Base.metadata, Column("id", Uuid, primary_key=True), Column("secret_enc", LargeBinary))
    try:
        with pytest.raises(PiiKeyError, match=r"planted\.secret_enc"):
            await rotate(async_sessionmaker(), BOTH)
    finally:
        Base.metadata.remove(planted)


def test_the_registry_names_the_columns_rotation_once_missed() -> None:
    names = {f.name for f in registered()}
    assert {"resident_contact.notes_enc", "sentinel_report.draft_id_number_enc", "sentinel_report.draft_phone_enc"} <= (
        names
    )
    assert {"resident.id_number_enc", "resident.phone_enc", "person.mobile_enc"} <= names
    assert {"referral.reason_enc", "referral.summary_enc", "referral.outcome_summary_enc"} <= names
    assert {"webhook_subscription.secret_enc", "webhook_subscription.previous_secret_enc"} <= names
    assert len({f.context for f in registered()}) == len(names), "each column binds its own context"


def test_two_columns_cannot_share_a_context() -> None:
    with pytest.raises(ValueError, match="both use the context"):
        sealed(Resident.phone_enc, context="resident.id_number")


def test_a_sealed_value_opens_only_in_its_own_column_and_row() -> None:
    (id_number,) = [f for f in registered() if f.name == "resident.id_number_enc"]
    (phone,) = [f for f in registered() if f.name == "resident.phone_enc"]
    row = uuid.uuid4()
    blob = id_number.seal(TEST_PII, row, "500112198005171234")
    assert id_number.open(TEST_PII, row, blob) == "500112198005171234"
    with pytest.raises(PiiKeyError):
        phone.open(TEST_PII, row, blob)
    with pytest.raises(PiiKeyError):
        id_number.open(TEST_PII, uuid.uuid4(), blob)


# ---------------------------------------------------------------- rotation over every sealed column


@pytest.fixture
async def sealed_db(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_sealed")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _one_row_of_every_sealed_table(db: AsyncSession) -> None:
    """A row in each table that holds a sealed column (a new sealed table adds its row here)."""
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    resident = await make_resident(db, grid)
    await make_worker(db, grid)
    leader = await make_user(db, Role.TEAM_LEADER, town)
    centre = await make_institution(db, town)
    team = await make_team(db, centre)
    member = await make_member(db, team, await make_staff(db, await make_institution(db, town)))
    signing = await make_signing(db, resident, team, signed_by=leader.id, starts_on=clock.now().date())
    db.add(
        Contact(
            district_id=district.id,
            resident_id=resident.id,
            signing_id=signing.id,
            team_id=team.id,
            channel="phone",
            outcome="reached",
            contacted_at=clock.now(),
            recorded_by=leader.id,
            team_member_id=member.id,
        )
    )
    db.add(
        SentinelReport(
            district_id=district.id,
            town_id=town.id,
            village_id=village.id,
            grid_id=grid.id,
            category="new_key_population",
            status=ReportStatus.SUBMITTED.value,
            details={},
            resident_draft={"name": "钱七"},
            reporter_id=leader.id,
            unrouted=True,
            submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
            body_digest="0" * 64,
        )
    )
    db.add(
        Referral(
            district_id=district.id,
            direction="upward",
            status="requested",
            resident_id=resident.id,
            grid_id=grid.id,
            village_id=village.id,
            town_id=town.id,
            from_institution_id=centre.id,
            from_team_id=team.id,
            to_institution_id=(await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)).id,
            urgency="routine",
            reason_enc=b"",
            consent_by="patient",
            consent_method="written",
            consent_at=datetime(2026, 11, 1, tzinfo=UTC),
            consent_recorded_by=leader.id,
            requested_by=leader.id,
            requested_at=datetime(2026, 11, 1, tzinfo=UTC),
            body_digest="0" * 64,
        )
    )
    db.add(
        WebhookSubscription(
            institution_id=centre.id,
            district_id=district.id,
            url="https://his.example.org/hooks",
            event_types=["referral.requested"],
            secret_enc=b"",
            previous_secret_enc=b"",
            created_by=leader.id,
        )
    )
    department = await make_department(db, await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL))
    worker = await make_social_worker(db, department)
    case = await make_case(db, department, worker)  # a patient, not a resident: a sealed name
    db.add(
        ConfidentialNote(
            case_id=case.id, district_id=district.id, body_enc=b"", written_by=worker.id, written_at=clock.now()
        )
    )
    db.add(
        Transfer(
            case_id=case.id,
            department_id=department.id,
            district_id=district.id,
            resident_id=resident.id,
            grid_id=grid.id,
            village_id=village.id,
            status="offered",
            scope="summary",
            summary_enc=b"",
            consent_by="patient",
            consent_method="written",
            consent_at=clock.now(),
            to_team_id=team.id,
            discharged_at=clock.now(),
            offered_at=clock.now(),
            offered_by=worker.id,
        )
    )
    await db.flush()


def _plaintext(field: SealedField, row_id: uuid.UUID) -> str:
    return f"{field.name}/{row_id}"


async def test_rotate_then_retire_the_old_key_and_every_sealed_column_still_reads(sealed_db: str) -> None:
    engine = make_engine(sealed_db, pool_size=2)
    factory = make_session_factory(engine)
    try:
        async with session_scope(factory) as db:
            await _one_row_of_every_sealed_table(db)
        async with session_scope(factory) as db:
            written = 0
            for field in registered():
                ids = (await db.scalars(select(field.key))).all()
                assert ids, f"no row of {field.table.name}: add one to _one_row_of_every_sealed_table"
                for row_id in ids:
                    blob = field.seal(TEST_PII, row_id, _plaintext(field, row_id))
                    await db.execute(update(field.table).where(field.key == row_id).values({field.column: blob}))
                    written += 1
            rows = await versions_in_use(db)
        assert set(rows) == {1}

        report = await rotate(factory, BOTH, batch_size=1)
        assert report.rewritten == written
        assert report.skipped_concurrent == 0
        assert (await rotate(factory, BOTH, batch_size=1)).rewritten == 0, "a re-run finds nothing left"

        async with session_scope(factory) as db:
            assert set(await versions_in_use(db)) == {2}, "key 1 protects nothing any more"
            for field in registered():
                for row_id, blob in (await db.execute(select(field.key, field.ciphertext))).all():
                    assert key_version(blob) == 2, field.name
                    assert field.open(ONLY_2, row_id, blob) == _plaintext(field, row_id), field.name
            assert set((await db.scalars(select(Resident.version))).all()) == {1}, "rotation is not an edit"
    finally:
        await engine.dispose()
