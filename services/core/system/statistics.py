"""Planner statistics when the database does not keep them itself (``autovacuum = off``).

PostgreSQL plans every query from its statistics, and autovacuum's analyze keeps them current. With
autovacuum off (some shared or tuned installations), a table that grew from empty keeps its "empty"
statistics, and plans built for one row meet thousands: a loop-metrics read measured 33.9 s over
12,404 reports (a nested loop probing every deadline for each report), 0.09 s after one ANALYZE. So
the worker does autoanalyze's part when autovacuum is off: every table changed by more than
autovacuum's own threshold (50 rows + 10 %) since its last analyze is analyzed. ANALYZE blocks no
reader or writer. VACUUM (dead rows, wraparound) stays the operator's job, and the worker says so.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# autovacuum's defaults: autovacuum_analyze_threshold = 50, autovacuum_analyze_scale_factor = 0.1.
_STALE = text(
    """
    select format('%I.%I', schemaname, relname)
    from pg_stat_user_tables
    where n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0)
    order by n_mod_since_analyze desc
    limit :limit
    """
)


async def autovacuum_on(db: AsyncSession) -> bool:
    """Whether the server keeps statistics itself."""
    return bool((await db.scalar(text("select current_setting('autovacuum')"))) == "on")


async def refresh_stale(db: AsyncSession, *, limit: int = 20) -> list[str]:
    """ANALYZE up to ``limit`` tables whose statistics are stale, most changed first; their names."""
    tables = list((await db.scalars(_STALE, {"limit": limit})).all())
    for table in tables:
        await db.execute(text(f"analyze {table}"))  # a name quoted by format('%I.%I'), from the catalog
    return tables
