"""Credit codes and mobile phones: what is accepted, how it is normalised, what is refused."""

from __future__ import annotations

import pytest

from services.core.errors import ValidationFailed
from services.core.teams import validation
from tests.factories import credit_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13912345678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("0086-139-1234-5678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("(139)12345678", "13912345678"),
    ],
)
def test_mobile_numbers_are_normalised(raw: str, expected: str) -> None:
    assert validation.mobile(raw) == expected


@pytest.mark.parametrize("raw", ["12912345678", "1391234567", "139123456789", "023-67891234", "", "一三九"])
def test_bad_mobile_numbers_name_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validation.mobile(raw, field="body.mobile")
    assert caught.value.extra["errors"][0]["field"] == "body.mobile"


def test_credit_codes_are_checked_with_the_mod_31_character() -> None:
    good = credit_code(42)
    assert validation.credit_code(good.lower()) == good
    assert validation.credit_code(f" {good[:6]} {good[6:]} ") == good
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for bad in (wrong_check, good[:-1], good.replace(good[10], "I")):
        with pytest.raises(ValidationFailed):
            validation.credit_code(bad)
