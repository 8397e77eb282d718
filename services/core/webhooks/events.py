"""The event catalogue: every type a subscription may name, and the payload model each is delivered as.

The names are the public contract of the webhooks (a subscription lists them), so they are declared
here, below the domains; the domain that emits a type registers its Pydantic model for it
(``core/referrals/events.py``), and ``gridcare openapi`` writes each model's JSON Schema to
``contracts/events/<type>.json`` (checked like the OpenAPI contract).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class EventType(StrEnum):
    """What happened to a referral (the payload is thin: id, identifiers, version, status)."""

    REFERRAL_REQUESTED = "referral.requested"
    REFERRAL_RECEIVED = "referral.received"
    REFERRAL_ACCEPTED = "referral.accepted"
    REFERRAL_DECLINED = "referral.declined"
    REFERRAL_ARRIVED = "referral.arrived"
    REFERRAL_COMPLETED = "referral.completed"
    REFERRAL_NO_SHOW = "referral.no_show"
    REFERRAL_CANCELLED = "referral.cancelled"
    REFERRAL_TAKEN_OVER = "referral.taken_over"
    REFERRAL_FOLLOWED_UP = "referral.followed_up"


_MODELS: dict[str, type[BaseModel]] = {}


def register(event_type: str, model: type[BaseModel]) -> None:
    """Declare the payload model of ``event_type`` (once; the same model again is a no-op)."""
    if event_type not in set(EventType):
        raise ValueError(f"{event_type} is not in the event catalogue")
    existing = _MODELS.get(event_type)
    if existing is not None and existing is not model:
        raise ValueError(f"event {event_type} registered twice")
    _MODELS[event_type] = model


def model_of(event_type: str) -> type[BaseModel]:
    """The payload model of a registered type (KeyError for a type nobody registered)."""
    return _MODELS[event_type]


def registered() -> dict[str, type[BaseModel]]:
    """Every registered type and its model, by name."""
    return dict(sorted(_MODELS.items()))


def json_schemas() -> dict[str, dict[str, Any]]:
    """``contracts/events/<type>.json``: the JSON Schema of each registered type's payload."""
    documents: dict[str, dict[str, Any]] = {}
    for event_type, model in registered().items():
        schema = model.model_json_schema(mode="serialization")
        documents[event_type] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://gridcare.example/contracts/events/{event_type}.json",
            **schema,
        }
    return documents
