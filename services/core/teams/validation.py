"""Checks for identifiers people type: credit codes and mobile phone numbers."""

from __future__ import annotations

import re

from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from services.core.errors import field_error

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# The rules as JSON Schema patterns, for the contract (a pattern cannot say the credit code's check character).
_SEP = r"[ ()（）-]*"
MOBILE_PATTERN = rf"^{_SEP}(?:(?:\+|00)?86{_SEP})?1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}{_SEP}$"
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}$"
_SEPARATORS = re.compile(r"[\s\-()（）]")


def credit_code(value: str, *, field: str = "body.credit_code") -> str:
    """The unified social credit code (GB 32100) in compact form; 422 on ``field`` when it is wrong."""
    try:
        return str(uscc.validate(value))
    except ValidationError as exc:
        raise field_error(field, f"not a valid unified social credit code: {exc}") from exc


def mobile(value: str, *, field: str = "body.mobile") -> str:
    """A mainland mobile number as 11 digits (drops +86/0086, spaces, dashes); 422 when it is not one."""
    digits = _SEPARATORS.sub("", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    else:
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
    if not _MOBILE.match(digits):
        raise field_error(field, "not a mainland mobile number (11 digits starting 13-19)")
    return digits
