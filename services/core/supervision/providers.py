"""The bulletin sections and the team indicator that other domains' figures fill: medical social work,
volunteer hours and the family doctor work days.

Each reads its domain's own metrics function (``core.socialwork.metrics``, ``core.volunteers.metrics``,
``core.duties.metrics``), so a rule such as "active at the end of the period" or "verified hours, null when
nothing was logged" lives once, in its domain. ``town.py`` and ``assessment.py`` declare these with them.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.duties.metrics import work_days
from services.core.notifications.templates import CHINA_TIME
from services.core.org.models import Institution, OrgUnit
from services.core.socialwork.metrics import social_work_metrics
from services.core.socialwork.models import SocialWorkCase, Transfer
from services.core.socialwork.schemas import SocialWorkMetrics
from services.core.supervision.halves import china_day
from services.core.supervision.sections import Figures, Unit, Window
from services.core.volunteers.metrics import Level, verified_hours

SOCIAL_WORK_NOTE_ZH = (
    "个案按服务对象签约居民所在网格统计(建档时的网格)；非本地居民(无网格)的个案只计入全镇(街道)合计，"
    "归入其医务社工部所在的镇(街道)，因此全镇合计可大于各村之和。"
)
SOCIAL_WORK_NOTE_EN = (
    "Cases count in the grid the client lived in at intake; cases of non-residents (no grid) count in the "
    "town total only, under the town where their social-work department sits, so the town total may exceed "
    "the sum of its villages."
)
VOLUNTEERS_NOTE_ZH = "机构所在镇(街道)、村、网格统计已审核志愿服务时长；“—”表示本期未登记，0 表示已登记但未审核通过。"
VOLUNTEERS_NOTE_EN = (
    "Verified volunteer hours of the institutions sitting in the town, village or grid; "
    "null means nothing was logged in the period, 0 that entries were logged and none verified."
)


def _days(window: Window) -> tuple[date, date]:
    """The window's first and last China days (inclusive); the last is before the first in an empty window."""
    return window.starts_at.astimezone(CHINA_TIME).date(), china_day(window.as_of)


CASE_KEYS = (
    "cases_opened",
    "cases_active",
    "cases_closed",
    "transfers_offered",
    "transfers_accepted",
    "transfers_followed_up_in_time",
    "transfers_follow_up_missed",
)


def _case_figures(m: SocialWorkMetrics | None) -> Figures:
    """A unit's case and transfer counts; zeros where no client lived (``m`` None)."""
    if m is None:
        return {**dict.fromkeys(CASE_KEYS, 0), "transfer_in_time_share": None}
    judged = m.transfers_followed_up_in_time + m.transfers_follow_up_missed
    return {
        "cases_opened": m.opened,
        "cases_active": m.active,
        "cases_closed": m.closed,
        "transfers_offered": m.transfers_offered,
        "transfers_accepted": m.transfers_accepted,
        "transfers_followed_up_in_time": m.transfers_followed_up_in_time,
        "transfers_follow_up_missed": m.transfers_follow_up_missed,
        "transfer_in_time_share": round(m.transfers_followed_up_in_time / judged, 4) if judged else None,
    }


async def _units_with_cases(db: AsyncSession, unit: Unit, window: Window) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(grid, village) of the town's grids where a client of a case touched in the window (or offered a
    transfer in it) lived: the only units worth a metrics call, the others are zeros."""
    c = SocialWorkCase
    touched = and_(c.opened_at < window.as_of, or_(c.closed_at.is_(None), c.closed_at >= window.starts_at))
    transferred = c.id.in_(
        select(Transfer.case_id).where(Transfer.offered_at >= window.starts_at, Transfer.offered_at < window.as_of)
    )
    grids = union(select(c.grid_id.label("grid_id")).where(c.grid_id.is_not(None), or_(touched, transferred)))
    found = grids.subquery()
    rows = await db.execute(
        select(OrgUnit.id, OrgUnit.parent_id)
        .join(found, found.c.grid_id == OrgUnit.id)
        .where(OrgUnit.kind == "grid", OrgUnit.path.startswith(unit.path))
        .order_by(OrgUnit.code)
    )
    return [(grid, village) for grid, village in rows.all() if village is not None]


async def social_work(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Cases opened, active at the end and closed in the half year, discharge transfers to the community
    offered, accepted and followed up in time, per town, village and grid of the clients (see the note);
    the town also by service area, with its non-residents' share, the medians and aid."""
    out: Figures = {"town": _case_figures(None), "villages": {}, "grids": {}}
    out |= {"note_zh": SOCIAL_WORK_NOTE_ZH, "note_en": SOCIAL_WORK_NOTE_EN}
    out["source_counts"] = {"social_work_case": 0, "social_work_transfer": 0}
    if window.as_of <= window.starts_at:
        return out

    async def count(path: str, non_residents_of: str | None = None) -> SocialWorkMetrics:
        return await social_work_metrics(
            db, start=window.starts_at, end=window.as_of, resident_path=path, non_residents_of=non_residents_of
        )

    town = await count(unit.path, unit.path)
    living = await count(unit.path)
    figures = _case_figures(town)
    figures["non_resident_cases"] = town.active + town.closed - living.active - living.closed
    figures["by_service_area"] = {
        a.key: {"opened": a.opened, "active": a.active, "closed": a.closed} for a in town.by_service_area
    }
    figures["median_days_intake_to_plan"] = town.median_days_intake_to_plan
    figures["median_days_plan_to_closure"] = town.median_days_plan_to_closure
    figures["aid_applications"] = town.aid_applications
    figures["aid_approved"] = town.aid_approved
    figures["aid_amount_approved"] = float(town.aid_amount_approved)
    out["town"] = figures
    units = (
        await db.execute(
            select(OrgUnit.id, OrgUnit.kind, OrgUnit.path).where(
                OrgUnit.path.startswith(unit.path), OrgUnit.kind.in_(("village", "grid"))
            )
        )
    ).all()
    paths = {unit_id: path for unit_id, _kind, path in units}
    for unit_id, kind, _path in units:  # every village and grid is listed, those without a case as zeros
        out["grids" if kind == "grid" else "villages"][str(unit_id)] = _case_figures(None)
    villages: set[uuid.UUID] = set()
    for grid, village in await _units_with_cases(db, unit, window):
        villages.add(village)
        found = await count(paths[grid])
        out["grids"][str(grid)] = _case_figures(found)
    for village in villages:
        found = await count(paths[village])
        out["villages"][str(village)] = _case_figures(found)
    out["source_counts"] = {
        "social_work_case": town.active + town.closed,
        "social_work_transfer": town.transfers_offered,
    }
    return out


def _add(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    """Sum where null (nothing logged) stays null only while every part is null."""
    if value is None:
        return total
    return value if total is None else total + value


def _hours(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


async def volunteers(db: AsyncSession, unit: Unit, window: Window) -> Figures:
    """Verified volunteer hours of the institutions sitting in the town, and in each village and grid where
    one sits; null (not logged) kept apart from 0 (logged, none verified)."""
    starts_on, ends_on = _days(window)
    rows = (
        await db.execute(
            select(Institution.id, Institution.name, OrgUnit.id, OrgUnit.kind, OrgUnit.parent_id)
            .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
            .where(OrgUnit.path.startswith(unit.path))
            .order_by(Institution.name, Institution.id)
        )
    ).all()
    totals = {
        t.id: t
        for t in await verified_hours(
            db, level=Level.INSTITUTION, starts_on=starts_on, ends_on=ends_on, district_id=unit.district_id
        )
    }
    institutions: list[Figures] = []
    places: dict[str, dict[str, Any]] = {"town": {}, "villages": {}, "grids": {}}

    def add(level: str, key: str, verified: Decimal | None, pending: Decimal) -> None:
        figures = places[level].setdefault(key, {"institutions": 0, "verified": None, "pending": Decimal(0)})
        figures["institutions"] += 1
        figures["verified"] = _add(figures["verified"], verified)
        figures["pending"] += pending

    entries = 0
    for institution_id, name, unit_id, kind, parent_id in rows:
        total = totals.get(institution_id)
        verified = total.verified_hours if total is not None else None
        pending = total.pending_hours if total is not None else Decimal(0)
        entries += total.entries if total is not None else 0
        institutions.append({"name": name, "verified_hours": _hours(verified), "pending_hours": float(pending)})
        add("town", "town", verified, pending)
        if kind == "grid":
            add("grids", str(unit_id), verified, pending)
            add("villages", str(parent_id), verified, pending)
        elif kind == "village":
            add("villages", str(unit_id), verified, pending)

    def shape(f: dict[str, Any]) -> Figures:
        return {
            "institutions": f["institutions"],
            "verified_hours": _hours(f["verified"]),
            "pending_hours": float(f["pending"]),
        }

    town = places["town"].get("town", {"institutions": 0, "verified": None, "pending": Decimal(0)})
    return {
        "town": shape(town),
        "villages": {k: shape(f) for k, f in places["villages"].items()},
        "grids": {k: shape(f) for k, f in places["grids"].items()},
        "institutions": institutions,
        "note_zh": VOLUNTEERS_NOTE_ZH,
        "note_en": VOLUNTEERS_NOTE_EN,
        "source_counts": {"volunteer_hours": entries},
    }


def _months(window: Window) -> int:
    """Calendar months (China time) the window has entered: 6 for a closed half year, fewer while it runs."""
    first, last = _days(window)
    if last < first:
        return 0
    return (last.year - first.year) * 12 + last.month - first.month + 1


async def team_work_days(
    db: AsyncSession, district: Unit, window: Window, team_ids: list[uuid.UUID]
) -> dict[uuid.UUID, float | None]:
    """Months with a work day over the months of the half year so far (the plan: 1–2 work days a month),
    per team; None (not judged) before the half year's first month has begun."""
    del district  # the teams are already the district's
    months = _months(window)
    if months == 0 or not team_ids:
        return dict.fromkeys(team_ids)
    first, last = _days(window)
    held = await work_days(db, period=(first, last + timedelta(days=1)), team_ids=team_ids)
    return {t: round(min(held[t].months_held / months, 1.0), 4) for t in team_ids}
