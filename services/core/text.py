"""Request hygiene: no control characters reach the database, and dates are dates.

PostgreSQL refuses NUL in text, and other control characters have no business in a
name or a note; refusing them at validation names the field instead of failing deep
in a query. Tabs and line breaks stay allowed (notes have paragraphs).

Pydantic reads a number (or a numeric string, as every query value is) as a Unix time
where a date or datetime is expected, so ``since_on: 0`` was stored as 1970-01-01 and
``at=0.5`` was an instant. A request date or datetime is ISO 8601 text or it is a 422:
request fields and query parameters are typed ``Date``, ``DateTime`` or ``Instant``, never
``date``/``datetime``/``AwareDatetime`` (tests walk every request model and route for one that is not).
"""

from __future__ import annotations

import re
import types
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    FutureDate,
    FutureDatetime,
    GetJsonSchemaHandler,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same rule as a JSON Schema pattern, for the contract.
NO_CONTROL_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def reject_control_characters(value: str) -> str:
    """Pass ``value`` through, or fail validation when it holds a control character."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class _NoControlInSchema:
    """Says in the JSON Schema what ``reject_control_characters`` enforces."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.setdefault("pattern", NO_CONTROL_PATTERN)
        return schema


CleanStr = Annotated[str, AfterValidator(reject_control_characters), _NoControlInSchema()]


def reject_numbers(value: Any) -> Any:
    """Pass ``value`` on to date/datetime parsing unless it is a number or a numeric string."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("must be an ISO 8601 date or date-time text, not a number")
    return value


_NOT_A_NUMBER = BeforeValidator(reject_numbers)
Date = Annotated[date, _NOT_A_NUMBER]
DateTime = Annotated[datetime, _NOT_A_NUMBER]
Instant = Annotated[AwareDatetime, _NOT_A_NUMBER]


_PYDANTIC_TEMPORAL = (AwareDatetime, NaiveDatetime, PastDate, FutureDate, PastDatetime, FutureDatetime)


def is_temporal(annotation: Any) -> bool:
    """Whether ``annotation`` is (or holds, as ``X | None``, ``list[X]``, ``Annotated[X, ...]``) a date or datetime."""
    if annotation in _PYDANTIC_TEMPORAL:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, date)
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, set, Annotated):
        return any(is_temporal(arg) for arg in get_args(annotation))
    return False


def _declare_no_control(schema: dict[str, Any]) -> None:
    """Say in the contract what the validator below enforces: each free-text property (no pattern,
    format or enum of its own) gets the no-control-characters pattern."""
    for prop in schema.get("properties", {}).values():
        for option in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
            if option.get("type") == "string" and not {"pattern", "format", "enum", "const"} & option.keys():
                option["pattern"] = NO_CONTROL_PATTERN


class RequestModel(BaseModel):
    """Base of every request body: unknown fields refused, no control characters in any string."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema, _cls: _declare_no_control(schema))

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str):
            return reject_control_characters(value)
        if isinstance(value, list | tuple | set):
            for item in value:
                if isinstance(item, str):
                    reject_control_characters(item)
        return value
