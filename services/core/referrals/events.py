"""A referral's changes leave through one function: ``publish`` (webhooks and the polling feed).

``publish`` writes, in the caller's transaction, one row per end institution into the change feed
(``GET /referrals/changes``: numbered per institution, committed in number order) and hands the
thin payload to the webhook machinery (``core.webhooks.service.emit``: the message and one delivery
row per enabled subscription of those institutions that wants the type). Each webhook event type is
registered here with its payload model (``ReferralEvent`` narrowed to the type), which is what
``contracts/events/<type>.json`` documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.referrals.models import Referral, ReferralChange, ReferralFeedCounter, ReferralIdentifier
from services.core.referrals.schemas import EVENT_TYPES, IdentifierRead, ReferralEvent, ReferralEventData
from services.core.webhooks import events as webhook_events
from services.core.webhooks.service import emit


def _event_model(event_type: str) -> type[BaseModel]:
    """``ReferralEvent`` with ``type`` fixed to ``event_type``: one schema per event in the contract."""
    name = "Referral" + "".join(part.title() for part in event_type.split(".", 1)[1].split("_")) + "Event"
    model: type[BaseModel] = create_model(
        name,
        __base__=ReferralEvent,
        __doc__=f"`{event_type}`: {ReferralEvent.__doc__}",
        type=(Literal[event_type], Field(description="The event type.")),  # type: ignore[arg-type]
    )
    return model


for _type in EVENT_TYPES:
    webhook_events.register(_type, _event_model(_type))


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
    if event_type in EVENT_TYPES:  # on_hold, resumed and rerouted are for the feed only
        await emit(
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
