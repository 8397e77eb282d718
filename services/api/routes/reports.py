"""Sentinel reports: submit (alone or a phone's offline queue), report in, follow up, intervene, close."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import DbSession, IfMatchLater, Pii, ReportsRead, ReportsSubmit, answer, require
from services.api.problems import problem_responses
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.reports import access, metrics, service
from services.core.reports.access import Viewer
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
from services.core.security.roles import Permission
from services.core.text import Instant

router = APIRouter(prefix="/reports", tags=["reports"])

# Metrics periods lie in 2000-2099 (``metrics.EARLIEST_YEAR``..): said as a pattern, as JSON Schema has no
# minimum for a date-time.
_IN_RANGE: dict[str, Any] = {"pattern": "^20[0-9]{2}-"}

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@dataclass(frozen=True)
class ScopedReport:
    """A report loaded once for the request, in the caller's scope, with its grid's path and the
    caller's teams (what every later check and the view need)."""

    viewer: Viewer
    report: SentinelReport
    path: str


def in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedReport]]:
    """A dependency: the caller holds ``permission`` somewhere (else 403), the report is in its scope
    (else 404). Loaded before If-Match is judged, so an unseen report is 404, never 428."""

    allowed = Depends(require(permission))

    async def dependency(db: DbSession, report_id: uuid.UUID, principal: Principal = allowed) -> ScopedReport:
        viewer = await access.viewer_for(db, principal)
        report, path = await service.get_in_scope(db, viewer, report_id)
        return ScopedReport(viewer, report, path)

    dependency.__name__ = f"report_in_scope_{permission.name.lower()}"
    return dependency


ReadableReport = Annotated[ScopedReport, Depends(in_scope(Permission.REPORTS_READ))]
HandledReport = Annotated[ScopedReport, Depends(in_scope(Permission.REPORTS_HANDLE))]
SubmittedReport = Annotated[ScopedReport, Depends(in_scope(Permission.REPORTS_SUBMIT))]


async def _answer(
    db: DbSession, scoped: ScopedReport, response: Response, *, created: bool | None = None
) -> ReportView:
    """The report as this caller may see it, with its ETag and Location."""
    view = await service.to_view(db, scoped.viewer, scoped.report, scoped.path)
    return answer(response, scoped.report, view, location=f"/reports/{scoped.report.id}", created=created)


async def _answer_changed(
    db: DbSession, scoped: ScopedReport, changed: service.Changed, response: Response, *, created: bool | None = None
) -> ReportView:
    """``_answer`` for a set-based change: the view built from what was read and written, no read again."""
    view = await service.changed_view(db, scoped.viewer, changed)
    return answer(response, scoped.report, view, location=f"/reports/{scoped.report.id}", created=created)


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
    viewer = await access.viewer_for(db, principal)
    view = await service.submitted_view(db, viewer, result)
    return answer(
        response, result.report, view, location=f"/reports/{result.report.id}", created=result.status_code == 201
    )


@router.post(
    "/batch",
    summary="Submit a phone's queued reports",
    responses=problem_responses(401, 403, 422),
)
async def submit_report_batch(db: DbSession, principal: ReportsSubmit, pii: Pii, body: ReportBatch) -> BatchResult:
    """Up to 100 reports, each validated and stored (201), replayed (200) or refused (its problem) on its own.

    Always 200 for a list of objects: one bad item (an unknown category, a missing field, an id that is not a
    UUID) is refused with its index and a 422 problem naming `body.reports.<index>.<field>`; the others are
    stored. Only a body that is not a list of 1-100 objects is a 422 for the whole batch."""
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
    return Page[ReportStatusRead](items=await service.status_views(db, viewer, rows), next_cursor=next_cursor)


@router.get("/metrics", summary="Loop metrics per grid, team or town", responses=problem_responses(401, 403, 404, 422))
async def report_metrics(
    db: DbSession,
    principal: ReportsRead,
    org_unit_id: Annotated[uuid.UUID, Query(description="The district, town, village or grid to report on.")],
    from_: Annotated[
        Instant, Query(alias="from", description="Reports submitted from (inclusive).", json_schema_extra=_IN_RANGE)
    ],
    to: Annotated[
        Instant,
        Query(description="… until (exclusive); after `from`, at most 400 days later.", json_schema_extra=_IN_RANGE),
    ],
    group_by: Literal["grid", "team", "town"] = "grid",
) -> ReportMetrics:
    """Reports by category, median hours to report-in and to first follow-up, share followed up within
    the SLA, open and overdue counts; computed in one SQL statement."""
    return await metrics.loop_metrics(
        db, principal, org_unit_id=org_unit_id, starts_at=from_, ends_at=to, group_by=group_by
    )


@router.get("/{report_id}", summary="Read one sentinel report", responses=problem_responses(401, 403, 404, 422))
async def read_report(db: DbSession, scoped: ReadableReport, response: Response) -> ReportView:
    """The care view (`view: care`) for the team and supervisors; for the village's community steward, an
    urgent risk's urgent view (`view: urgent`: the status view plus what to act on; each read audited);
    else the status view (`view: status`)."""
    view = await service.to_view(db, scoped.viewer, scoped.report, scoped.path)
    return answer(response, scoped.report, view)


@router.post("/{report_id}/report-in", summary="Report in (家医报到)", responses=CHANGE_ERRORS)
async def report_in(
    db: DbSession, scoped: HandledReport, body: ReportIn, version: IfMatchLater, response: Response
) -> ReportView:
    """A member of the responsible team acknowledges a submitted report (409 from any other state)."""
    changed = await service.reporting_in(db, scoped.viewer, scoped.report, scoped.path, body, expected_version=version)
    return await _answer_changed(db, scoped, changed, response)


@router.post(
    "/{report_id}/follow-ups",
    status_code=status.HTTP_201_CREATED,
    summary="Record a follow-up contact",
    responses=CHANGE_ERRORS,
)
async def add_report_follow_up(
    db: DbSession, scoped: HandledReport, body: FollowUpCreate, version: IfMatchLater, response: Response
) -> ReportView:
    """Channel and outcome of one contact; the first one meets the 48-hour clock. Returns the report."""
    changed = await service.following_up(db, scoped.viewer, scoped.report, scoped.path, body, expected_version=version)
    return await _answer_changed(db, scoped, changed, response)


@router.post("/{report_id}/intervention", summary="Start the intervention", responses=CHANGE_ERRORS)
async def start_report_intervention(
    db: DbSession, scoped: HandledReport, body: InterventionStart, version: IfMatchLater, response: Response
) -> ReportView:
    """From followed_up to intervening (综合干预), with an optional plan."""
    await service.start_intervention(db, scoped.viewer, scoped.report, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response)


@router.post("/{report_id}/close", summary="Close a report with its outcome", responses=CHANGE_ERRORS)
async def close_report(
    db: DbSession, scoped: HandledReport, body: ReportClose, version: IfMatchLater, response: Response
) -> ReportView:
    """From followed_up or intervening; the sentinel is told it is closed, not how."""
    await service.close(db, scoped.viewer, scoped.report, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response)


@router.post("/{report_id}/cancel", summary="Withdraw a report", responses=CHANGE_ERRORS)
async def cancel_report(
    db: DbSession, scoped: SubmittedReport, body: ReportCancel, version: IfMatchLater, response: Response
) -> ReportView:
    """The sentinel who submitted it, while nobody has reported in (409 after); its clock stops."""
    await service.cancel(db, scoped.viewer, scoped.report, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response)
