"""The plan's standing duties: family doctor work days, the weekly health livestream, the yearly roster and
annual summary (the checks that tell people run in the worker: ``worker/jobs/duties.py``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import DbSession, answer, require
from services.api.problems import problem_responses
from services.core.duties import metrics, service
from services.core.duties.models import YearlyDuty
from services.core.duties.schemas import (
    DutyMetrics,
    LivestreamCreate,
    LivestreamRead,
    SubmissionCreate,
    SubmissionRead,
    WorkDayCreate,
    WorkDayRead,
)
from services.core.errors import field_error
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.text import Date

router = APIRouter(tags=["duties"])

DutiesRead = Annotated[Principal, Depends(require(Permission.DUTIES_READ))]
WorkDaysWrite = Annotated[Principal, Depends(require(Permission.DUTIES_WORK_DAYS))]
LivestreamsWrite = Annotated[Principal, Depends(require(Permission.DUTIES_LIVESTREAMS))]
DutiesSubmit = Annotated[Principal, Depends(require(Permission.DUTIES_SUBMIT))]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
# Periods lie in 2020-2099 and are at most this many days long.
FIRST_YEAR, LAST_YEAR, MAX_DAYS = 2020, 2099, 400


# ---------------------------------------------------------------- work days


@router.post(
    "/teams/{team_id}/work-days",
    status_code=status.HTTP_201_CREATED,
    summary="Record a family doctor work day of your team",
    responses={
        200: {"model": WorkDayRead, "description": "Already recorded with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def record_work_day(
    db: DbSession, principal: WorkDaysWrite, team_id: uuid.UUID, body: WorkDayCreate, response: Response
) -> WorkDayRead:
    """By a current member of the team; in one or two villages or grids the team served that day."""
    written = await service.record_work_day(db, principal, team_id, body)
    (view,) = await service.work_day_views(db, [written.record])
    return answer(response, written.record, view, location=f"/work-days/{view.id}", created=written.created)


@router.get(
    "/teams/{team_id}/work-days",
    summary="A team's family doctor work days",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_work_days(
    db: DbSession,
    principal: DutiesRead,
    team_id: uuid.UUID,
    since: Annotated[Date | None, Query(alias="from", description="Held on or after this day.")] = None,
    until: Annotated[Date | None, Query(alias="to", description="Held on or before this day.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[WorkDayRead]:
    """Latest first."""
    rows, next_cursor = await service.list_work_days(
        db, principal, team_id, since=since, until=until, cursor=cursor, limit=limit
    )
    return Page[WorkDayRead](items=await service.work_day_views(db, rows), next_cursor=next_cursor)


@router.get("/work-days/{work_day_id}", summary="Read one work day", responses=problem_responses(401, 403, 404, 422))
async def read_work_day(
    db: DbSession, principal: DutiesRead, work_day_id: uuid.UUID, response: Response
) -> WorkDayRead:
    """404 unless the team is based in your scope or the work day was held there."""
    work_day = await service.get_work_day(db, principal, work_day_id)
    (view,) = await service.work_day_views(db, [work_day])
    return answer(response, work_day, view)


# ---------------------------------------------------------------- livestreams


@router.post(
    "/institutions/{institution_id}/livestreams",
    status_code=status.HTTP_201_CREATED,
    summary="Record a health livestream of an institution",
    responses={
        200: {"model": LivestreamRead, "description": "Already recorded with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def record_livestream(
    db: DbSession, principal: LivestreamsWrite, institution_id: uuid.UUID, body: LivestreamCreate, response: Response
) -> LivestreamRead:
    """A steward records its own institution's; 30 minutes or more meets the week's duty."""
    written = await service.record_livestream(db, principal, institution_id, body)
    view = service.livestream_view(written.record)
    return answer(response, written.record, view, location=f"/livestreams/{view.id}", created=written.created)


@router.get(
    "/institutions/{institution_id}/livestreams",
    summary="An institution's health livestreams",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_livestreams(
    db: DbSession, principal: DutiesRead, institution_id: uuid.UUID, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[LivestreamRead]:
    """Latest first."""
    rows, next_cursor = await service.list_livestreams(db, principal, institution_id, cursor=cursor, limit=limit)
    return Page[LivestreamRead](items=[service.livestream_view(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/livestreams/{livestream_id}", summary="Read one livestream", responses=problem_responses(401, 403, 404, 422)
)
async def read_livestream(
    db: DbSession, principal: DutiesRead, livestream_id: uuid.UUID, response: Response
) -> LivestreamRead:
    """404 unless the institution sits in your scope or above it."""
    livestream = await service.get_livestream(db, principal, livestream_id)
    return answer(response, livestream, service.livestream_view(livestream))


# ---------------------------------------------------------------- the yearly roster and summary


@router.post(
    "/duty-submissions",
    status_code=status.HTTP_201_CREATED,
    summary="Hand in a town's roster or annual work summary",
    responses={
        200: {"model": SubmissionRead, "description": "Already handed in with this id (a safe retry)"},
        **problem_responses(401, 403, 409, 422),
    },
)
async def submit_duty(
    db: DbSession, principal: DutiesSubmit, body: SubmissionCreate, response: Response
) -> SubmissionRead:
    """The roster is due by 10 July, the summary by 30 November; who and when are the caller and now."""
    written = await service.submit(db, principal, body)
    record, town = written.record
    view = service.submission_view(record, town)
    return answer(response, record, view, location=f"/duty-submissions/{record.id}", created=written.created)


@router.get("/duty-submissions", summary="Towns' yearly submissions", responses=problem_responses(401, 403, 422))
async def list_duty_submissions(
    db: DbSession,
    principal: DutiesRead,
    duty: YearlyDuty | None = None,
    year: Annotated[int | None, Query(ge=2020, le=2100)] = None,
    org_unit_id: Annotated[uuid.UUID | None, Query(description="Only towns under this unit.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[SubmissionRead]:
    """In your scope, latest first."""
    rows, next_cursor = await service.list_submissions(
        db, principal, duty=duty, year=year, org_unit_id=org_unit_id, cursor=cursor, limit=limit
    )
    return Page[SubmissionRead](items=[service.submission_view(r, t) for r, t in rows], next_cursor=next_cursor)


@router.get(
    "/duty-submissions/{submission_id}",
    summary="Read one submission",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_duty_submission(
    db: DbSession, principal: DutiesRead, submission_id: uuid.UUID, response: Response
) -> SubmissionRead:
    """404 unless the town is in your scope."""
    record, town = await service.get_submission(db, principal, submission_id)
    return answer(response, record, service.submission_view(record, town))


# ---------------------------------------------------------------- the figures


@router.get(
    "/duties/metrics",
    summary="Duty figures per team and institution of a unit",
    responses=problem_responses(401, 403, 404, 422),
)
async def duty_metrics(
    db: DbSession,
    principal: DutiesRead,
    org_unit_id: Annotated[uuid.UUID, Query(description="The district or town (teams based in it are counted).")],
    since: Annotated[Date, Query(alias="from", description="First day (China time), 2020-2099.")],
    until: Annotated[
        Date, Query(alias="to", description=f"First day after; after `from`, at most {MAX_DAYS} days later.")
    ],
) -> DutyMetrics:
    """Work days held and villages covered per team, the quarterly-contact duty per quarter, livestreams per
    institution: the figures the supervision bulletins and the team assessment read."""
    if not FIRST_YEAR <= since.year <= LAST_YEAR:
        raise field_error("query.from", f"a day in {FIRST_YEAR}-{LAST_YEAR}")
    if until <= since:
        raise field_error("query.to", "must be after `from`")
    if (until - since).days > MAX_DAYS:
        raise field_error("query.to", f"at most {MAX_DAYS} days after `from`")
    return await metrics.figures(db, principal, org_unit_id=org_unit_id, period=(since, until))
