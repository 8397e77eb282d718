"""Identity documents and phone numbers: normalisation first, then the checks.

Resident IDs follow GB 11643 (18 characters, ISO 7064 MOD 11-2 check character, a real
birth date); python-stdnum does the arithmetic, we add "not in the future" and the
agreement with a sex and birth date given alongside. Every problem is a 422 naming the
field, with a message that never repeats the number itself.

``check_identity`` is the one check of a person's identity fields together: resident
create and update, the bulk import and a report's new-resident draft all call it, so a
rule added here (a birth date before 1900, say) holds for every way a person comes in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

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
# The same rules as JSON Schema patterns, for the contract (the checks above stay the enforcement:
# a pattern cannot say a check digit, a province or a real birth date). Separators are tolerated.
_SEP = r"[ ()-]*"
PHONE_PATTERN = (
    rf"^{_SEP}(?:(?:\+|00)86{_SEP})?"
    rf"(?:1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}"  # a mobile
    rf"|0{_SEP}(?:1{_SEP}0|2{_SEP}[0-9]|[3-9]{_SEP}[0-9]{_SEP}[0-9]){_SEP}[2-9](?:{_SEP}[0-9]){{6,7}}){_SEP}$"  # fixed
)
ID_NUMBER_PATTERN = r"^(?:[0-9]{17}[0-9Xx]|[0-9A-Za-z()]{4,30})$"
ID_NUMBER_DESCRIPTION = (
    "A resident ID (`01`): 17 digits and a check character (0-9 or X); other documents: 4 to 30 letters and digits."
)
PHONE_DESCRIPTION = "A mainland mobile (1[3-9] and 9 digits) or an area code and number; +86, spaces, dashes allowed."
# No one registered today was born before this (a typo like 0190 must not pass).
EARLIEST_BIRTH = date(1900, 1, 1)


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


@dataclass(frozen=True)
class Identity:
    """A person's identity fields, normalised, or what is wrong with them.

    ``errors`` holds one ``{"field", "message"}`` per problem, each field named under the
    caller's prefix; a value whose check failed is ``None``. ``sex`` and ``birth_on`` are
    completed from a resident ID when the caller left them out.
    """

    id_type: IdType | None = None
    id_number: str | None = None
    sex: Sex | None = None
    birth_on: date | None = None
    phone: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def or_raise(self) -> Identity:
        """These values, or a 422 naming every field in error."""
        if self.errors:
            raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in self.errors), errors=self.errors)
        return self


def check_identity(
    *,
    prefix: str,
    id_type: IdType | None = None,
    id_number: str | None = None,
    sex: Sex | None = None,
    birth_on: date | None = None,
    phone: str | None = None,
    birth_required: bool = True,
) -> Identity:
    """Check identity fields together (ID type and number, sex and birth agreement, birth date, phone).

    ``prefix`` names the fields in errors (``"body"``, ``"body.new_resident"``, or ``""`` for an
    import row). ``id_type`` defaults to a resident ID when a number is given. The birth date,
    given or read from the ID, must lie between 1900-01-01 and today; unless ``birth_required``
    is false, it must be known.
    """

    def at(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    errors: list[dict[str, Any]] = []
    number = None
    # A birth date read from the ID is the number's problem: name the field the caller sent.
    birth_field = at("birth_on") if birth_on is not None else at("id_number")
    if id_number is not None:
        id_type = id_type or IdType.RESIDENT_ID
        try:
            number, id_sex, id_birth = check_id_number(
                id_type, id_number, field=at("id_number"), sex=sex, birth_on=birth_on
            )
        except ValidationFailed as exc:
            errors.extend(exc.extra["errors"])
        else:
            sex = sex if sex not in (None, Sex.UNKNOWN) else (id_sex or sex)
            birth_on = birth_on or id_birth
    elif id_type is not None:
        errors.append({"field": at("id_number"), "message": "required when id_type is given"})
    normalised_phone = None
    if phone is not None:
        try:
            normalised_phone = normalise_phone(phone, field=at("phone"))
        except ValidationFailed as exc:
            errors.extend(exc.extra["errors"])
    if birth_on is None:
        if birth_required and not any(e["field"] == at("id_number") for e in errors):
            errors.append({"field": at("birth_on"), "message": "required unless a resident ID gives it"})
    elif birth_on > clock.now().date():
        errors.append({"field": birth_field, "message": "the birth date lies in the future"})
    elif birth_on < EARLIEST_BIRTH:
        errors.append({"field": birth_field, "message": f"the birth date is before {EARLIEST_BIRTH.isoformat()}"})
    return Identity(
        id_type=id_type if number is not None else None,
        id_number=number,
        sex=sex,
        birth_on=birth_on,
        phone=normalised_phone,
        errors=errors,
    )


def age_on(birth_on: date, day: date) -> int:
    """Whole years of age on ``day``."""
    return day.year - birth_on.year - ((day.month, day.day) < (birth_on.month, birth_on.day))


def _sibling(field: str, name: str) -> str:
    return field.rsplit(".", 1)[0] + "." + name if "." in field else name
