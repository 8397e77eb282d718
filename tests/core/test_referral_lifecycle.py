"""The referral transition tables, pinned as the plan states them and walked through the service: every
(state, action) pair in a table succeeds, every other one answers 409 (tests/core/test_lifecycle_tables.py
does the same for reports, signings and teams)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.service import active_grants
from services.core.lifecycle import Lifecycle
from services.core.referrals import access
from services.core.referrals import service as referrals
from services.core.referrals.lifecycle import DOWNWARD, UPWARD
from services.core.referrals.models import Referral, ReferralStatus
from services.core.referrals.schemas import (
    ReferralAccept,
    ReferralCancel,
    ReferralComplete,
    ReferralCreate,
    ReferralDecline,
    ReferralFollowUp,
    ReferralHold,
    ReferralNote,
)
from services.core.security.principal import Principal
from tests.core.test_lifecycle_tables import _walk
from tests.factories import TEST_PII
from tests.referral_world import ReferralWorld, build_referral_world, downward_body, upward_body

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = ReferralStatus

UPWARD_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("request", None): S.REQUESTED,
    ("receive", S.REQUESTED): S.RECEIVED,
    ("accept", S.REQUESTED): S.ACCEPTED,
    ("accept", S.RECEIVED): S.ACCEPTED,
    ("accept", S.ON_HOLD): S.ACCEPTED,
    ("decline", S.REQUESTED): S.DECLINED,
    ("decline", S.RECEIVED): S.DECLINED,
    ("decline", S.ON_HOLD): S.DECLINED,
    ("hold", S.RECEIVED): S.ON_HOLD,
    ("resume", S.ON_HOLD): S.RECEIVED,
    ("arrive", S.ACCEPTED): S.ARRIVED,
    ("no_show", S.ACCEPTED): S.NO_SHOW,
    ("complete", S.ARRIVED): S.COMPLETED,
    ("cancel", S.REQUESTED): S.CANCELLED,
    ("cancel", S.RECEIVED): S.CANCELLED,
    ("cancel", S.ON_HOLD): S.CANCELLED,
    ("cancel", S.ACCEPTED): S.CANCELLED,
}
DOWNWARD_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("request", None): S.REQUESTED,
    ("take_over", S.REQUESTED): S.TAKEN_OVER,
    ("reroute", S.REQUESTED): S.REQUESTED,
    ("decline", S.REQUESTED): S.DECLINED,
    ("follow_up", S.TAKEN_OVER): S.FOLLOWED_UP,
    ("complete", S.FOLLOWED_UP): S.COMPLETED,
    ("cancel", S.REQUESTED): S.CANCELLED,
    ("cancel", S.TAKEN_OVER): S.CANCELLED,
}


@pytest.mark.parametrize(("declared", "table"), [(UPWARD, UPWARD_TABLE), (DOWNWARD, DOWNWARD_TABLE)], ids=str)
def test_each_referral_declaration_is_the_planned_table(declared: Lifecycle[Any], table: dict[Any, Any]) -> None:
    assert {pair: t.target for pair, t in declared.pairs().items()} == table


async def _viewer(db: AsyncSession, user: Any) -> access.Viewer:
    grants = tuple(await active_grants(db, user_id=user.id))
    return await access.viewer_for(db, Principal(user.id, "u", "person", uuid.uuid4(), grants))


async def _one_per_state(db: AsyncSession, viewer: access.Viewer, body: dict[str, Any]) -> dict[StrEnum, uuid.UUID]:
    facts = {"appointment_at": T0 + timedelta(days=1), "received_at": T0, "decided_at": T0}
    ids: dict[StrEnum, uuid.UUID] = {}
    for state in ReferralStatus:
        created = await referrals.create(db, viewer, ReferralCreate.model_validate(body), pii=TEST_PII)
        await db.execute(update(Referral).where(Referral.id == created.referral.id).values(status=state.value, **facts))
        ids[state] = created.referral.id
    return ids


async def _world(db: AsyncSession) -> ReferralWorld:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_referral_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    return world


async def test_every_upward_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    world = await _world(db)
    member, his = await _viewer(db, world.member), await _viewer(db, world.his)
    ids = await _one_per_state(db, member, upward_body(world))
    note = ReferralNote()
    appointment = ReferralAccept.model_validate({"appointment": {"at": T0 + timedelta(days=1), "department": "心内科"}})
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "receive": lambda r, p, n: referrals.receive(db, his, r, p, note, expected_version=n),
        "accept": lambda r, p, n: referrals.accept(db, his, r, p, appointment, expected_version=n),
        "decline": lambda r, p, n: referrals.decline(
            db, his, r, p, ReferralDecline(reason="no_capacity"), expected_version=n
        ),
        "hold": lambda r, p, n: referrals.hold(db, his, r, p, ReferralHold(reason="等待床位"), expected_version=n),
        "resume": lambda r, p, n: referrals.resume(db, his, r, p, note, expected_version=n),
        "arrive": lambda r, p, n: referrals.arrive(db, his, r, p, note, expected_version=n),
        "no_show": lambda r, p, n: referrals.no_show(db, his, r, p, note, expected_version=n),
        "complete": lambda r, p, n: referrals.complete(
            db, his, r, p, ReferralComplete(), expected_version=n, pii=TEST_PII
        ),
        "cancel": lambda r, p, n: referrals.cancel(
            db, member, r, p, ReferralCancel(reason="患者改变主意"), expected_version=n
        ),
    }

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        referral, path = await referrals.get_in_scope(db, his, ids[state])
        await calls[action](referral, path, referral.version)
        return ReferralStatus(referral.status)

    await _walk(ReferralStatus, list(calls), UPWARD_TABLE, db, attempt)


async def test_every_downward_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    world = await _world(db)
    member, his = await _viewer(db, world.member), await _viewer(db, world.his)
    ids = await _one_per_state(db, his, downward_body(world, discharged_at=T0.isoformat()))
    note = ReferralNote()
    contact = ReferralFollowUp(channel="phone", outcome="reached")
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "take_over": lambda r, p, n: referrals.take_over(db, member, r, p, note, expected_version=n),
        "decline": lambda r, p, n: referrals.decline(
            db, member, r, p, ReferralDecline(reason="patient_refused"), expected_version=n
        ),
        "follow_up": lambda r, p, n: referrals.follow_up(db, member, r, p, contact, expected_version=n, pii=TEST_PII),
        "complete": lambda r, p, n: referrals.complete(
            db, member, r, p, ReferralComplete(), expected_version=n, pii=TEST_PII
        ),
        "cancel": lambda r, p, n: referrals.cancel(
            db, his, r, p, ReferralCancel(reason="患者转院"), expected_version=n
        ),
    }

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        referral, path = await referrals.get_in_scope(db, member, ids[state])
        await calls[action](referral, path, referral.version)
        return ReferralStatus(referral.status)

    await _walk(ReferralStatus, list(calls), DOWNWARD_TABLE, db, attempt)


def test_the_worker_runs_every_referral_clock() -> None:
    import services.worker.settings  # noqa: F401 - what the worker loads (its job modules register the kinds)
    from services.core.deadlines.kinds import registered_kinds

    kinds = {"referral.receive", "referral.decide", "referral.no_show", "referral.take_over", "referral.follow_up"}
    assert kinds <= set(registered_kinds())
