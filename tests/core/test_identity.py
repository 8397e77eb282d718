"""One check of a person's identity fields, whoever calls it (create, update, import, report draft)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.core import clock
from services.core.errors import ValidationFailed
from services.core.residents.identity import IdType, Sex, check_identity
from tests.factories import resident_id_number


@pytest.fixture(autouse=True)
def _today() -> None:
    clock.freeze(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))


def fields(errors: list[dict[str, str]]) -> list[str]:
    return [e["field"] for e in errors]


def test_values_come_back_normalised_and_completed_from_the_resident_id() -> None:
    number = resident_id_number(date(1956, 3, 8), male=False)
    identity = check_identity(prefix="body", id_number=number.lower() + " ", phone="+86 138-0013-8000").or_raise()
    assert identity.id_type is IdType.RESIDENT_ID
    assert identity.id_number == number
    assert (identity.sex, identity.birth_on) == (Sex.FEMALE, date(1956, 3, 8))
    assert identity.phone == "13800138000"


def test_an_unknown_sex_is_completed_from_the_resident_id() -> None:
    number = resident_id_number(date(1956, 3, 8), male=True)
    assert check_identity(prefix="body", id_number=number, sex=Sex.UNKNOWN).sex is Sex.MALE


@pytest.mark.parametrize(
    ("birth_on", "message"),
    [
        (date(2028, 1, 3), "the birth date lies in the future"),
        (date(1850, 6, 1), "the birth date is before 1900-01-01"),
    ],
)
def test_a_birth_date_outside_1900_to_today_is_refused_under_the_callers_prefix(birth_on: date, message: str) -> None:
    for prefix, field in (
        ("body", "body.birth_on"),
        ("body.new_resident", "body.new_resident.birth_on"),
        ("", "birth_on"),
    ):
        errors = check_identity(prefix=prefix, birth_on=birth_on).errors
        assert errors == [{"field": field, "message": message}]


def test_a_resident_id_born_before_1900_names_the_number() -> None:
    errors = check_identity(prefix="", id_number=resident_id_number(date(1850, 6, 1))).errors
    assert errors == [{"field": "id_number", "message": "the birth date is before 1900-01-01"}]


def test_every_field_in_error_is_listed_at_once() -> None:
    identity = check_identity(
        prefix="body.new_resident",
        id_number=resident_id_number(date(1980, 5, 17), male=True),
        sex=Sex.FEMALE,
        birth_on=date(1981, 1, 1),
        phone="12",
    )
    assert fields(identity.errors) == [
        "body.new_resident.sex",
        "body.new_resident.birth_on",
        "body.new_resident.phone",
    ]
    assert (identity.id_number, identity.phone) == (None, None)
    with pytest.raises(ValidationFailed) as raised:
        identity.or_raise()
    assert fields(raised.value.extra["errors"]) == fields(identity.errors)


def test_a_birth_date_is_required_only_when_the_caller_says_so() -> None:
    assert fields(check_identity(prefix="body").errors) == ["body.birth_on"]
    assert check_identity(prefix="body.new_resident", birth_required=False).errors == []
    bad_number = check_identity(prefix="body", id_number="500112198005170000").errors
    assert fields(bad_number) == ["body.id_number"], "a bad number does not also ask for the birth date"


def test_a_type_without_its_number_is_refused() -> None:
    errors = check_identity(prefix="body", id_type=IdType.PASSPORT, birth_on=date(1980, 1, 1)).errors
    assert errors == [{"field": "body.id_number", "message": "required when id_type is given"}]
