"""Safe retries of creates: the same client-chosen id with the same content is the same record.

Every create that takes a client id (or, for residents, an ``Idempotency-Key``) goes
through here, so a retry is answered the same way everywhere: ``Created(record,
created=False)`` (the API's 200) when the content matches, 409 ``conflict`` naming the
record when it does not. Two steps make it race-safe:

* ``replayed`` answers a retry of a create that committed earlier, before any rule is
  re-checked (a rule may have changed since, e.g. the clock moved past a start date);
* ``insert_once`` writes with ``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING``: when a
  concurrent identical create committed first, PostgreSQL waits for it and inserts
  nothing, and the existing row is loaded and compared instead of failing on the key.

Rules checked between the two ("no other record overlaps", "the code is free") must
exclude the client's id, so a concurrent twin is never mistaken for another record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.interfaces import ORMOption

from services.core.errors import Conflict

T = TypeVar("T")
M = TypeVar("M")

# How a retry is recognised: expected attribute values (None: an omitted optional field,
# not compared), or a predicate for content that is not plain columns (sealed notes, tags).
Same = Mapping[str, Any] | Callable[[M], bool]


class Created(NamedTuple, Generic[T]):
    """The answer of every create: the record, and whether this call made it (201) or replayed it (200)."""

    record: T
    created: bool


def same_or_conflict(existing: T, expected: Mapping[str, Any]) -> T:
    """``existing`` when every expected attribute matches; 409 naming it otherwise."""
    for key, value in expected.items():
        if value is None:
            continue  # an omitted optional field (a default) does not make a retry different
        if getattr(existing, key) != value:
            raise _different(existing, f" ({key})")
    return existing


def _different(existing: object, why: str = "") -> Conflict:
    ident = getattr(existing, "id", None)
    what = getattr(existing, "__tablename__", "record").replace("_", " ")
    return Conflict(f"{what} {ident} already exists with different content{why}", existing_id=str(ident))


def _compare(existing: M, same: Same[M]) -> Created[M]:
    if isinstance(same, Mapping):
        same_or_conflict(existing, same)
    elif not same(existing):
        raise _different(existing)
    return Created(existing, False)


async def replayed(
    db: AsyncSession,
    model: type[M],
    ident: Any,
    *,
    same: Same[M],
    in_scope: Callable[[M], Awaitable[object]] | None = None,
    options: Sequence[ORMOption] = (),
) -> Created[M] | None:
    """The answer to a retry when ``ident`` is taken; None when it is free (or not given).

    ``in_scope`` runs first (404/409 for a record the caller may not write), so an id
    outside the caller's area reveals nothing about its content.
    """
    if ident is None:
        return None
    existing = await db.get(model, ident, options=options)
    if existing is None:
        return None
    if in_scope is not None:
        await in_scope(existing)
    return _compare(existing, same)


async def insert_once(db: AsyncSession, record: M, *, same: Same[M], options: Sequence[ORMOption] = ()) -> Created[M]:
    """Insert the transient ``record`` unless its id exists; then load that row and compare.

    Use the returned ``record`` (it is the persistent one); the argument is only a carrier
    of column values and is never added to the session. Python-side column defaults
    (``version``, ``created_at``) apply as in a normal flush.
    """
    model: Any = type(record)
    mapper: Mapper[Any] = inspect(model)
    state = inspect(record)
    values = {attr.key: state.dict[attr.key] for attr in mapper.column_attrs if attr.key in state.dict}
    stmt = (
        insert(model)
        .values(values)
        .on_conflict_do_nothing(index_elements=list(mapper.primary_key))
        .returning(model)
        .execution_options(populate_existing=True)
    )
    inserted: M | None = (await db.scalars(stmt)).one_or_none()
    if inserted is not None:
        return Created(inserted, True)
    ident = mapper.primary_key_from_instance(record)
    existing = await db.get(
        model, ident[0] if len(ident) == 1 else tuple(ident), options=options, populate_existing=True
    )
    if existing is None:  # inserted and removed again in between: nothing to replay
        raise Conflict(f"{model.__tablename__} {ident} was taken and released; retry", existing_id=str(ident[0]))
    return _compare(existing, same)
