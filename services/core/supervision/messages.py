"""Who is told what about supervision, in Chinese (and English), never an id.

* a town bulletin issued: the town's supervisors, the stewards of the institutions sitting in the town,
  the district commission — once per bulletin and recipient (``dedupe_key``);
* the district roll-up ready: the district commission;
* a ledger item's due-date clock (``rectification.due``): a reminder to the owner three days before,
  the owner and the town supervisors at breach, the district commission a week later.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.deadlines.kinds import deadline_kind
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import Policy, Step
from services.core.notifications import service as notifications
from services.core.notifications.templates import Message, china_time, register
from services.core.org.models import Institution, OrgUnit
from services.core.periods import active_at
from services.core.security.roles import Role
from services.core.supervision.lifecycle import ITEM_KIND
from services.core.supervision.models import Bulletin, RectificationItem
from services.core.teams.models import InstitutionSteward, Person

ISSUED = "supervision.bulletin_issued"
ROLLUP_READY = "supervision.rollup_ready"
TEMPLATES = (ISSUED, ROLLUP_READY, ITEM_KIND)

ITEM_POLICY = Policy(
    due_after_hours=24 * 30,  # replaced per item by its due date
    steps=(
        Step(name="reminder", offset_hours=-72, audience=("owner",)),
        Step(name="breach", offset_hours=0, audience=("owner", "town_supervisor")),
        Step(name="escalation_1", offset_hours=24 * 7, audience=("district_commission",)),
    ),
)


def _half(period: str, lang: str) -> str:
    if len(period) != 6:
        return "本期" if lang == "zh" else "the period"
    year, half = period[:4], period[5]
    if lang == "zh":
        return f"{year}年{'上' if half == '1' else '下'}半年"
    return f"{'first' if half == '1' else 'second'} half of {year}"


# Parameters are read with defaults: every template renders whatever it is given (tests/api/test_loop.py).


def _issued_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    edition = f"（第{p['edition']}版）" if p.get("edition", 1) > 1 else ""
    town, half = p.get("town", "镇街"), _half(str(p.get("period", "")), "zh")
    return (
        f"{town}{half}督导通报已印发{edition}",
        f"{town}{half}家医网格督导通报已于{china_time(p.get('at'))}印发，"
        f"需关注的村(社区)和网格 {p.get('attention', 0)} 个。请打开应用查看。",
    )


def _issued_en(p: Mapping[str, Any]) -> tuple[str, str]:
    edition = f" (edition {p['edition']})" if p.get("edition", 1) > 1 else ""
    town, half = p.get("town", "the town"), _half(str(p.get("period", "")), "en")
    return (
        f"Supervision bulletin of {town} for the {half} issued{edition}",
        f"Issued {china_time(p.get('at'), 'en')}; {p.get('attention', 0)} villages and grids need attention.",
    )


def _rollup_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    return (
        f"{p.get('district', '全区')}{_half(str(p.get('period', '')), 'zh')}督导汇总已生成",
        f"全部 {p.get('towns', 0)} 个镇街的督导通报均已印发，区级汇总比较已生成，请打开应用查看。",
    )


def _rollup_en(p: Mapping[str, Any]) -> tuple[str, str]:
    return (
        f"District supervision roll-up for the {_half(str(p.get('period', '')), 'en')} is ready",
        f"All {p.get('towns', 0)} towns have issued their bulletins; the roll-up comparing them is ready.",
    )


def _item_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    due, where = p.get("due_on", "—"), p.get("where", "")
    title = {"reminder": f"整改提醒：{where}问题将于{due}到期"}.get(
        str(p.get("stage")), f"整改逾期：{where}问题应于{due}前完成"
    )
    return title, f"问题：{p.get('problem', '—')}。整改期限{due}，请按期整改并上传佐证。"


def _item_en(p: Mapping[str, Any]) -> tuple[str, str]:
    due, where = p.get("due_on", "-"), p.get("where", "")
    title = {"reminder": f"Rectification due {due}: {where}"}.get(
        str(p.get("stage")), f"Rectification overdue (due {due}): {where}"
    )
    return title, f"Problem: {p.get('problem', '-')}. Resolve it and upload the evidence."


register(ISSUED, zh=_issued_zh, en=_issued_en)
register(ROLLUP_READY, zh=_rollup_zh, en=_rollup_en)
register(ITEM_KIND, zh=_item_zh, en=_item_en)


async def grant_holders(db: AsyncSession, role: Role, path: str, at: datetime) -> set[uuid.UUID]:
    """Accounts with an active grant of ``role`` whose unit covers ``path``."""
    stmt = (
        select(RoleGrant.user_id)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(RoleGrant.role == role.value, active_at(RoleGrant, at), literal(path).startswith(OrgUnit.path))
    )
    return set(await db.scalars(stmt))


async def town_stewards(db: AsyncSession, town_path: str, at: datetime) -> set[uuid.UUID]:
    """Accounts of the active stewards of the institutions sitting in the town."""
    stmt = (
        select(Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.person_id == Person.id)
        .join(Institution, Institution.id == InstitutionSteward.institution_id)
        .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
        .where(OrgUnit.path.startswith(town_path), active_at(InstitutionSteward, at), Person.user_id.is_not(None))
    )
    return {u for u in await db.scalars(stmt) if u is not None}


async def bulletin_issued(db: AsyncSession, bulletin: Bulletin, town: OrgUnit) -> list[uuid.UUID]:
    """Tell the town's supervisors, its institutions' stewards and the district commission, once each."""
    now = clock.now()
    users = (
        await grant_holders(db, Role.TOWN_SUPERVISOR, town.path, now)
        | await town_stewards(db, town.path, now)
        | await grant_holders(db, Role.DISTRICT_COMMISSION, town.path, now)
    )
    params = {
        "town": town.name,
        "period": bulletin.period,
        "edition": bulletin.edition,
        "at": bulletin.issued_at,
        "attention": len(bulletin.figures.get("attention", [])),
    }
    return await notifications.notify(
        db,
        user_ids=users,
        kind=ISSUED,
        message=Message(ISSUED, params),
        subject_type="supervision_bulletin",
        subject_id=bulletin.id,
        dedupe_key=f"supervision_bulletin:{bulletin.id}:issued",
    )


async def rollup_ready(db: AsyncSession, rollup: Bulletin, district: OrgUnit) -> list[uuid.UUID]:
    """Tell the district commission the roll-up is ready (once per roll-up and recipient)."""
    users = await grant_holders(db, Role.DISTRICT_COMMISSION, district.path, clock.now())
    params = {"district": district.name, "period": rollup.period, "towns": len(rollup.figures.get("towns", []))}
    return await notifications.notify(
        db,
        user_ids=users,
        kind=ROLLUP_READY,
        message=Message(ROLLUP_READY, params),
        subject_type="supervision_bulletin",
        subject_id=rollup.id,
        dedupe_key=f"supervision_bulletin:{rollup.id}:ready",
    )


async def _item_place(db: AsyncSession, item: RectificationItem) -> tuple[str, str]:
    unit = await db.get(OrgUnit, item.org_unit_id or item.town_id)
    assert unit is not None  # noqa: S101 - a foreign key
    return unit.name, unit.path


async def _item_message(db: AsyncSession, deadline: Deadline, step: Step, recipients: Sequence[uuid.UUID]) -> Message:
    del recipients
    item = await db.get(RectificationItem, deadline.subject_id)
    assert item is not None  # noqa: S101 - the clock's subject
    where, _path = await _item_place(db, item)
    stage = "reminder" if step.name == "reminder" else "overdue"
    return Message(
        ITEM_KIND, {"where": where, "problem": item.problem[:100], "due_on": item.due_on.isoformat(), "stage": stage}
    )


@deadline_kind(ITEM_KIND, message=_item_message, default_policy=ITEM_POLICY)
async def item_recipients(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    """The owner, the supervisors of the item's town, the district commission, by the step's audience."""
    item = await db.get(RectificationItem, deadline.subject_id)
    if item is None:
        return []
    _where, path = await _item_place(db, item)
    now = clock.now()
    found: set[uuid.UUID] = set()
    for name in step.audience:
        if name == "owner":
            found.add(item.owner_id)
        elif name == "town_supervisor":
            found |= await grant_holders(db, Role.TOWN_SUPERVISOR, path, now)
        elif name == "district_commission":
            found |= await grant_holders(db, Role.DISTRICT_COMMISSION, path, now)
    return sorted(found)
