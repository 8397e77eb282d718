"""The FHIR R4 face of referrals for hospital systems that speak FHIR: ServiceRequest (the referral) and
Task (its workflow), read, search, conditional create and Task status updates on the same transitions.

Answers are ``application/fhir+json``; errors on this face are ``OperationOutcome`` (``problems.problem``).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import ValidationError

from services.api.deps import DbSession, IfMatchHeader, Pii, if_match_later, require
from services.api.routes.referrals import ReadableReferral, WritableReferral
from services.core import clock
from services.core.errors import ValidationFailed, field_error
from services.core.referrals import access, fhir, service
from services.core.referrals.models import Referral, ReferralStatus
from services.core.referrals.schemas import (
    ReferralAccept,
    ReferralCancel,
    ReferralComplete,
    ReferralCreate,
    ReferralDecline,
    ReferralHold,
    ReferralNote,
    ReferralRead,
)
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal
from services.core.security.roles import Permission

router = APIRouter(prefix="/fhir", tags=["fhir"])

Resource = dict[str, Any]
FHIR = fhir.FHIR_MEDIA_TYPE
ReferralsRead = Annotated[Principal, Depends(require(Permission.REFERRALS_READ))]
ReferralsWrite = Annotated[Principal, Depends(require(Permission.REFERRALS_WRITE))]


def _content(description: str, resource_type: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"const": resource_type}}}
    return {"description": description, "content": {FHIR: {"schema": schema}}}


def _outcomes(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": "OperationOutcome"}},
    }
    return {s: {"description": "An OperationOutcome", "content": {FHIR: {"schema": schema}}} for s in statuses}


def _fhir(
    resource: Resource, *, status: int = 200, version: int | None = None, location: str | None = None
) -> Response:
    headers = {}
    if version is not None:
        headers["ETag"] = f'W/"{version}"'
    if location is not None:
        headers["Location"] = location
    return Response(json.dumps(resource, ensure_ascii=False), status_code=status, media_type=FHIR, headers=headers)


async def _view(db: DbSession, viewer: access.Viewer, referral: Referral, path: str, pii: PiiCipher) -> ReferralRead:
    return await service.to_view(db, viewer, referral, path, pii=pii)


def _token(value: str, field: str) -> tuple[str, str]:
    system, sep, code = value.partition("|")
    if not sep or not system or not code:
        raise field_error(field, "expected system|value")
    return system, code


def _task_status(value: str) -> list[ReferralStatus]:
    found = [s for s, t in fhir.TASK_STATUS.items() if t == value]
    if not found:
        raise field_error("query.status", f"not a Task status: {value}")
    return found


@router.get(
    "/metadata",
    summary="The FHIR CapabilityStatement",
    responses={200: _content("CapabilityStatement", "CapabilityStatement")},
)
async def fhir_capability_statement() -> Response:
    """What this FHIR face supports (no login: it describes the server, nothing more)."""
    return _fhir(fhir.capability_statement(clock.now()))


@router.get(
    "/ServiceRequest/{referral_id}",
    summary="Read a referral as a FHIR ServiceRequest",
    responses={200: _content("ServiceRequest", "ServiceRequest"), **_outcomes(401, 403, 404, 422)},
)
async def read_fhir_service_request(db: DbSession, scoped: ReadableReferral, pii: Pii) -> Response:
    """The clinical text (reasonCode, note) only for the two sides."""
    view = await _view(db, scoped.viewer, scoped.referral, scoped.path, pii)
    return _fhir(fhir.service_request(view, scoped.referral.updated_at), version=view.version)


@router.get(
    "/Task/{referral_id}",
    summary="Read a referral's workflow as a FHIR Task",
    responses={200: _content("Task", "Task"), **_outcomes(401, 403, 404, 422)},
)
async def read_fhir_task(db: DbSession, scoped: ReadableReferral, pii: Pii) -> Response:
    """Task.status and businessStatus (arrived, no-show, taken-over, followed-up); focus is the ServiceRequest."""
    view = await _view(db, scoped.viewer, scoped.referral, scoped.path, pii)
    return _fhir(fhir.task(view, scoped.referral.updated_at), version=view.version)


async def _search(
    db: DbSession,
    principal: Principal,
    pii: PiiCipher,
    kind: str,
    identifier: str | None,
    patient: str | None,
    status: str | None,
    focus: str | None,
) -> Response:
    viewer = await access.viewer_for(db, principal)
    pair = _token(identifier, "query.identifier") if identifier else None
    resident_id = None
    if patient:
        try:
            resident_id = uuid.UUID(patient.removeprefix("Patient/"))
        except ValueError as exc:
            raise field_error("query.patient", "expected Patient/<id>") from exc
    rows, _ = await service.list_referrals(db, viewer, resident_id=resident_id, identifier=pair, cursor=None, limit=100)
    if focus:
        rows = [r for r in rows if f"ServiceRequest/{r.id}" == focus or str(r.id) == focus]
    entries = []
    for referral in rows:
        _, path = await service.get_in_scope(db, viewer, referral.id)
        view = await _view(db, viewer, referral, path, pii)
        resource = (
            fhir.task(view, referral.updated_at) if kind == "Task" else fhir.service_request(view, referral.updated_at)
        )
        if status and resource["status"] != status:
            continue
        entries.append({"fullUrl": f"{kind}/{referral.id}", "resource": resource, "search": {"mode": "match"}})
    return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})


Search = Annotated[str | None, Query(max_length=401)]


@router.get(
    "/ServiceRequest",
    summary="Search referrals as FHIR ServiceRequests",
    responses={200: _content("A searchset Bundle", "Bundle"), **_outcomes(401, 403, 422)},
)
async def search_fhir_service_requests(
    db: DbSession,
    principal: ReferralsRead,
    pii: Pii,
    identifier: Search = None,
    patient: Search = None,
    status: Search = None,
) -> Response:
    """By `identifier` (system|value), `patient` (Patient/<id>) and `status`; at most 100, in scope only."""
    return await _search(db, principal, pii, "ServiceRequest", identifier, patient, status, None)


@router.get(
    "/Task",
    summary="Search referral workflows as FHIR Tasks",
    responses={200: _content("A searchset Bundle", "Bundle"), **_outcomes(401, 403, 422)},
)
async def search_fhir_tasks(
    db: DbSession,
    principal: ReferralsRead,
    pii: Pii,
    identifier: Search = None,
    patient: Search = None,
    status: Search = None,
    focus: Search = None,
) -> Response:
    """By `identifier`, `patient`, `status` (a Task status) and `focus` (ServiceRequest/<id>); at most 100."""
    return await _search(db, principal, pii, "Task", identifier, patient, status, focus)


@router.post(
    "/ServiceRequest",
    status_code=201,
    summary="Create a referral from a FHIR ServiceRequest (conditional create)",
    responses={
        201: _content("Created", "ServiceRequest"),
        200: _content("It already exists (If-None-Exist matched)", "ServiceRequest"),
        **_outcomes(400, 401, 403, 409, 412, 422),
    },
)
async def create_fhir_service_request(
    db: DbSession,
    principal: ReferralsWrite,
    pii: Pii,
    resource: Annotated[Resource, Body(media_type=FHIR)],
    if_none_exist: Annotated[str | None, Header(description="identifier=system|value")] = None,
) -> Response:
    """Upward to a performer Organization (requester CareTeam/<team>), downward to a CareTeam; consent required."""
    viewer = await access.viewer_for(db, principal)
    if if_none_exist is not None:
        name, _, token = if_none_exist.partition("=")
        if name != "identifier":
            raise field_error("header.if-none-exist", "only identifier=system|value is supported")
        pair = _token(token, "header.if-none-exist")
        rows, _ = await service.list_referrals(db, viewer, identifier=pair, cursor=None, limit=2)
        if len(rows) > 1:
            raise ValidationFailed(
                "If-None-Exist matches several",
                errors=[{"field": "header.if-none-exist", "message": "matches several"}],
            )
        if rows:
            referral, path = await service.get_in_scope(db, viewer, rows[0].id)
            view = await _view(db, viewer, referral, path, pii)
            return _fhir(
                fhir.service_request(view, referral.updated_at),
                version=view.version,
                location=f"ServiceRequest/{referral.id}",
            )
    body = fhir.referral_request(resource)
    try:
        data = ReferralCreate.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": "ServiceRequest." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors) from None
    result = await service.create(db, viewer, data, pii=pii)
    view = await _view(db, viewer, result.referral, result.grid_path, pii)
    return _fhir(
        fhir.service_request(view, result.referral.updated_at),
        status=result.status_code,
        version=view.version,
        location=f"ServiceRequest/{result.referral.id}",
    )


@router.put(
    "/Task/{referral_id}",
    summary="Move a referral by updating its FHIR Task",
    responses={200: _content("The updated Task", "Task"), **_outcomes(401, 403, 404, 409, 412, 422, 428)},
)
async def update_fhir_task(
    db: DbSession,
    scoped: WritableReferral,
    pii: Pii,
    resource: Annotated[Resource, Body(media_type=FHIR)],
    if_match: IfMatchHeader = None,
) -> Response:
    """Task.status (businessStatus, statusReason, restriction.period.start) maps onto a transition; If-Match W/"n"."""
    version = if_match_later(if_match.replace("W/", "") if if_match else None)
    before = await _view(db, scoped.viewer, scoped.referral, scoped.path, pii)
    action, raw = fhir.task_action(before, resource)
    viewer, referral, path = scoped.viewer, scoped.referral, scoped.path
    try:
        if action == "receive":
            await service.receive(db, viewer, referral, path, ReferralNote(), expected_version=version)
        elif action == "resume":
            await service.resume(db, viewer, referral, path, ReferralNote(), expected_version=version)
        elif action == "accept":
            await service.accept(
                db, viewer, referral, path, ReferralAccept.model_validate(raw), expected_version=version
            )
        elif action == "decline":
            await service.decline(
                db, viewer, referral, path, ReferralDecline.model_validate(raw), expected_version=version
            )
        elif action == "hold":
            await service.hold(db, viewer, referral, path, ReferralHold.model_validate(raw), expected_version=version)
        elif action == "arrive":
            await service.arrive(db, viewer, referral, path, ReferralNote(), expected_version=version)
        elif action == "no_show":
            await service.no_show(db, viewer, referral, path, ReferralNote(), expected_version=version)
        elif action == "take_over":
            await service.take_over(db, viewer, referral, path, ReferralNote(), expected_version=version)
        elif action == "complete":
            await service.complete(db, viewer, referral, path, ReferralComplete(), expected_version=version, pii=pii)
        else:
            await service.cancel(
                db, viewer, referral, path, ReferralCancel.model_validate(raw), expected_version=version
            )
    except ValidationError as exc:
        errors = [{"field": "Task." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors) from None
    view = await _view(db, viewer, referral, path, pii)
    return _fhir(fhir.task(view, referral.updated_at), version=view.version)
