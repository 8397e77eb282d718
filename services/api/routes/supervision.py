"""Supervision (督导通报): half-yearly town bulletins, the district roll-up, team assessment, and the
rectification ledger (整改问题台帐). Snapshots are JSON here, `.xlsx` at `/workbook`, a printable page at `/page`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import HTMLResponse

from services.api.deps import DbSession, IfMatchLater, answer, require
from services.api.problems import problem_responses
from services.api.workbooks import Accept, xlsx_answer, xlsx_responses
from services.core.org.models import OrgUnitKind
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.supervision import halves, outputs, rectification, service
from services.core.supervision.models import Bulletin, ItemStatus, RectificationItem, SnapshotKind
from services.core.supervision.schemas import (
    BulletinBrief,
    BulletinDraftRead,
    BulletinRead,
    Correction,
    ItemCreate,
    ItemRead,
    ItemReopen,
    ItemResolve,
    RollupStatus,
    TownBrief,
)

router = APIRouter(prefix="/supervision", tags=["supervision"])

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
SupervisionRead = Annotated[Principal, Depends(require(Permission.SUPERVISION_READ))]
RectificationRead = Annotated[Principal, Depends(require(Permission.RECTIFICATION_READ))]
RectificationWrite = Annotated[Principal, Depends(require(Permission.RECTIFICATION_WRITE))]
_PERIOD = "A half year: `2026H1` (January–June) or `2026H2` (July–December), China time."
Period = Annotated[str, Query(pattern=halves.PATTERN, description=_PERIOD)]
PeriodOptional = Annotated[str | None, Query(pattern=halves.PATTERN, description=_PERIOD)]
Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@dataclass(frozen=True)
class ScopedBulletin:
    principal: Principal
    bulletin: Bulletin
    path: str


def bulletin_in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedBulletin]]:
    """The caller holds ``permission`` somewhere (else 403) and reads the snapshot (else 404)."""
    allowed = Depends(require(permission))

    async def dependency(db: DbSession, bulletin_id: uuid.UUID, principal: Principal = allowed) -> ScopedBulletin:
        bulletin, path = await service.get_in_scope(db, principal, bulletin_id)
        return ScopedBulletin(principal, bulletin, path)

    dependency.__name__ = f"bulletin_in_scope_{permission.name.lower()}"
    return dependency


ReadableBulletin = Annotated[ScopedBulletin, Depends(bulletin_in_scope(Permission.SUPERVISION_READ))]
ReviewableBulletin = Annotated[ScopedBulletin, Depends(bulletin_in_scope(Permission.SUPERVISION_REVIEW))]


@dataclass(frozen=True)
class ScopedItem:
    principal: Principal
    item: RectificationItem
    path: str


def item_in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedItem]]:
    """The caller holds ``permission`` somewhere (else 403) and reads the item (else 404)."""
    allowed = Depends(require(permission))

    async def dependency(db: DbSession, item_id: uuid.UUID, principal: Principal = allowed) -> ScopedItem:
        item, path = await rectification.get_in_scope(db, principal, item_id)
        return ScopedItem(principal, item, path)

    dependency.__name__ = f"rectification_item_in_scope_{permission.name.lower()}"
    return dependency


ReadableItem = Annotated[ScopedItem, Depends(item_in_scope(Permission.RECTIFICATION_READ))]
WorkableItem = Annotated[ScopedItem, Depends(item_in_scope(Permission.RECTIFICATION_WORK))]
WritableItem = Annotated[ScopedItem, Depends(item_in_scope(Permission.RECTIFICATION_WRITE))]


def _brief(b: Bulletin) -> BulletinBrief:
    return BulletinBrief.model_validate(b, from_attributes=True)


async def _bulletin(
    db: DbSession,
    scoped: ScopedBulletin,
    response: Response,
    bulletin: Bulletin | None = None,
    *,
    created: bool | None = None,
) -> BulletinRead:
    b = bulletin or scoped.bulletin
    editions = [e.id for e in await service.editions(db, b)]
    body = BulletinRead.model_validate(
        {
            **_brief(b).model_dump(),
            "period_starts_at": b.period_starts_at,
            "period_ends_at": b.period_ends_at,
            "figures": b.figures,
            "source_counts": b.source_counts,
            "editions": editions,
        }
    )
    return answer(response, b, body, location=f"/supervision/bulletins/{b.id}", created=created)


@router.get("/bulletins", summary="List supervision snapshots in scope", responses=problem_responses(401, 403, 422))
async def list_bulletins(
    db: DbSession,
    principal: SupervisionRead,
    org_unit_id: uuid.UUID | None = None,
    period: PeriodOptional = None,
    kind: SnapshotKind | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[BulletinBrief]:
    """Town bulletins, district roll-ups and team assessments, newest half year first, every edition."""
    rows, next_cursor = await service.list_bulletins(
        db, principal, org_unit_id=org_unit_id, period=period, kind=kind, cursor=cursor, limit=limit
    )
    return Page[BulletinBrief](items=[_brief(b) for b in rows], next_cursor=next_cursor)


@router.get(
    "/bulletins/{bulletin_id}", summary="Read a supervision snapshot", responses=problem_responses(401, 403, 404, 422)
)
async def get_bulletin(db: DbSession, scoped: ReadableBulletin, response: Response) -> BulletinRead:
    """Its frozen figures, definitions' version, source row counts, SHA-256 and every edition's id."""
    return await _bulletin(db, scoped, response)


@router.get(
    "/bulletins/{bulletin_id}/workbook",
    summary="Download a snapshot as .xlsx",
    response_class=Response,
    responses=xlsx_responses(
        "The workbook: a cover sheet, then one sheet per section",
        "supervision-<period>-<edition>.xlsx",
        *(401, 403, 404, 422),
    ),
)
async def bulletin_workbook(scoped: ReadableBulletin, accept: Accept = None) -> Response:
    """One sheet per section, ready to circulate."""
    b = scoped.bulletin
    return xlsx_answer(outputs.workbook(b), accept=accept, filename=f"supervision-{b.period}-{b.edition}.xlsx")


@router.get(
    "/bulletins/{bulletin_id}/page",
    summary="A snapshot as a printable page",
    response_class=HTMLResponse,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "Chinese, A4 print CSS, charts as inline SVG",
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def bulletin_page(scoped: ReadableBulletin) -> HTMLResponse:
    """Self-contained HTML (no external resource) that prints on A4."""
    return HTMLResponse(outputs.page(scoped.bulletin))


@router.post("/bulletins/{bulletin_id}/issue", summary="Issue a bulletin", responses=CHANGE_ERRORS)
async def issue_bulletin(
    db: DbSession, scoped: ReadableBulletin, version: IfMatchLater, response: Response
) -> BulletinRead:
    """A town's supervisor issues its draft (the district issues roll-ups and assessments); readers are told."""
    await service.issue(db, scoped.principal, scoped.bulletin, scoped.path, expected_version=version)
    return await _bulletin(db, scoped, response)


@router.post("/bulletins/{bulletin_id}/acknowledge", summary="Acknowledge a town bulletin", responses=CHANGE_ERRORS)
async def acknowledge_bulletin(
    db: DbSession, scoped: ReviewableBulletin, version: IfMatchLater, response: Response
) -> BulletinRead:
    """The district commission acknowledges an issued town bulletin."""
    await service.acknowledge(db, scoped.principal, scoped.bulletin, scoped.path, expected_version=version)
    return await _bulletin(db, scoped, response)


@router.post(
    "/bulletins/{bulletin_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="Correct a snapshot (a new edition)",
    responses=CHANGE_ERRORS,
)
async def correct_bulletin(
    db: DbSession, scoped: ReadableBulletin, body: Correction, version: IfMatchLater, response: Response
) -> BulletinRead:
    """Recompute the period from today's data as the next edition (409 no_change if equal); the old stays readable."""
    row = await service.correct(
        db, scoped.principal, scoped.bulletin, scoped.path, reason=body.reason, expected_version=version
    )
    return await _bulletin(db, scoped, response, row, created=True)


@router.get(
    "/draft", summary="A town's draft for a half year (not stored)", responses=problem_responses(401, 403, 404, 422)
)
async def town_draft(
    db: DbSession, principal: SupervisionRead, org_unit_id: uuid.UUID, period: Period
) -> BulletinDraftRead:
    """The figures as of now: the running half year's draft on demand, recomputed on every request."""
    half = halves.parse(period)
    town = await service.unit_in_scope(db, principal, org_unit_id, OrgUnitKind.TOWN, field="query.org_unit_id")
    draft = await service.draft(db, town, half)
    return BulletinDraftRead(org_unit_id=town.id, period=half.name, **draft)


@router.get(
    "/rollup-status", summary="Whether a district roll-up is ready", responses=problem_responses(401, 403, 404, 422)
)
async def rollup_status(
    db: DbSession, principal: SupervisionRead, org_unit_id: uuid.UUID, period: Period
) -> RollupStatus:
    """Ready when every town's bulletin is issued; otherwise the towns still missing."""
    half = halves.parse(period)
    district = await service.unit_in_scope(db, principal, org_unit_id, OrgUnitKind.DISTRICT, field="query.org_unit_id")
    ready = await service.readiness(db, district, half)
    rollup = await service.latest(db, SnapshotKind.DISTRICT, district.id, half.name)
    missing = [
        TownBrief(
            id=t.id,
            name=t.name,
            bulletin_id=b.id if (b := ready.bulletins.get(t.id)) else None,
            status=b.status if b else None,
        )
        for t in ready.missing
    ]
    return RollupStatus(
        district_id=district.id,
        period=half.name,
        ready=ready.ready,
        missing_towns=missing,
        rollup_id=rollup.id if rollup else None,
        rollup_stale=ready.stale(rollup),
    )


# ---------------------------------------------------------------- the rectification ledger


@router.post(
    "/rectifications",
    status_code=status.HTTP_201_CREATED,
    summary="Open a rectification item",
    responses={
        200: {"model": ItemRead, "description": "Already created with this id and body: the stored one"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_rectification(
    db: DbSession, principal: RectificationWrite, body: ItemCreate, response: Response
) -> ItemRead:
    """By hand, or from a bulletin's attention list (`bulletin_id` and the listed village or grid)."""
    item, created = await rectification.create(db, principal, body)
    return answer(
        response, item, rectification.to_read(item), location=f"/supervision/rectifications/{item.id}", created=created
    )


@router.get(
    "/rectifications", summary="List rectification items in scope", responses=problem_responses(401, 403, 404, 422)
)
async def list_rectifications(
    db: DbSession,
    principal: RectificationRead,
    org_unit_id: uuid.UUID | None = None,
    status_: Annotated[ItemStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ItemRead]:
    """The ledger by due date; `overdue` is judged now."""
    rows, next_cursor = await rectification.list_items(
        db, principal, org_unit_id=org_unit_id, status=status_, cursor=cursor, limit=limit
    )
    return Page[ItemRead](items=[rectification.to_read(i) for i in rows], next_cursor=next_cursor)


@router.get(
    "/rectifications/{item_id}", summary="Read a rectification item", responses=problem_responses(401, 403, 404, 422)
)
async def get_rectification(scoped: ReadableItem, response: Response) -> ItemRead:
    """Its problem, owner, due date, evidence and state."""
    return answer(
        response,
        scoped.item,
        rectification.to_read(scoped.item),
        location=f"/supervision/rectifications/{scoped.item.id}",
    )


async def _move(
    db: DbSession, scoped: ScopedItem, action: str, version: int | None, response: Response, **extra: Any
) -> ItemRead:
    await rectification.transition(
        db, scoped.principal, scoped.item, scoped.path, action, expected_version=version, **extra
    )
    return answer(
        response,
        scoped.item,
        rectification.to_read(scoped.item),
        location=f"/supervision/rectifications/{scoped.item.id}",
    )


@router.post("/rectifications/{item_id}/start", summary="Start rectifying", responses=CHANGE_ERRORS)
async def start_rectification(
    db: DbSession, scoped: WorkableItem, version: IfMatchLater, response: Response
) -> ItemRead:
    """The owner (or a supervisor) starts work on an open item."""
    return await _move(db, scoped, "start", version, response)


@router.post("/rectifications/{item_id}/resolve", summary="Report an item resolved", responses=CHANGE_ERRORS)
async def resolve_rectification(
    db: DbSession, scoped: WorkableItem, body: ItemResolve, version: IfMatchLater, response: Response
) -> ItemRead:
    """With the evidence; its due-date clock stops."""
    return await _move(db, scoped, "resolve", version, response, evidence=body.evidence)


@router.post("/rectifications/{item_id}/verify", summary="Verify and close an item (销号)", responses=CHANGE_ERRORS)
async def verify_rectification(
    db: DbSession, scoped: WritableItem, version: IfMatchLater, response: Response
) -> ItemRead:
    """The supervisor checks the evidence and closes the item."""
    return await _move(db, scoped, "verify", version, response)


@router.post("/rectifications/{item_id}/reopen", summary="Reopen an item", responses=CHANGE_ERRORS)
async def reopen_rectification(
    db: DbSession, scoped: WritableItem, body: ItemReopen, version: IfMatchLater, response: Response
) -> ItemRead:
    """The evidence did not hold: back to in progress, with the reason."""
    return await _move(db, scoped, "reopen", version, response, reason=body.reason)
