"""Checks for administrative codes (GB/T 2260 and the statistics bureau's division codes).

A district (county-level) code has 6 digits; town and village codes have 12, the
town's ending in ``000``; a grid code is its village's 12 digits plus 3 of its own.
A child's code always extends its parent's significant digits, so a code alone says
where a unit sits, and a wrong parent is caught at the door.
"""

from __future__ import annotations

from services.core.org.models import OrgUnitKind

# Province-level prefixes in GB/T 2260 (mainland, Taiwan, Hong Kong, Macao).
_PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
}

_LENGTH = {
    OrgUnitKind.DISTRICT: 6,
    OrgUnitKind.TOWN: 12,
    OrgUnitKind.VILLAGE: 12,
    OrgUnitKind.GRID: 15,
}

# How many leading digits of a unit's code its children must repeat.
_SIGNIFICANT = {
    OrgUnitKind.DISTRICT: 6,
    OrgUnitKind.TOWN: 9,
    OrgUnitKind.VILLAGE: 12,
}


def code_problem(kind: OrgUnitKind, code: str, parent_code: str | None) -> str | None:
    """What is wrong with ``code`` for a unit of ``kind`` under ``parent_code``, or None."""
    want = _LENGTH[kind]
    if not code.isascii() or not code.isdigit() or len(code) != want:
        return f"a {kind.value} code has exactly {want} digits"
    if kind is OrgUnitKind.DISTRICT:
        if code[:2] not in _PROVINCES:
            return f"{code[:2]} is not a province code in GB/T 2260"
        if code[4:] == "00":
            return "a district code names a county-level unit (it does not end in 00)"
        return None
    if parent_code is None:
        return f"a {kind.value} needs a parent"
    prefix = parent_code[: _significant_of_parent(kind)]
    if not code.startswith(prefix):
        return f"must extend its parent's code {prefix}"
    if kind is OrgUnitKind.TOWN and (code[9:] != "000" or code[6:9] == "000"):
        return "a town code is 9 significant digits followed by 000"
    if kind is OrgUnitKind.VILLAGE and code[9:] == "000":
        return "a village code does not end in 000 (that is its town's code)"
    if kind is OrgUnitKind.GRID and code[12:] == "000":
        return "a grid number is 001-999"
    return None


def _significant_of_parent(kind: OrgUnitKind) -> int:
    return _SIGNIFICANT[PARENT_KIND[kind]]


PARENT_KIND = {
    OrgUnitKind.TOWN: OrgUnitKind.DISTRICT,
    OrgUnitKind.VILLAGE: OrgUnitKind.TOWN,
    OrgUnitKind.GRID: OrgUnitKind.VILLAGE,
}
CHILD_KIND = {parent: child for child, parent in PARENT_KIND.items()}
