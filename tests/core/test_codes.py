"""Administrative code checks (GB/T 2260 county codes, statistical town/village codes, grid codes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.org.codes import code_problem
from services.core.org.models import OrgUnitKind

K = OrgUnitKind


@pytest.mark.parametrize(
    ("kind", "code", "parent"),
    [
        (K.DISTRICT, "500112", None),
        (K.TOWN, "500112002000", "500112"),
        (K.VILLAGE, "500112002001", "500112002000"),
        (K.GRID, "500112002001001", "500112002001"),
    ],
)
def test_well_formed_codes_pass(kind: OrgUnitKind, code: str, parent: str | None) -> None:
    assert code_problem(kind, code, parent) is None


@pytest.mark.parametrize(
    ("kind", "code", "parent"),
    [
        (K.DISTRICT, "990112", None),  # no such province
        (K.DISTRICT, "500100", None),  # a city, not a county
        (K.TOWN, "500112002001", "500112"),  # village-shaped
        (K.TOWN, "500113002000", "500112"),  # another district
        (K.VILLAGE, "500112003001", "500112002000"),  # another town
        (K.VILLAGE, "500112002000", "500112002000"),  # the town itself
        (K.GRID, "500112002002001", "500112002001"),  # another village
        (K.GRID, "500112002001000", "500112002001"),  # grid 000
        (K.GRID, "5001120020010011", "500112002001"),  # too long
    ],
)
def test_malformed_codes_are_named(kind: OrgUnitKind, code: str, parent: str | None) -> None:
    assert code_problem(kind, code, parent)


@given(st.text(max_size=20))
def test_any_text_gets_an_answer_not_an_exception(code: str) -> None:
    for kind, parent in ((K.DISTRICT, None), (K.TOWN, "500112"), (K.VILLAGE, "500112002000"), (K.GRID, "500112002001")):
        code_problem(kind, code, parent)
