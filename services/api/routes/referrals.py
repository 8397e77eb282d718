"""Two-way referral (双向转诊): request up or down, receive, accept or decline, hold, arrive, complete,
take over, follow up, cancel; the per-institution change feed and the metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import DbSession, IfMatchLater, Pii, answer, require
from services.api.problems import problem_responses
from services.core.errors import field_error
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.referrals import access, metrics, service
from services.core.referrals.access import Viewer
from services.core.referrals.models import Direction, Referral, ReferralStatus
from services.core.referrals.schemas import (
    ReferralAccept,
    ReferralBrief,
    ReferralCancel,
    ReferralChanges,
    ReferralComplete,
    ReferralCreate,
    ReferralDecline,
    ReferralFollowUp,
    ReferralHold,
    ReferralMetrics,
    ReferralNote,
    ReferralRead,
)
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.text import Instant

router = APIRouter(prefix="/referrals", tags=["referrals"])

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
ReferralsRead = Annotated[Principal, Depends(require(Permission.REFERRALS_READ))]
ReferralsWrite = Annotated[Principal, Depends(require(Permission.REFERRALS_WRITE))]


@dataclass(frozen=True)
class ScopedReferral:
    """A referral loaded once for the request, in the caller's scope, with the resident's grid path."""

    viewer: Viewer
    referral: Referral
    path: str


def in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedReferral]]:
    """A dependency: the caller holds ``permission`` somewhere (else 403), the referral is in its scope
    (else 404). Loaded before If-Match is judged, so an unseen referral is 404, never 428."""

    allowed = Depends(require(permission))

    async def dependency(db: DbSession, referral_id: uuid.UUID, principal: Principal = allowed) -> ScopedReferral:
        viewer = await access.viewer_for(db, principal)
        referral, path = await service.get_in_scope(db, viewer, referral_id)
        return ScopedReferral(viewer, referral, path)

    dependency.__name__ = f"referral_in_scope_{permission.name.lower()}"
    return dependency


ReadableReferral = Annotated[ScopedReferral, Depends(in_scope(Permission.REFERRALS_READ))]
WritableReferral = Annotated[ScopedReferral, Depends(in_scope(Permission.REFERRALS_WRITE))]


async def _answer(
    db: DbSession, scoped: ScopedReferral, response: Response, pii: PiiCipher, *, created: bool | None = None
) -> ReferralRead:
    view = await service.to_view(db, scoped.viewer, scoped.referral, scoped.path, pii=pii)
    return answer(response, scoped.referral, view, location=f"/referrals/{scoped.referral.id}", created=created)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Request a referral (upward or downward)",
    responses={
        200: {
            "model": ReferralRead,
            "description": "Already requested with this id or identifier and body: the stored one",
        },
        **problem_responses(401, 403, 409, 422),
    },
)
async def request_referral(
    db: DbSession, principal: ReferralsWrite, pii: Pii, body: ReferralCreate, response: Response
) -> ReferralRead:
    """Needs the patient's informed consent; a replay by `id` or by a sender identifier is 200, another body 409."""
    viewer = await access.viewer_for(db, principal)
    result = await service.create(db, viewer, body, pii=pii)
    scoped = ScopedReferral(viewer, result.referral, result.grid_path)
    return await _answer(db, scoped, response, pii, created=result.status_code == 201)


@router.get("", summary="List referrals in scope", responses=problem_responses(401, 403, 422))
async def list_referrals(
    db: DbSession,
    principal: ReferralsRead,
    direction: Direction | None = None,
    status_: Annotated[ReferralStatus | None, Query(alias="status")] = None,
    resident_id: uuid.UUID | None = None,
    identifier: Annotated[
        str | None, Query(max_length=401, description="`system|value`: the referral a sender's identifier names.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ReferralBrief]:
    """Where each referral stands (no clinical text); open one for the details you may read."""
    pair: tuple[str, str] | None = None
    if identifier is not None:
        system, sep, value = identifier.partition("|")
        if not sep or not system or not value:
            raise field_error("query.identifier", "expected system|value")
        pair = (system, value)
    viewer = await access.viewer_for(db, principal)
    rows, next_cursor = await service.list_referrals(
        db,
        viewer,
        direction=direction,
        status=status_,
        resident_id=resident_id,
        identifier=pair,
        cursor=cursor,
        limit=limit,
    )
    idents = await service.identifiers_by_referral(db, [r.id for r in rows])
    return Page[ReferralBrief](items=[service.to_brief(r, idents.get(r.id, [])) for r in rows], next_cursor=next_cursor)


@router.get("/changes", summary="Poll an institution's referral changes", responses=problem_responses(401, 403, 422))
async def referral_changes(
    db: DbSession,
    principal: ReferralsRead,
    cursor: Annotated[str | None, Query(max_length=500, description="The `cursor` of the previous page.")] = None,
    institution_id: Annotated[uuid.UUID | None, Query(description="Only for an account acting for several.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ReferralChanges:
    """The webhook fallback: each change to or from your institution once, in order (thin payloads)."""
    viewer = await access.viewer_for(db, principal)
    return await service.changes(db, viewer, institution_id=institution_id, cursor=cursor, limit=limit)


@router.get(
    "/metrics",
    summary="Referral metrics per institution, team or town",
    responses=problem_responses(401, 403, 404, 422),
)
async def referral_metrics(
    db: DbSession,
    principal: ReferralsRead,
    org_unit_id: Annotated[uuid.UUID, Query(description="The district or town whose residents' referrals count.")],
    from_: Annotated[Instant, Query(alias="from", description="Referrals requested from (inclusive).")],
    to: Annotated[Instant, Query(description="… until (exclusive); at most 400 days after `from`.")],
    group_by: Literal["institution", "team", "town"] = "town",
) -> ReferralMetrics:
    """Upward and downward counts, acceptance rate, median hours to decision, no-shows, downward taken over
    within 24 h and followed up within 48 h; one SQL statement over the referrals you may see."""
    viewer = await access.viewer_for(db, principal)
    return await metrics.referral_metrics(
        db, viewer, org_unit_id=org_unit_id, starts_at=from_, ends_at=to, group_by=group_by
    )


@router.get("/{referral_id}", summary="Read one referral", responses=problem_responses(401, 403, 404, 422))
async def read_referral(db: DbSession, scoped: ReadableReferral, pii: Pii, response: Response) -> ReferralRead:
    """With its history and clocks; the clinical text for the two sides only (`clinical: true`)."""
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/receive", summary="Mark an upward referral received", responses=CHANGE_ERRORS)
async def receive_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralNote, version: IfMatchLater, response: Response
) -> ReferralRead:
    """The receiving institution has seen it (the 2-hour clock)."""
    await service.receive(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/accept", summary="Accept an upward referral with an appointment", responses=CHANGE_ERRORS)
async def accept_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralAccept, version: IfMatchLater, response: Response
) -> ReferralRead:
    """Time, department, doctor or bed; the referring team is told."""
    await service.accept(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/decline", summary="Decline a referral with a reason", responses=CHANGE_ERRORS)
async def decline_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralDecline, version: IfMatchLater, response: Response
) -> ReferralRead:
    """A reason code (`other` with a note); a team's `not_our_area` re-routes to the responsible team."""
    await service.decline(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/hold", summary="Put an upward referral on hold", responses=CHANGE_ERRORS)
async def hold_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralHold, version: IfMatchLater, response: Response
) -> ReferralRead:
    """From received (e.g. waiting for a bed); the decision clock stands still."""
    await service.hold(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/resume", summary="Resume a referral on hold", responses=CHANGE_ERRORS)
async def resume_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralNote, version: IfMatchLater, response: Response
) -> ReferralRead:
    """Back to received; the decision clock's remaining steps move later by the hold."""
    await service.resume(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/arrive", summary="Record the patient's arrival", responses=CHANGE_ERRORS)
async def arrive_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralNote, version: IfMatchLater, response: Response
) -> ReferralRead:
    """From accepted: the patient came."""
    await service.arrive(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/no-show", summary="Record that the patient did not come", responses=CHANGE_ERRORS)
async def no_show_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralNote, version: IfMatchLater, response: Response
) -> ReferralRead:
    """From accepted; the referring team is told."""
    await service.no_show(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/complete", summary="Complete a referral", responses=CHANGE_ERRORS)
async def complete_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralComplete, version: IfMatchLater, response: Response
) -> ReferralRead:
    """Upward with the discharge summary (and `continued_care` spawns the linked downward referral, listed in
    `children`); downward, the team closes it after the first follow-up."""
    await service.complete(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version, pii=pii)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/cancel", summary="Cancel an open referral", responses=CHANGE_ERRORS)
async def cancel_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralCancel, version: IfMatchLater, response: Response
) -> ReferralRead:
    """Either side, at any open point, with a reason; the other side is told."""
    await service.cancel(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/take-over", summary="Take over a downward referral (服务承接)", responses=CHANGE_ERRORS)
async def take_over_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralNote, version: IfMatchLater, response: Response
) -> ReferralRead:
    """The responsible team takes the patient over (the 24-hour clock)."""
    await service.take_over(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version)
    return await _answer(db, scoped, response, pii)


@router.post("/{referral_id}/follow-up", summary="Record the first follow-up after discharge", responses=CHANGE_ERRORS)
async def follow_up_referral(
    db: DbSession, scoped: WritableReferral, pii: Pii, body: ReferralFollowUp, version: IfMatchLater, response: Response
) -> ReferralRead:
    """Channel and outcome; meets the 48-hour clock at the contact's time."""
    await service.follow_up(db, scoped.viewer, scoped.referral, scoped.path, body, expected_version=version, pii=pii)
    return await _answer(db, scoped, response, pii)
