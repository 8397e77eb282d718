"""The FHIR R4 face of referrals: a referral is a ``ServiceRequest`` and its workflow a ``Task`` (same id).

Mapping (both directions are one ServiceRequest with ``category`` 上转/下转):

* ``ServiceRequest.status``: open -> ``active``, ``on_hold`` -> ``on-hold``, completed -> ``completed``,
  declined / cancelled / no-show -> ``revoked``; ``priority`` routine | urgent; ``subject`` Patient/<resident id>;
  ``requester`` Organization/<from institution>; ``performer`` Organization/<to institution> (and CareTeam/<to team>
  downward); ``reasonCode``/``note`` carry the sealed text, only for the two sides; ``basedOn`` the parent referral.
* ``Task.status``: requested, received, accepted, rejected (declined), on-hold, in-progress (arrived, taken over,
  followed up: told apart by ``businessStatus``), completed, failed (``businessStatus`` no-show), cancelled;
  ``focus`` ServiceRequest/<id>; ``owner`` the receiving side; ``requester`` the referring institution.
* Informed consent travels as the extension ``CONSENT_URL`` (``givenBy``, ``method``, ``givenAt``).

Nothing here imports FastAPI; the routes (``services/api/routes/fhir.py``) call these functions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.core.errors import ValidationFailed, field_error
from services.core.referrals.models import Direction, ReferralStatus
from services.core.referrals.schemas import ReferralRead

FHIR_MEDIA_TYPE = "application/fhir+json"
CONSENT_URL = "https://gridcare.cn/fhir/StructureDefinition/informed-consent"
BUSINESS_STATUS_URL = "https://gridcare.cn/fhir/CodeSystem/referral-status"
DECLINE_REASON_URL = "https://gridcare.cn/fhir/CodeSystem/referral-decline-reason"
CATEGORY_URL = "https://gridcare.cn/fhir/CodeSystem/referral-direction"
S = ReferralStatus

SERVICE_REQUEST_STATUS = {
    S.ON_HOLD: "on-hold",
    S.COMPLETED: "completed",
    S.DECLINED: "revoked",
    S.CANCELLED: "revoked",
    S.NO_SHOW: "revoked",
}
TASK_STATUS = {
    S.REQUESTED: "requested",
    S.RECEIVED: "received",
    S.ACCEPTED: "accepted",
    S.DECLINED: "rejected",
    S.ON_HOLD: "on-hold",
    S.ARRIVED: "in-progress",
    S.TAKEN_OVER: "in-progress",
    S.FOLLOWED_UP: "in-progress",
    S.COMPLETED: "completed",
    S.NO_SHOW: "failed",
    S.CANCELLED: "cancelled",
}
BUSINESS = {S.ARRIVED: "arrived", S.NO_SHOW: "no-show", S.TAKEN_OVER: "taken-over", S.FOLLOWED_UP: "followed-up"}
DIRECTION_TEXT = {Direction.UPWARD: "上转", Direction.DOWNWARD: "下转"}


def _instant(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _meta(view: ReferralRead, updated_at: datetime) -> dict[str, Any]:
    return {"versionId": str(view.version), "lastUpdated": updated_at.isoformat()}


def _identifiers(view: ReferralRead) -> list[dict[str, str]]:
    return [{"system": i.system, "value": i.value} for i in view.identifiers]


def _org(ref: Any) -> dict[str, str]:
    return {"reference": f"Organization/{ref.id}", "display": ref.name}


def service_request(view: ReferralRead, updated_at: datetime) -> dict[str, Any]:
    """The referral as a FHIR ServiceRequest."""
    direction = Direction(view.direction)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(view.id),
        "meta": _meta(view, updated_at),
        "status": SERVICE_REQUEST_STATUS.get(view.status, "active"),
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"},
                    {"system": CATEGORY_URL, "code": direction.value, "display": DIRECTION_TEXT[direction]},
                ]
            }
        ],
        "priority": view.urgency.value,
        "subject": {"reference": f"Patient/{view.resident_id}"},
        "authoredOn": view.requested_at.isoformat(),
        "requester": _org(view.from_institution),
        "performer": [_org(view.to_institution)],
        "extension": [
            {
                "url": CONSENT_URL,
                "extension": [
                    {"url": "givenBy", "valueCode": view.consent.given_by.value},
                    {"url": "method", "valueCode": view.consent.method.value},
                    {"url": "givenAt", "valueDateTime": view.consent.given_at.isoformat()},
                ],
            }
        ],
    }
    if view.identifiers:
        resource["identifier"] = _identifiers(view)
    if view.to_team is not None:
        resource["performer"].append({"reference": f"CareTeam/{view.to_team.id}", "display": view.to_team.name})
    if view.parent_id is not None:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{view.parent_id}"}]
    if view.reason:
        resource["reasonCode"] = [{"text": view.reason}]
    if view.clinical_summary:
        resource["note"] = [{"text": view.clinical_summary}]
    return resource


def task(view: ReferralRead, updated_at: datetime) -> dict[str, Any]:
    """The referral's workflow as a FHIR Task."""
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(view.id),
        "meta": _meta(view, updated_at),
        "status": TASK_STATUS[view.status],
        "intent": "order",
        "priority": view.urgency.value,
        "focus": {"reference": f"ServiceRequest/{view.id}"},
        "for": {"reference": f"Patient/{view.resident_id}"},
        "authoredOn": view.requested_at.isoformat(),
        "lastModified": updated_at.isoformat(),
        "requester": _org(view.from_institution),
        "owner": (
            {"reference": f"CareTeam/{view.to_team.id}", "display": view.to_team.name}
            if view.to_team is not None
            else _org(view.to_institution)
        ),
    }
    if view.identifiers:
        resource["identifier"] = _identifiers(view)
    if view.status in BUSINESS:
        code = BUSINESS[view.status]
        resource["businessStatus"] = {"coding": [{"system": BUSINESS_STATUS_URL, "code": code}], "text": code}
    if view.decline_reason is not None:
        resource["statusReason"] = {
            "coding": [{"system": DECLINE_REASON_URL, "code": view.decline_reason.value}],
            "text": view.decline_note or view.decline_reason.value,
        }
    elif view.cancel_reason:
        resource["statusReason"] = {"text": view.cancel_reason}
    elif view.hold_reason and view.status == S.ON_HOLD:
        resource["statusReason"] = {"text": view.hold_reason}
    if view.appointment is not None:
        resource["restriction"] = {"period": {"start": view.appointment.at.isoformat()}}
    return resource


def capability_statement(now: datetime) -> dict[str, Any]:
    """What the FHIR face supports."""
    search = [
        {"name": "identifier", "type": "token"},
        {"name": "patient", "type": "reference"},
        {"name": "status", "type": "token"},
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.date().isoformat(),
        "kind": "instance",
        "software": {"name": "gridcare"},
        "implementation": {"description": "gridcare two-way referral (双向转诊), FHIR R4 face"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "OAuth2 client credentials at /oauth/token; send Authorization: Bearer <token>."
                },
                "resource": [
                    {
                        "type": "ServiceRequest",
                        "versioning": "versioned",
                        "conditionalCreate": True,
                        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
                        "searchParam": search,
                    },
                    {
                        "type": "Task",
                        "versioning": "versioned",
                        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "update"}],
                        "searchParam": [*search, {"name": "focus", "type": "reference"}],
                    },
                ],
            }
        ],
    }


def operation_outcome(status: int, *, code: str, detail: str | None, fields: list[str] | None = None) -> dict[str, Any]:
    """An error on the FHIR face (every status this API answers there)."""
    issue_code = {
        400: "structure",
        401: "login",
        403: "forbidden",
        404: "not-found",
        409: "conflict",
        412: "conflict",
        413: "too-long",
        422: "invalid",
        428: "required",
        429: "throttled",
        503: "transient",
    }.get(status, "exception")
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal",
        "code": issue_code,
        "details": {"coding": [{"system": "urn:gridcare:problem", "code": code}], "text": detail or code},
    }
    if detail:
        issue["diagnostics"] = detail
    if fields:
        issue["expression"] = fields
    return {"resourceType": "OperationOutcome", "issue": [issue]}


# ---------------------------------------------------------------- FHIR in


def _ref_id(reference: Any, kind: str, field: str) -> uuid.UUID:
    if not isinstance(reference, str) or not reference.startswith(f"{kind}/"):
        raise field_error(field, f"expected a reference {kind}/<id>")
    try:
        return uuid.UUID(reference.split("/", 1)[1])
    except ValueError as exc:
        raise field_error(field, f"expected a reference {kind}/<id>") from exc


def _consent(resource: dict[str, Any]) -> dict[str, Any]:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == CONSENT_URL:
            parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
            return {
                "given_by": (parts.get("givenBy") or {}).get("valueCode"),
                "method": (parts.get("method") or {}).get("valueCode"),
                "given_at": (parts.get("givenAt") or {}).get("valueDateTime"),
            }
    raise field_error("ServiceRequest.extension", f"the patient's informed consent is required ({CONSENT_URL})")


def referral_request(resource: Any) -> dict[str, Any]:
    """A ``ReferralCreate`` body from a FHIR ServiceRequest (validated by the caller's model)."""
    try:
        return _referral_request(resource)
    except (AttributeError, TypeError, KeyError) as exc:  # a field of the wrong JSON shape
        raise field_error("ServiceRequest", "not a ServiceRequest this server can read") from exc


def _referral_request(resource: dict[str, Any]) -> dict[str, Any]:
    if resource.get("resourceType") != "ServiceRequest":
        raise field_error("resourceType", "expected a ServiceRequest")
    performers = [p.get("reference") for p in resource.get("performer") or [] if isinstance(p, dict)]
    team = next((p for p in performers if isinstance(p, str) and p.startswith("CareTeam/")), None)
    org = next((p for p in performers if isinstance(p, str) and p.startswith("Organization/")), None)
    subject = resource.get("subject") or {}
    body: dict[str, Any] = {
        "identifiers": [{"system": i.get("system"), "value": i.get("value")} for i in resource.get("identifier") or []],
        "urgency": "urgent" if resource.get("priority") in ("urgent", "asap", "stat") else "routine",
        "reason": next((c.get("text") for c in resource.get("reasonCode") or [] if c.get("text")), None),
        "clinical_summary": next((n.get("text") for n in resource.get("note") or [] if n.get("text")), None),
        "consent": _consent(resource),
    }
    if isinstance(subject.get("reference"), str):
        body["resident_id"] = str(_ref_id(subject["reference"], "Patient", "ServiceRequest.subject"))
    elif isinstance(subject.get("identifier"), dict):
        body["patient"] = {"id_number": subject["identifier"].get("value")}
    if org is not None and team is None:
        body["direction"] = "upward"
        body["to_institution_id"] = str(_ref_id(org, "Organization", "ServiceRequest.performer"))
        requester = (resource.get("requester") or {}).get("reference")
        if isinstance(requester, str) and requester.startswith("CareTeam/"):
            body["from_team_id"] = str(_ref_id(requester, "CareTeam", "ServiceRequest.requester"))
    else:
        body["direction"] = "downward"
        if team is not None:
            body["to_team_id"] = str(_ref_id(team, "CareTeam", "ServiceRequest.performer"))
    for based in resource.get("basedOn") or []:
        body["parent_id"] = str(_ref_id(based.get("reference"), "ServiceRequest", "ServiceRequest.basedOn"))
    if not body["reason"]:
        raise field_error("ServiceRequest.reasonCode", "say why: reasonCode[0].text")
    return {k: v for k, v in body.items() if v is not None}


def task_action(view: ReferralRead, resource: Any) -> tuple[str, dict[str, Any]]:
    """The transition (action, body) a Task update asks for, from the referral's current state."""
    try:
        return _task_action(view, resource)
    except (AttributeError, TypeError, KeyError) as exc:
        raise field_error("Task", "not a Task this server can read") from exc


def _task_action(view: ReferralRead, resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if resource.get("resourceType") != "Task":
        raise field_error("resourceType", "expected a Task")
    status = resource.get("status")
    business = (resource.get("businessStatus") or {}).get("text") or next(
        (c.get("code") for c in (resource.get("businessStatus") or {}).get("coding") or []), None
    )
    reason = resource.get("statusReason") or {}
    reason_text = reason.get("text")
    upward = view.direction == Direction.UPWARD
    if status == "received":
        return ("resume", {}) if view.status == S.ON_HOLD else ("receive", {})
    if status == "accepted":
        start = ((resource.get("restriction") or {}).get("period") or {}).get("start")
        if not start:
            raise field_error("Task.restriction.period.start", "an acceptance carries the appointment time")
        return "accept", {"appointment": {"at": start, "department": view.to_department or "门诊"}}
    if status == "rejected":
        code = next((c.get("code") for c in reason.get("coding") or []), None) or "other"
        return "decline", {"reason": code, "note": reason_text}
    if status == "on-hold":
        return "hold", {"reason": reason_text or "等待"}
    if status == "in-progress":
        if upward:
            return "arrive", {}
        if business == "followed-up":
            raise field_error("Task.businessStatus", "record the follow-up at POST /referrals/{id}/follow-up")
        return "take_over", {}
    if status == "failed" and business == "no-show":
        return "no_show", {}
    if status == "completed":
        return "complete", {}
    if status == "cancelled":
        return "cancel", {"reason": reason_text or "cancelled"}
    raise ValidationFailed(
        f"Task.status: cannot move a referral to {status!r} (business status {business!r})",
        errors=[{"field": "Task.status", "message": "not a status this referral can move to"}],
    )
