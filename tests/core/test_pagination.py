"""Keyset pagination: compound and descending keys walk every row once, cursors carry typed values,
and a cursor this API did not issue is a 422 on its query field."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.errors import ValidationFailed
from services.core.notifications.models import Notification
from services.core.org.models import OrgUnit
from services.core.pagination import Keyset, SortKey, encode_cursor, paginate, paginate_rows
from tests.factories import make_child, make_district


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def _walk(db: AsyncSession, stmt: object, keys: list[SortKey], limit: int) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        rows, cursor = await paginate(db, stmt, keys=keys, cursor=cursor, limit=limit)  # type: ignore[arg-type]
        seen += [r.id for r in rows]
        if cursor is None:
            return seen


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
async def test_mixed_directions_walk_every_row_once_in_order(db: AsyncSession, limit: int) -> None:
    district = await make_district(db)
    for i in range(7):  # three names, so ties on the first key are paged through the second
        await make_child(db, district, number=i + 1, name=f"town {i % 3}")
    stmt = select(OrgUnit).where(OrgUnit.parent_id == district.id)
    everything = list((await db.scalars(stmt)).all())
    expected = [u.id for u in sorted(sorted(everything, key=lambda u: u.id, reverse=True), key=lambda u: u.name)]
    assert await _walk(db, stmt, [(OrgUnit.name, "asc"), (OrgUnit.id, "desc")], limit) == expected
    descending = [u.id for u in sorted(everything, key=lambda u: (u.name, u.id), reverse=True)]
    assert await _walk(db, stmt, [(OrgUnit.name, "desc"), (OrgUnit.id, "desc")], limit) == descending


async def test_rows_pages_read_the_key_from_the_first_object(db: AsyncSession) -> None:
    district = await make_district(db)
    for i in range(3):
        await make_child(db, district, number=i + 1)
    stmt = select(OrgUnit, OrgUnit.path).where(OrgUnit.parent_id == district.id)
    first, cursor = await paginate_rows(db, stmt, keys=[OrgUnit.code], cursor=None, limit=2)
    rest, end = await paginate_rows(db, stmt, keys=[OrgUnit.code], cursor=cursor, limit=2)
    assert [r[0].code for r in first + rest] == sorted(r[0].code for r in first + rest)
    assert len(first + rest) == 3
    assert end is None


def test_cursor_values_round_trip_typed() -> None:
    keyset = Keyset((Notification.created_at, "desc"), (Notification.id, "desc"))
    at, ident = datetime(2026, 3, 1, 8, 30, tzinfo=UTC) + timedelta(microseconds=17), uuid.uuid4()
    assert keyset.decode(keyset.encode([at, ident])) == [at, ident]
    assert Keyset((AuditEvent.id, "desc")).decode(encode_cursor([42])) == [42]
    assert Keyset(OrgUnit.path).decode(encode_cursor(["/500112/"])) == ["/500112/"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 json!",
        _raw({"id": 1}),
        _raw(["2026-03-01T08:30:00+00:00"]),  # too short
        _raw(["2026-03-01T08:30:00", str(uuid.uuid4())]),  # naive instant
        _raw(["yesterday", str(uuid.uuid4())]),
        _raw(["2026-03-01T08:30:00+00:00", "not-a-uuid"]),
        _raw(["2026-03-01T08:30:00+00:00", 7]),
    ],
)
def test_a_forged_cursor_is_422_on_query_cursor(cursor: str) -> None:
    keyset = Keyset((Notification.created_at, "desc"), (Notification.id, "desc"))
    with pytest.raises(ValidationFailed) as caught:
        keyset.decode(cursor)
    assert caught.value.extra["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("value", ["42", True, 4.5])
def test_an_integer_key_takes_only_integers(value: object) -> None:
    with pytest.raises(ValidationFailed):
        Keyset((AuditEvent.id, "desc")).decode(_raw([value]))


def test_the_field_named_is_the_one_the_cursor_came_in() -> None:
    with pytest.raises(ValidationFailed) as caught:
        Keyset(Notification.change_seq, Notification.id, field="query.since").decode(_raw(["x"]))
    assert caught.value.extra["errors"][0]["field"] == "query.since"
