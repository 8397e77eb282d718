"""How long residents' removals (tombstones) stay for phones to sync, and the phones that stayed away longer.

Every move out, death and deletion leaves a tombstone; kept for ever they would outgrow the residents.
They are pruned after ``sync_tombstone_days``, and the last one pruned is remembered in
``sync_retention`` (in sync order, ``change_xid`` then ``id``): a phone whose cursor is before it may have
missed a removal that is gone, so
its sync is answered 410 ``sync_expired`` and it starts over without a cursor (a full copy of its
area, in which the removed residents are simply absent). A phone that syncs at least once within the
retention never notices.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

STREAM = "residents"
BATCH = 5000  # tombstones one short transaction deletes

# One batch: the oldest tombstones past the retention go, and the stream's mark moves to the last of them
# in sync order (never backwards). Both in one statement, so the mark never lags what was deleted.
_PRUNE = text(
    """
    with gone as (
        delete from resident_tombstone
        where id in (
            select id from resident_tombstone where created_at < :before order by created_at limit :batch
        )
        returning change_xid, id
    ), last as (
        select change_xid, id from gone order by change_xid desc, id desc limit 1
    ), marked as (
        insert into sync_retention as r (stream, pruned_through_xid, pruned_through_id, pruned_at)
        select :stream, change_xid, id, :now from last
        on conflict (stream) do update
            set pruned_through_xid = case when (excluded.pruned_through_xid, excluded.pruned_through_id)
                                               > (r.pruned_through_xid, r.pruned_through_id)
                                          then excluded.pruned_through_xid else r.pruned_through_xid end,
                pruned_through_id = case when (excluded.pruned_through_xid, excluded.pruned_through_id)
                                              > (r.pruned_through_xid, r.pruned_through_id)
                                         then excluded.pruned_through_id else r.pruned_through_id end,
                pruned_at = excluded.pruned_at
    )
    select count(*) from gone
    """
)


async def prune_tombstones(db: AsyncSession, *, now: datetime, keep: timedelta, batch: int = BATCH) -> int:
    """Delete up to ``batch`` tombstones older than ``keep``; how many went (``batch``: call again)."""
    params = {"before": now - keep, "batch": batch, "stream": STREAM, "now": now}
    return int((await db.execute(_PRUNE, params)).scalar_one())
