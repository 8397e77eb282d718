"""Sentinel reports: submit (alone or a phone's offline queue), report in, follow up, intervene, close."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime

from services.api.deps import DbSession, IfMatch, Pii, ReportsHandle, ReportsRead, ReportsSubmit, etag
from services.api.problems import problem_responses
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.reports import access, metrics, service
from services.core.reports.models import ReportCategory, ReportStatus, SentinelReport
from services.core.reports.schemas import (
    BatchItemResult,
    BatchResult,
    FollowUpCreate,
    InterventionStart,
    ReportBatch,
    ReportCancel,
    ReportClose,
    ReportCreate,
    ReportIn,
    ReportMetrics,
    ReportStatusRead,
    ReportView,
)
from services.core.security.principal import Principal

router = APIRouter(prefix="/reports", tags=["reports"])

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


async def _answer(
    db: DbSession, principal: Principal, report: SentinelReport, path: str, response: Response
) -> ReportView:
    viewer = await access.viewer_for(db, principal)
    response.headers["ETag"] = etag(report.version)
    response.headers["Location"] = f"/reports/{report.id}"
    return await service.to_view(db, viewer, report, path)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a sentinel report",
    responses={
        200: {
            "model": ReportView,
            "description": "Already submitted with this id and body (a safe retry): the stored report",
        },
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def submit_report(
    db: DbSession, principal: ReportsSubmit, pii: Pii, body: ReportCreate, response: Response
) -> ReportView:
    """The id is the phone's: a replay with the same body is 200, with another body 409 `conflict`.

    The grid must be one the caller may report on (else 404); the resident must live in it.
    """
    result = await service.create(db, principal, body, pii=pii)
    response.status_code = result.status_code
    return await _answer(db, principal, result.report, result.grid_path, response)


@router.post(
    "/batch",
    summary="Submit a phone's queued reports",
    responses=problem_responses(401, 403, 422),
)
async def submit_report_batch(db: DbSession, principal: ReportsSubmit, pii: Pii, body: ReportBatch) -> BatchResult:
    """Up to 100 reports, each stored (201), replayed (200) or refused (its problem) on its own; always 200."""
    items = await service.create_batch(db, principal, body.reports, pii=pii)
    return BatchResult(
        stored=sum(1 for i in items if i.status == 201),
        replayed=sum(1 for i in items if i.status == 200),
        refused=sum(1 for i in items if i.status >= 400),
        items=[BatchItemResult(id=i.id, index=i.index, status=i.status, problem=i.problem) for i in items],
    )


@router.get("", summary="List sentinel reports in scope", responses=problem_responses(401, 403, 422))
async def list_reports(
    db: DbSession,
    principal: ReportsRead,
    org_unit_id: Annotated[uuid.UUID | None, Query(description="Only reports under this unit.")] = None,
    status_: Annotated[ReportStatus | None, Query(alias="status")] = None,
    category: ReportCategory | None = None,
    unrouted: Annotated[bool | None, Query(description="Only reports that had no responsible team.")] = None,
    mine: Annotated[bool, Query(description="Only reports the caller submitted.")] = False,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ReportStatusRead]:
    """Where each report stands (the status view, for everyone); open one for the details you may see."""
    viewer = await access.viewer_for(db, principal)
    rows, next_cursor = await service.list_reports(
        db,
        viewer,
        org_unit_id=org_unit_id,
        status=status_,
        category=category,
        unrouted=unrouted,
        mine=mine,
        cursor=cursor,
        limit=limit,
    )
    teams = await service.teams_by_id(db, {r.team_id for r in rows if r.team_id})
    return Page[ReportStatusRead](
        items=[service.to_status(r, teams.get(r.team_id) if r.team_id else None) for r in rows],
        next_cursor=next_cursor,
    )


@router.get("/metrics", summary="Loop metrics per grid, team or town", responses=problem_responses(401, 403, 404, 422))
async def report_metrics(
    db: DbSession,
    principal: ReportsRead,
    org_unit_id: Annotated[uuid.UUID, Query(description="The district, town, village or grid to report on.")],
    from_: Annotated[AwareDatetime, Query(alias="from", description="Reports submitted from (inclusive).")],
    to: Annotated[AwareDatetime, Query(description="… until (exclusive); at most 400 days after `from`.")],
    group_by: Literal["grid", "team", "town"] = "grid",
) -> ReportMetrics:
    """Reports by category, median hours to report-in and to first follow-up, share followed up within
    the SLA, open and overdue counts; computed in one SQL statement."""
    return await metrics.loop_metrics(
        db, principal, org_unit_id=org_unit_id, starts_at=from_, ends_at=to, group_by=group_by
    )


@router.get("/{report_id}", summary="Read one sentinel report", responses=problem_responses(401, 403, 404, 422))
async def read_report(db: DbSession, principal: ReportsRead, report_id: uuid.UUID, response: Response) -> ReportView:
    """The care view (`view: care`) for the team and supervisors; the status view for the sentinel."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.get_in_scope(db, viewer, report_id)
    response.headers["ETag"] = etag(report.version)
    return await service.to_view(db, viewer, report, path)


@router.post("/{report_id}/report-in", summary="Report in (家医报到)", responses=CHANGE_ERRORS)
async def report_in(
    db: DbSession, principal: ReportsHandle, report_id: uuid.UUID, body: ReportIn, version: IfMatch, response: Response
) -> ReportView:
    """A member of the responsible team acknowledges a submitted report (409 from any other state)."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.report_in(db, viewer, report_id, body, expected_version=version)
    return await _answer(db, principal, report, path, response)


@router.post(
    "/{report_id}/follow-ups",
    status_code=status.HTTP_201_CREATED,
    summary="Record a follow-up contact",
    responses=CHANGE_ERRORS,
)
async def add_report_follow_up(
    db: DbSession,
    principal: ReportsHandle,
    report_id: uuid.UUID,
    body: FollowUpCreate,
    version: IfMatch,
    response: Response,
) -> ReportView:
    """Channel and outcome of one contact; the first one meets the 48-hour clock. Returns the report."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.add_follow_up(db, viewer, report_id, body, expected_version=version)
    return await _answer(db, principal, report, path, response)


@router.post("/{report_id}/intervention", summary="Start the intervention", responses=CHANGE_ERRORS)
async def start_report_intervention(
    db: DbSession,
    principal: ReportsHandle,
    report_id: uuid.UUID,
    body: InterventionStart,
    version: IfMatch,
    response: Response,
) -> ReportView:
    """From followed_up to intervening (综合干预), with an optional plan."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.start_intervention(db, viewer, report_id, body, expected_version=version)
    return await _answer(db, principal, report, path, response)


@router.post("/{report_id}/close", summary="Close a report with its outcome", responses=CHANGE_ERRORS)
async def close_report(
    db: DbSession,
    principal: ReportsHandle,
    report_id: uuid.UUID,
    body: ReportClose,
    version: IfMatch,
    response: Response,
) -> ReportView:
    """From followed_up or intervening; the sentinel is told it is closed, not how."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.close(db, viewer, report_id, body, expected_version=version)
    return await _answer(db, principal, report, path, response)


@router.post("/{report_id}/cancel", summary="Withdraw a report", responses=CHANGE_ERRORS)
async def cancel_report(
    db: DbSession,
    principal: ReportsSubmit,
    report_id: uuid.UUID,
    body: ReportCancel,
    version: IfMatch,
    response: Response,
) -> ReportView:
    """The sentinel who submitted it, while nobody has reported in (409 after); its clock stops."""
    viewer = await access.viewer_for(db, principal)
    report, path = await service.cancel(db, viewer, report_id, body, expected_version=version)
    return await _answer(db, principal, report, path, response)
