"""Keyset pagination: an opaque cursor holding the last row's sort key, never an offset.

Offsets skip or repeat rows while others write; a key does not. ``paginate`` (ORM
objects) and ``paginate_rows`` (several things per row) take one key or a compound,
mixed-direction ``keys`` list; ``Keyset`` is the piece both are made of, for the few
lists (delta sync) that must build their own horizon around it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar, TypeVarTuple

from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    or_,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from services.core.errors import ValidationFailed, field_error

T = TypeVar("T")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="Absent on the last page.")


def encode_cursor(key: list[Any]) -> str:
    """Opaque cursor for a sort key (JSON values: strings, ints)."""
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, field: str = "query.cursor") -> list[Any] | None:
    """The raw sort key inside a cursor; a cursor we did not make is a 422 on ``field``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _forged(field) from exc
    if not isinstance(key, list):
        raise _forged(field)
    return key


def _forged(field: str) -> ValidationFailed:
    return field_error(field, "not a cursor this API issued")


Direction = Literal["asc", "desc"]
SortKey = tuple[Any, Direction]


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(type_: TypeEngine[Any], value: Any) -> Any:
    """The typed value of one cursor member, by its column's type; ValueError when it cannot be one."""
    if isinstance(type_, Uuid):
        if not isinstance(value, str):
            raise ValueError("uuid")
        return uuid.UUID(value)
    if isinstance(type_, DateTime):
        if not isinstance(value, str):
            raise ValueError("datetime")
        at = datetime.fromisoformat(value)
        if type_.timezone and at.tzinfo is None:
            raise ValueError("naive datetime")
        return at
    if isinstance(type_, Date):
        if not isinstance(value, str):
            raise ValueError("date")
        return date.fromisoformat(value)
    if isinstance(type_, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("int")
        return value
    if isinstance(type_, String):
        if not isinstance(value, str):
            raise ValueError("str")
        return value
    raise TypeError(f"no cursor encoding for {type_!r}")  # unreachable: Keyset checks its columns


_CURSOR_TYPES = (Uuid, DateTime, Date, Integer, String)


class Keyset:
    """A unique sort order and the cursor that resumes it: ``Keyset((Model.created_at, "desc"), (Model.id, "desc"))``.

    The cursor carries the last row's key values, typed by their columns (datetimes,
    dates, UUIDs, strings, ints), so a forged one is a 422 rather than a database error.
    Keys must be non-null and together unique; when every key runs the same way the
    condition is one row-value comparison, which a matching composite index serves.
    """

    def __init__(self, *keys: SortKey | Any, field: str = "query.cursor") -> None:
        self.keys: list[SortKey] = [k if isinstance(k, tuple) else (k, "asc") for k in keys]
        self.field = field
        for column, direction in self.keys:
            if direction not in ("asc", "desc"):
                raise ValueError(f"direction of {column} must be asc or desc")
            if not isinstance(column.type, _CURSOR_TYPES):  # fail where the list is declared, not on page two
                raise TypeError(f"no cursor encoding for {column} ({column.type!r})")

    def order_by(self) -> list[Any]:
        """The ORDER BY clauses, in key order."""
        return [column.desc() if direction == "desc" else column.asc() for column, direction in self.keys]

    def encode(self, values: Sequence[Any]) -> str:
        """The cursor resuming after a row with these key values."""
        return encode_cursor([_to_json(v) for v in values])

    def values_of(self, row: Any) -> list[Any]:
        """The key values of an ORM object, read by attribute name."""
        return [getattr(row, column.key) for column, _ in self.keys]

    def decode(self, cursor: str | None) -> list[Any] | None:
        """The typed key values inside ``cursor``; 422 on ``field`` for one this API did not issue."""
        raw = decode_cursor(cursor, field=self.field)
        if raw is None:
            return None
        if len(raw) != len(self.keys):
            raise _forged(self.field)
        try:
            return [_from_json(column.type, value) for (column, _), value in zip(self.keys, raw, strict=True)]
        except ValueError as exc:
            raise _forged(self.field) from exc

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in this order."""
        bound = [bindparam(None, v, type_=column.type) for (column, _), v in zip(self.keys, values, strict=True)]
        directions = {direction for _, direction in self.keys}
        if len(directions) == 1:
            columns = [column for column, _ in self.keys]
            left, right = (columns[0], bound[0]) if len(columns) == 1 else (tuple_(*columns), tuple_(*bound))
            condition: ColumnElement[bool] = left < right if "desc" in directions else left > right
            return condition
        # Mixed directions: (a after x) or (a = x and (b after y)) ...
        clauses = []
        for i, (column, direction) in enumerate(self.keys):
            past = column < bound[i] if direction == "desc" else column > bound[i]
            ties = [c == b for (c, _), b in zip(self.keys[:i], bound[:i], strict=True)]
            clauses.append(and_(*ties, past))
        return or_(*clauses)

    def where(self, stmt: S, cursor: str | None) -> S:
        """``stmt`` restricted to the rows after the cursor, in this order."""
        values = self.decode(cursor)
        if values is not None:
            stmt = stmt.where(self.after(values))
        return stmt.order_by(*self.order_by())


def _keyset(key: Any | None, keys: Sequence[SortKey | Any] | None) -> Keyset:
    if (key is None) == (keys is None):
        raise TypeError("pass key= or keys=")
    return Keyset(*(keys if keys is not None else [key]))


async def paginate(
    db: AsyncSession,
    stmt: Select[R],
    *,
    key: InstrumentedAttribute[Any] | None = None,
    keys: Sequence[SortKey | Any] | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[R], str | None]:
    """One page of ORM objects after the row the cursor names, ordered by ``key`` or ``keys``.

    ``keys=[(Model.created_at, "desc"), (Model.id, "desc")]`` for compound or descending
    orders; they must be unique together (end with the id) so the order is stable while
    others write.
    """
    keyset = _keyset(key, keys)
    rows = list((await db.scalars(keyset.where(stmt, cursor).limit(limit + 1))).all())
    next_cursor = keyset.encode(keyset.values_of(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def paginate_rows(
    db: AsyncSession,
    stmt: Select[*Ts],
    *,
    keys: Sequence[SortKey | Any],
    cursor: str | None,
    limit: int,
    values_of: Callable[[Row[*Ts]], Sequence[Any]] | None = None,
) -> tuple[list[Row[*Ts]], str | None]:
    """``paginate`` for statements selecting several things (an object and its grid path, plain columns).

    The key values are read from the row's first object unless ``values_of`` says otherwise.
    """
    keyset = Keyset(*keys)
    rows: list[Row[*Ts]] = list((await db.execute(keyset.where(stmt, cursor).limit(limit + 1))).all())

    def first_object(row: Any) -> list[Any]:
        return keyset.values_of(row[0])

    values = values_of or first_object
    next_cursor = keyset.encode(values(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], next_cursor
