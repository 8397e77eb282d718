"""A referral's changes leave through one function: ``publish`` (webhooks and the polling feed).

``publish`` writes, in the caller's transaction, one row per end institution into the change feed
(``GET /referrals/changes``: numbered per institution, committed in number order) and hands the
thin payload to the webhook machinery (``core.webhooks.service.emit``: one outbox row per matching
subscription of the HIS clients bound to those institutions). Until the webhooks package is merged
the import below is guarded; at merge it becomes a plain import.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.referrals.models import Referral, ReferralChange, ReferralFeedCounter, ReferralIdentifier
from services.core.referrals.schemas import EVENT_TYPES, IdentifierRead, ReferralEventData

Emit = Callable[..., Awaitable[None]]
_emit: Emit | None
try:  # TODO(merge): replace by `from services.core.webhooks.service import emit` once webhooks lands
    _emit = importlib.import_module("services.core.webhooks.service").emit
except ImportError:  # pragma: no cover - the webhooks branch is not merged yet
    _emit = None


async def identifiers_of(db: AsyncSession, referral_id: uuid.UUID) -> list[IdentifierRead]:
    """The referral's identifiers, by system."""
    rows = await db.execute(
        select(ReferralIdentifier.system, ReferralIdentifier.value)
        .where(ReferralIdentifier.referral_id == referral_id)
        .order_by(ReferralIdentifier.system, ReferralIdentifier.value)
    )
    return [IdentifierRead(system=s, value=v) for s, v in rows.all()]


def payload(referral: Referral, identifiers: Sequence[IdentifierRead]) -> ReferralEventData:
    """The thin payload ``{id, identifiers, version, status}``."""
    return ReferralEventData(
        id=referral.id, identifiers=list(identifiers), version=referral.version, status=referral.status
    )


async def publish(db: AsyncSession, referral: Referral, event_type: str, *, at: datetime | None = None) -> None:
    """Record one change of ``referral`` (already flushed at its new version) for both ends."""
    occurred_at = at or clock.now()
    data = payload(referral, await identifiers_of(db, referral.id))
    institutions = sorted({referral.from_institution_id, referral.to_institution_id})
    if _emit is not None and event_type in EVENT_TYPES:
        await _emit(
            db,
            event_type=event_type,
            institution_ids=institutions,
            data=data.model_dump(mode="json"),
            occurred_at=occurred_at,
        )
    # Last in the transaction: each institution's counter row stays locked until commit.
    for institution_id in institutions:  # one lock order for every writer: no deadlocks
        seq = await _next_change(db, institution_id)
        db.add(
            ReferralChange(
                institution_id=institution_id,
                seq=seq,
                referral_id=referral.id,
                event_type=event_type,
                version=referral.version,
                status=referral.status,
                occurred_at=occurred_at,
            )
        )
    await db.flush()


async def _next_change(db: AsyncSession, institution_id: uuid.UUID) -> int:
    stmt = (
        insert(ReferralFeedCounter)
        .values(institution_id=institution_id, seq=1)
        .on_conflict_do_update(index_elements=["institution_id"], set_={"seq": ReferralFeedCounter.seq + 1})
        .returning(ReferralFeedCounter.seq)
    )
    seq: int = (await db.execute(stmt)).scalar_one()
    return seq


def emitter() -> Any:
    """The webhook ``emit`` in use (None until the webhooks package is merged): for tests."""
    return _emit
