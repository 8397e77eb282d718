"""Request text hygiene: no control characters reach the database.

PostgreSQL refuses NUL in text, and other control characters have no business in a
name or a note; refusing them at validation names the field instead of failing deep
in a query. Tabs and line breaks stay allowed (notes have paragraphs).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reject_control_characters(value: str) -> str:
    """Pass ``value`` through, or fail validation when it holds a control character."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


CleanStr = Annotated[str, AfterValidator(reject_control_characters)]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields refused, no control characters in any string."""

    model_config = ConfigDict(extra="forbid")

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
