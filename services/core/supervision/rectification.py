"""The rectification ledger (整改问题台帐): each problem found gets an owner and a due date and is closed
item by item (逐条整改、销号管理).

An item concerns a village (or grid) or a team, in one town; it is created by a supervisor by hand or
from a bulletin's attention list (then the unit must be on that list, and the problem defaults to the
reasons given there). Its due-date clock (``rectification.due``, a deadline kind with its own default
policy) reminds the owner and escalates like a report's; resolving meets it. The next bulletin counts
the town's items (open, overdue, closed in the half year).
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.accounts.models import User
from services.core.audit import service as audit
from services.core.config import get_settings
from services.core.deadlines import service as deadlines
from services.core.deadlines.policy import policy_for
from services.core.errors import NotFound, field_error
from services.core.notifications.templates import CHINA_TIME
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate_rows
from services.core.replay import insert_once, replayed
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.supervision import messages as _messages  # noqa: F401 - registers rectification.due
from services.core.supervision.lifecycle import ITEM, ITEM_KIND, ITEM_SUBJECT
from services.core.supervision.models import Bulletin, ItemStatus, RectificationItem, SnapshotKind
from services.core.supervision.schemas import ItemCreate, ItemRead
from services.core.teams.models import Team

PLACE = func.coalesce(RectificationItem.org_unit_id, RectificationItem.town_id)


def readable(
    principal: Principal, permission: Permission = Permission.RECTIFICATION_READ
) -> Select[RectificationItem, str]:
    """Items whose village (or, for a team's item, town) lies in the caller's scope, with that path."""
    return (
        select(RectificationItem, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == PLACE)
        .where(scope_clause(principal, permission, OrgUnit.path))
    )


async def get_in_scope(
    db: AsyncSession, principal: Principal, item_id: uuid.UUID, permission: Permission = Permission.RECTIFICATION_READ
) -> tuple[RectificationItem, str]:
    row = (await db.execute(readable(principal, permission).where(RectificationItem.id == item_id))).first()
    if row is None:
        raise NotFound(f"rectification item {item_id} not found")
    return row[0], row[1]


def _due_at(item: RectificationItem) -> datetime:
    """The end of the due day, China time."""
    return datetime.combine(item.due_on + timedelta(days=1), time(), tzinfo=CHINA_TIME)


def is_overdue(item: RectificationItem) -> bool:
    return item.status in (ItemStatus.OPEN.value, ItemStatus.IN_PROGRESS.value) and clock.now() >= _due_at(item)


def to_read(item: RectificationItem) -> ItemRead:
    return ItemRead.model_validate(
        {**{c: getattr(item, c) for c in ItemRead.model_fields if c != "overdue"}, "overdue": is_overdue(item)}
    )


async def _town_of(db: AsyncSession, unit: OrgUnit) -> OrgUnit | None:
    current: OrgUnit | None = unit
    while current is not None and current.kind not in (OrgUnitKind.TOWN.value, OrgUnitKind.DISTRICT.value):
        current = await db.get(OrgUnit, current.parent_id)
    return current if current is not None and current.kind == OrgUnitKind.TOWN.value else None


async def create(db: AsyncSession, principal: Principal, data: ItemCreate) -> tuple[RectificationItem, bool]:
    """Create an item (201) or answer the same retry (200); 404 for units, teams or bulletins out of scope."""

    async def in_scope(existing: RectificationItem) -> None:
        await get_in_scope(db, principal, existing.id, Permission.RECTIFICATION_WRITE)

    expected = {
        "org_unit_id": data.org_unit_id,
        "team_id": data.team_id,
        "owner_id": data.owner_id,
        "due_on": data.due_on,
        "bulletin_id": data.bulletin_id,
    }
    again = await replayed(db, RectificationItem, data.id, same=expected, in_scope=in_scope)
    if again is not None:
        return again.record, False
    if data.org_unit_id is None and data.team_id is None:
        raise field_error("body.org_unit_id", "name the village (org_unit_id) or the team (team_id) concerned")
    bulletin: Bulletin | None = None
    problem = data.problem
    unit: OrgUnit | None = None
    if data.bulletin_id is not None:
        bulletin = await db.scalar(
            select(Bulletin)
            .join(OrgUnit, OrgUnit.id == Bulletin.org_unit_id)
            .where(
                Bulletin.id == data.bulletin_id, scope_clause(principal, Permission.RECTIFICATION_WRITE, OrgUnit.path)
            )
        )
        if bulletin is None:
            raise NotFound(f"bulletin {data.bulletin_id} not found")
        if bulletin.kind != SnapshotKind.TOWN.value:
            raise field_error("body.bulletin_id", "must be a town bulletin")
    if data.org_unit_id is not None:
        unit = await db.scalar(
            select(OrgUnit).where(
                OrgUnit.id == data.org_unit_id, scope_clause(principal, Permission.RECTIFICATION_WRITE, OrgUnit.path)
            )
        )
        if unit is None:
            raise NotFound(f"org unit {data.org_unit_id} not found")
        if unit.kind not in (OrgUnitKind.VILLAGE.value, OrgUnitKind.GRID.value):
            raise field_error("body.org_unit_id", "must be a village or a grid")
        town = await _town_of(db, unit)
    elif bulletin is not None:
        town = await db.get(OrgUnit, bulletin.org_unit_id)
    else:
        team_unit = await db.scalar(
            select(OrgUnit).join(Team, Team.org_unit_id == OrgUnit.id).where(Team.id == data.team_id)
        )
        town = await _town_of(db, team_unit) if team_unit is not None else None
        if town is None:
            raise field_error("body.team_id", "a team of a town: or name the village, or the bulletin, it concerns")
    assert town is not None  # noqa: S101 - every village and grid lies in a town
    if bulletin is not None:
        if bulletin.org_unit_id != town.id:
            raise field_error("body.org_unit_id", "not in the bulletin's town")
        if unit is not None:
            listed = [a for a in bulletin.figures.get("attention", []) if a["id"] == str(unit.id)]
            if not listed:
                raise field_error("body.org_unit_id", "not on the bulletin's attention list")
            problem = problem or "；".join(r["text_zh"] for r in listed[0]["reasons"])
    if data.team_id is not None:
        team = await db.scalar(
            select(Team.id).join(OrgUnit, OrgUnit.id == Team.org_unit_id).where(Team.id == data.team_id)
        )
        if team is None:
            raise field_error("body.team_id", "no such team")
    if not problem:
        raise field_error("body.problem", "describe the problem")
    if await db.get(User, data.owner_id) is None:
        raise field_error("body.owner_id", "no such account")
    if data.due_on < clock.now().astimezone(CHINA_TIME).date():
        raise field_error("body.due_on", "must not be in the past")
    record = RectificationItem(
        id=data.id or uuid.uuid4(),
        district_id=town.district_id,
        town_id=town.id,
        org_unit_id=unit.id if unit else None,
        team_id=data.team_id,
        bulletin_id=bulletin.id if bulletin else None,
        problem=problem,
        owner_id=data.owner_id,
        due_on=data.due_on,
        status=ItemStatus.OPEN.value,
        created_by=principal.user_id,
    )
    result = await insert_once(db, record, same=expected)
    item = result.record
    if result.created:
        now = clock.now()
        await lifecycle.move(db, lifecycle.creating(ITEM, item, "create"), actor_id=principal.user_id, at=now)
        base = policy_for(get_settings(), ITEM_KIND)
        hours = max((_due_at(item) - now).total_seconds() / 3600, 1.0)
        await deadlines.open_deadline(
            db,
            subject_type=ITEM_SUBJECT,
            subject_id=item.id,
            kind=ITEM_KIND,
            district_id=item.district_id,
            started_at=now,
            policy=base.model_copy(update={"due_after_hours": hours}),
        )
        path = (unit or town).path
        await audit.record_change(db, principal, "rectification.created", item, org_path=path)
    return item, result.created


async def transition(
    db: AsyncSession,
    principal: Principal,
    item: RectificationItem,
    path: str,
    action: str,
    *,
    expected_version: int | None,
    evidence: str | None = None,
    reason: str | None = None,
) -> RectificationItem:
    """start, resolve (with evidence), verify (销号) or reopen an item."""
    checked = lifecycle.check(ITEM, item, action, actor=principal, path=path, expected_version=expected_version)
    now = clock.now()
    changes: dict[str, object] = {}
    if action == "resolve":
        changes = {"evidence": evidence, "resolved_at": now}
    elif action == "verify":
        changes = {"verified_at": now, "verified_by": principal.user_id}
    elif action == "reopen":
        changes = {"verified_at": None, "verified_by": None, "reopened": item.reopened + 1}
    await lifecycle.move(db, checked, actor_id=principal.user_id, at=now, changes=changes, reason=reason)
    return item


async def list_items(
    db: AsyncSession,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID | None,
    status: ItemStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RectificationItem], str | None]:
    """Items in scope, under ``org_unit_id`` when given, by due date."""
    stmt = readable(principal)
    if org_unit_id is not None:
        under = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
        if under is None:
            raise NotFound(f"org unit {org_unit_id} not found")
        stmt = stmt.where(OrgUnit.path.startswith(under))
    if status is not None:
        stmt = stmt.where(RectificationItem.status == status.value)
    rows, next_cursor = await paginate_rows(
        db,
        stmt,
        keys=[(RectificationItem.due_on, "asc"), (RectificationItem.id, "asc")],
        cursor=cursor,
        limit=limit,
        values_of=lambda r: [r[0].due_on, r[0].id],
    )
    return [r[0] for r in rows], next_cursor
