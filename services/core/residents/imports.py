"""Bulk import of residents from .xlsx or JSON lines: per-row errors, idempotent re-runs.

Each row is checked on its own; rows with errors are skipped and listed, good rows are
stored. A row is matched to an existing resident by its ``id`` column (a client-chosen
UUID) when given, else by the identity number's blind index in the district, else by
name + birth date + grid. A matched row that changes nothing counts as ``unchanged``,
so running the same file twice creates nothing the second time.

Rows are handled in chunks: one query finds the chunk's existing residents, one
multi-row INSERT stores the new ones, one executemany UPDATE the changed ones, and the
audit events go in with one multi-row INSERT too.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Table, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.errors import ValidationFailed, field_error
from services.core.logging import current_request_id
from services.core.org.models import OrgUnit
from services.core.residents.identity import IdType, Sex, check_identity
from services.core.residents.models import ID_NUMBER, PHONE, KeyPopulation, Resident, ResidentTag, TagSource
from services.core.residents.schemas import ImportRowError, ImportSummary
from services.core.residents.service import _check_tag, seal_id_number, seal_phone
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.text import Date, RequestModel

MAX_ROWS = 200_000
CHUNK = 2_000
COLUMNS = (
    "id",
    "grid_code",
    "name",
    "sex",
    "birth_on",
    "id_type",
    "id_number",
    "phone",
    "address",
    "household_code",
    "tags",
)
_UPDATABLE = (
    "grid_id",
    "name",
    "sex",
    "birth_on",
    "id_type",
    "id_number_enc",
    "id_number_bidx",
    "id_number_masked",
    "phone_enc",
    "phone_bidx",
    "phone_masked",
    "address",
    "household_code",
)


class ImportRow(RequestModel):
    """One row as read from the file, before the identity checks (no control characters, like any body)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: uuid.UUID | None = None
    grid_code: str = Field(min_length=15, max_length=15)
    name: str = Field(min_length=1, max_length=50)
    sex: Sex | None = None
    birth_on: Date | None = None
    id_type: IdType | None = None
    id_number: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=200)
    household_code: str | None = Field(default=None, max_length=64)
    tags: list[KeyPopulation] = Field(default_factory=list, max_length=9)


@dataclass
class _Checked:
    row: int
    values: dict[str, Any]
    tags: list[KeyPopulation]
    client_id: uuid.UUID | None


@dataclass
class _Totals:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)


def read_jsonl(content: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, object) per non-blank line; a string instead of an object is that row's error."""
    for number, line in enumerate(content.decode("utf-8-sig", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield number, "not valid JSON"
            continue
        yield number, value if isinstance(value, dict) else "each line must be a JSON object"


def read_xlsx(content: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, object) per data row of the first sheet; the first row names the columns."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise field_error("body.file", "not a readable .xlsx workbook") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return
    names = [str(h).strip() if h is not None else "" for h in header]
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        raise field_error("body.file", f"unknown columns: {', '.join(unknown[:5])}")
    for number, cells in enumerate(rows, start=1):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        record: dict[str, Any] = {}
        for name, cell in zip(names, cells, strict=False):
            if not name or cell is None or str(cell).strip() == "":
                continue
            if isinstance(cell, datetime):
                cell = cell.date()
            if name == "tags":
                cell = [t.strip() for t in str(cell).replace("，", ",").split(",") if t.strip()]
            elif name in ("id_number", "phone", "grid_code", "id_type") and not isinstance(cell, str):
                cell = str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell)
            record[name] = cell
        book_row: dict[str, Any] | str = record
        yield number, book_row
    book.close()


async def import_rows(
    db: AsyncSession,
    principal: Principal,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    *,
    pii: PiiCipher,
) -> ImportSummary:
    """Store every good row (created or updated), skip and list the bad ones."""
    totals = _Totals()
    chunk: list[tuple[int, dict[str, Any] | str]] = []
    count = 0
    grids: dict[str, OrgUnit | None] = {}
    seen: dict[bytes | uuid.UUID | tuple[Any, ...], int] = {}
    for item in rows:
        count += 1
        if count > MAX_ROWS:
            raise field_error("body.file", f"at most {MAX_ROWS} rows per import")
        chunk.append(item)
        if len(chunk) >= CHUNK:
            await _import_chunk(db, principal, chunk, pii=pii, grids=grids, seen=seen, totals=totals)
            chunk = []
    if chunk:
        await _import_chunk(db, principal, chunk, pii=pii, grids=grids, seen=seen, totals=totals)
    return ImportSummary(
        created=totals.created, updated=totals.updated, unchanged=totals.unchanged, errors=totals.errors[:1000]
    )


async def _import_chunk(
    db: AsyncSession,
    principal: Principal,
    chunk: list[tuple[int, dict[str, Any] | str]],
    *,
    pii: PiiCipher,
    grids: dict[str, OrgUnit | None],
    seen: dict[bytes | uuid.UUID | tuple[Any, ...], int],
    totals: _Totals,
) -> None:
    parsed: list[tuple[int, ImportRow]] = []
    for number, raw in chunk:
        if isinstance(raw, str):
            totals.errors.append(ImportRowError(row=number, field="row", message=raw))
            continue
        try:
            parsed.append((number, ImportRow.model_validate(raw)))
        except PydanticValidationError as exc:
            for e in exc.errors()[:5]:
                loc = ".".join(str(p) for p in e["loc"]) or "row"
                totals.errors.append(ImportRowError(row=number, field=loc, message=e["msg"]))
    await _resolve_grids(db, principal, {r.grid_code for _, r in parsed} - grids.keys(), grids)

    checked: list[_Checked] = []
    for number, row in parsed:
        try:
            checked.append(_check_row(number, row, grids, pii))
        except ValidationFailed as exc:
            for e in exc.extra["errors"]:
                totals.errors.append(ImportRowError(row=number, field=e["field"], message=e["message"]))
            continue
    # A file that names the same person twice: the first row wins, the others are errors.
    unique: list[_Checked] = []
    for c in checked:
        key = _match_key(c)
        if key in seen:
            totals.errors.append(ImportRowError(row=c.row, field="row", message=f"same resident as row {seen[key]}"))
            continue
        seen[key] = c.row
        unique.append(c)
    if not unique:
        return

    existing = await _existing(db, principal, unique)
    now = clock.now()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    new_tags: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    request_id = current_request_id()
    open_tags = await _open_tags(db, [r.id for r in existing.values() if isinstance(r, Resident)])
    for c in unique:
        found = existing.get(("id", c.client_id)) if c.client_id else None
        found = found or existing.get(_match_key(c))
        if found is None:
            resident_id = c.client_id or uuid.uuid4()
            values = _sealed(c, resident_id, pii)
            inserts.append({"id": resident_id, "version": 1, "created_at": now, "updated_at": now, **values})
            new_tags += _tags_for(resident_id, values["district_id"], c, set(), now)
            events.append(_event(principal, "resident.created", resident_id, now, request_id, {"via": "import"}))
            totals.created += 1
            continue
        if isinstance(found, _OutOfScope) or found.district_id != c.values["district_id"]:
            message = (
                "this identity number is already registered in the district, outside your area"
                if isinstance(found, _OutOfScope)
                else ("belongs to another district")
            )
            totals.errors.append(
                ImportRowError(row=c.row, field="id_number" if not c.client_id else "id", message=message)
            )
            continue
        values = _keep_what_the_row_leaves_out(c, _sealed(c, found.id, pii, current=found), found)
        changed = sorted(k for k in _UPDATABLE if getattr(found, k) != values[k])
        tags = _tags_for(found.id, found.district_id, c, open_tags.get(found.id, set()), now)
        if not changed and not tags:
            totals.unchanged += 1
            continue
        new_tags += tags
        updates.append(
            {"b_id": found.id, "b_version": found.version + 1, "updated_at": now, **{k: values[k] for k in _UPDATABLE}}
        )
        fields = sorted({k.removesuffix("_enc").removesuffix("_bidx").removesuffix("_masked") for k in changed})
        events.append(
            _event(principal, "resident.updated", found.id, now, request_id, {"via": "import", "fields": fields})
        )
        totals.updated += 1
    if inserts:
        await db.execute(insert(_table(Resident)), inserts)
    if updates:
        table = _table(Resident)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(version=bindparam("b_version"), **{k: bindparam(k) for k in ("updated_at", *_UPDATABLE)})
        )
        await db.execute(stmt, updates, execution_options={"synchronize_session": False})
    if new_tags:
        await db.execute(insert(_table(ResidentTag)), new_tags)
    if events:
        await db.execute(insert(_table(AuditEvent)), events)


async def _resolve_grids(
    db: AsyncSession, principal: Principal, codes: set[str], grids: dict[str, OrgUnit | None]
) -> None:
    if not codes:
        return
    found = await db.scalars(
        select(OrgUnit).where(
            OrgUnit.code.in_(codes),
            OrgUnit.kind == "grid",
            scope_clause(principal, Permission.RESIDENTS_IMPORT, OrgUnit.path),
        )
    )
    by_code = {u.code: u for u in found}
    for code in codes:
        grids[code] = by_code.get(code)


def _check_row(number: int, row: ImportRow, grids: dict[str, OrgUnit | None], pii: PiiCipher) -> _Checked:
    errors: list[dict[str, Any]] = []
    grid = grids.get(row.grid_code)
    if grid is None:
        errors.append({"field": "grid_code", "message": "no such grid in your scope"})
    # An empty cell says nothing (a thin re-import keeps what is stored), so a type without its number is ignored.
    identity = check_identity(
        prefix="",
        id_type=row.id_type if row.id_number else None,
        id_number=row.id_number or None,
        sex=row.sex,
        birth_on=row.birth_on,
        phone=row.phone or None,
    )
    errors.extend(identity.errors)
    if errors:
        raise ValidationFailed("row has errors", errors=errors)
    assert grid is not None  # noqa: S101 - checked above
    sex, birth_on, number_norm, phone = identity.sex, identity.birth_on, identity.id_number, identity.phone
    assert birth_on is not None  # noqa: S101 - required above
    since = clock.now().date()
    for i, population in enumerate(row.tags):
        _check_tag((sex or Sex.UNKNOWN).value, birth_on, population, since, None, f"tags.{i}")
    values: dict[str, Any] = {
        "district_id": grid.district_id,
        "grid_id": grid.id,
        "name": row.name,
        "sex": (sex or Sex.UNKNOWN).value,
        "birth_on": birth_on,
        "id_type": identity.id_type.value if number_norm and identity.id_type else None,
        "id_number": number_norm,
        "id_number_bidx": ID_NUMBER.index(pii, number_norm) if number_norm else None,
        "phone": phone,
        "phone_bidx": PHONE.index(pii, phone) if phone else None,
        "address": row.address or None,
        "household_code": row.household_code or None,
    }
    return _Checked(number, values, list(dict.fromkeys(row.tags)), row.id)


def _match_key(c: _Checked) -> bytes | uuid.UUID | tuple[Any, ...]:
    if c.client_id is not None:
        return c.client_id
    if c.values["id_number_bidx"] is not None:
        return (c.values["district_id"], c.values["id_number_bidx"])
    return (c.values["grid_id"], c.values["name"], c.values["birth_on"])


@dataclass(frozen=True)
class _OutOfScope:
    """A matching resident the importer may not touch: the row is refused, nothing leaks."""

    id: uuid.UUID
    district_id: uuid.UUID


async def _existing(db: AsyncSession, principal: Principal, rows: list[_Checked]) -> dict[Any, Resident]:
    ids = [c.client_id for c in rows if c.client_id]
    bidx = [(c.values["district_id"], c.values["id_number_bidx"]) for c in rows if c.values["id_number_bidx"]]
    people = [
        (c.values["grid_id"], c.values["name"], c.values["birth_on"])
        for c in rows
        if not c.client_id and not c.values["id_number_bidx"]
    ]
    clauses = []
    if ids:
        clauses.append(Resident.id.in_(ids))
    if bidx:
        clauses.append(Resident.id_number_bidx.in_([b for _, b in bidx]))  # district checked per row below
    if people:
        clauses.append(tuple_(Resident.grid_id, Resident.name, Resident.birth_on).in_(people))
    in_scope = scope_clause(principal, Permission.RESIDENTS_IMPORT, OrgUnit.path).label("in_scope")
    found = (
        await db.execute(
            select(Resident, in_scope)
            .join(OrgUnit, OrgUnit.id == Resident.grid_id)
            .where(or_(*clauses))
            .execution_options(populate_existing=True)
        )
    ).all()
    out: dict[Any, Resident] = {}
    for r, visible in found:
        if not visible:
            r = _OutOfScope(r.id, r.district_id)  # type: ignore[assignment]
            out[("id", r.id)] = r
            continue
        out[("id", r.id)] = r
        out[r.id] = r
        if r.id_number_bidx is not None:
            out[(r.district_id, r.id_number_bidx)] = r
        out.setdefault((r.grid_id, r.name, r.birth_on), r)
    for r, visible in found:
        if not visible and r.id_number_bidx is not None:
            out.setdefault((r.district_id, r.id_number_bidx), _OutOfScope(r.id, r.district_id))  # type: ignore[arg-type]
    return out


async def _open_tags(db: AsyncSession, resident_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    if not resident_ids:
        return {}
    rows = await db.execute(
        select(ResidentTag.resident_id, ResidentTag.population).where(
            ResidentTag.resident_id.in_(resident_ids), ResidentTag.until_on.is_(None)
        )
    )
    out: dict[uuid.UUID, set[str]] = {}
    for resident_id, population in rows:
        out.setdefault(resident_id, set()).add(population)
    return out


def _sealed(c: _Checked, resident_id: uuid.UUID, pii: PiiCipher, current: Resident | None = None) -> dict[str, Any]:
    """Column values; an unchanged number or phone keeps its ciphertext (no churn on re-runs)."""
    v = dict(c.values)
    for name, seal in (("id_number", seal_id_number), ("phone", seal_phone)):
        text, enc, masked = v.pop(name), f"{name}_enc", f"{name}_masked"
        if text is None:
            v.update({enc: None, masked: None})
        elif current is not None and getattr(current, f"{name}_bidx") == v[f"{name}_bidx"]:
            v.update({enc: getattr(current, enc), masked: getattr(current, masked)})
        else:
            sealed = seal(pii, resident_id, text)
            v.update({enc: sealed.enc, masked: sealed.masked})
    return v


def _keep_what_the_row_leaves_out(c: _Checked, values: dict[str, Any], current: Resident) -> dict[str, Any]:
    """An import updates what a row says; an empty cell keeps what is stored (a thin file wipes nothing)."""
    if c.values.get("id_number") is None:
        for key in ("id_type", "id_number_enc", "id_number_bidx", "id_number_masked"):
            values[key] = getattr(current, key)
    if c.values.get("phone") is None:
        for key in ("phone_enc", "phone_bidx", "phone_masked"):
            values[key] = getattr(current, key)
    for key in ("address", "household_code"):
        if values.get(key) is None:
            values[key] = getattr(current, key)
    return values


def _tags_for(
    resident_id: uuid.UUID, district_id: uuid.UUID, c: _Checked, already: set[str], now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "resident_id": resident_id,
            "district_id": district_id,
            "population": p.value,
            "since_on": now.date(),
            "until_on": None,
            "source": TagSource.IMPORT.value,
            "reported_by": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for p in c.tags
        if p.value not in already
    ]


def _event(
    principal: Principal,
    action: str,
    resident_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "actor_id": principal.user_id,
        "action": action,
        "subject_type": "resident",
        "subject_id": resident_id,
        "request_id": request_id,
        "details": details,
    }


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table
