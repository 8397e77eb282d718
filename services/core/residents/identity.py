"""Identity documents and phone numbers: normalisation first, then the checks.

Resident IDs follow GB 11643 (18 characters, ISO 7064 MOD 11-2 check character, a real
birth date); python-stdnum does the arithmetic, we add "not in the future" and the
agreement with a sex and birth date given alongside. Every problem is a 422 naming the
field, with a message that never repeats the number itself.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from services.core import clock
from services.core.errors import ValidationFailed, field_error


class IdType(StrEnum):
    """CV02.01.101 identity document types."""

    RESIDENT_ID = "01"  # 居民身份证
    HOUSEHOLD_REGISTER = "02"  # 居民户口簿
    PASSPORT = "03"  # 护照
    MILITARY_OFFICER = "04"  # 军官证
    DRIVING_LICENCE = "05"  # 驾驶证
    HK_MACAO_PERMIT = "06"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "07"  # 台湾居民来往内地通行证
    OTHER = "99"  # 其他


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_SEPARATORS = re.compile(r"[\s\-]+")
_OTHER_DOCUMENT = re.compile(r"^[0-9A-Z()]{4,30}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area codes: 010 and 02x have three digits, all others four.
_FIXED = re.compile(r"^(010|02\d|0[3-9]\d{2})([2-9]\d{6,7})$")


def normalise_id_number(raw: str) -> str:
    """Full-width to ASCII (NFKC), no spaces or dashes, upper case (so ``x`` becomes ``X``)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()


def check_id_number(
    id_type: IdType,
    raw: str,
    *,
    field: str = "body.id_number",
    sex: Sex | None = None,
    birth_on: date | None = None,
) -> tuple[str, Sex | None, date | None]:
    """The normalised number and, for a resident ID, the sex and birth date it encodes."""
    number = normalise_id_number(raw)
    if id_type is not IdType.RESIDENT_ID:
        if not _OTHER_DOCUMENT.match(number):
            raise field_error(field, "4 to 30 letters and digits")
        return number, None, None
    # Not ric.validate(): its region table dates each county code, and refuses genuine IDs
    # whose code is younger than the holder (500112 渝北区 dates from 1997, many holders do not).
    if len(number) != 18:
        raise field_error(field, "a resident ID has 18 characters")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise field_error(field, "17 digits and a check character (0-9 or X)")
    if number[:2] not in _PROVINCES:
        raise field_error(field, "the first two digits are not a province code")
    if ric.calc_check_digit(number) != number[17]:
        raise field_error(field, "the check character does not match (ISO 7064 MOD 11-2)")
    try:
        encoded_birth = ric.get_birth_date(number)
    except ValidationError as exc:
        raise field_error(field, "the birth date is not a real date") from exc
    if encoded_birth > clock.now().date():
        raise field_error(field, "the birth date lies in the future")
    encoded_sex = Sex.MALE if int(number[16]) % 2 == 1 else Sex.FEMALE
    errors = []
    if sex is not None and sex is not Sex.UNKNOWN and sex is not encoded_sex:
        errors.append({"field": _sibling(field, "sex"), "message": "does not agree with the resident ID"})
    if birth_on is not None and birth_on != encoded_birth:
        errors.append({"field": _sibling(field, "birth_on"), "message": "does not agree with the resident ID"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return number, encoded_sex, encoded_birth


def normalise_phone(raw: str, *, field: str = "body.phone") -> str:
    """``+86 138-1234-5678`` -> ``13812345678``; fixed lines become ``023-12345678``."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).replace("(", "").replace(")", "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    if _MOBILE.match(digits):
        return digits
    fixed = _FIXED.match(digits)
    if fixed and not digits.startswith("00"):
        return f"{fixed.group(1)}-{fixed.group(2)}"
    raise field_error(field, "a mobile number (11 digits, 1[3-9]…) or an area code and number")


def age_on(birth_on: date, day: date) -> int:
    """Whole years of age on ``day``."""
    return day.year - birth_on.year - ((day.month, day.day) < (birth_on.month, birth_on.day))


def _sibling(field: str, name: str) -> str:
    return field.rsplit(".", 1)[0] + "." + name if "." in field else name
