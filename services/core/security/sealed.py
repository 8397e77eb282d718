"""Every encrypted column, declared once beside its model.

A domain calls ``sealed(Model.x_enc, context="domain.x", ...)`` in its ``models.py``; the
returned ``SealedField`` is then the only way that domain seals, opens and indexes the
value, so the associated data (``<context>:<row id>``) cannot drift between the code that
writes a column and the code that rotates it. ``gridcare rotate-pii-keys`` and "which key
versions are still in use" (``core.security.rotation``) walk this registry instead of
naming tables, so a new sealed column is rotated the day it is declared, and a test fails
for any ``*_enc`` column in the metadata that was never declared.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, LargeBinary, MetaData, Table, inspect
from sqlalchemy.orm import QueryableAttribute

from services.core.security.pii import PiiCipher


@dataclass(frozen=True)
class SealedField:
    """One AES-GCM column: where it lives, what binds its ciphertext, and its blind index if any."""

    model: type[Any]
    column: str
    context: str
    blind_index: str | None = None
    index_kind: str | None = None

    @property
    def table(self) -> Table:
        """The mapped table holding the column."""
        table = inspect(self.model).local_table
        assert isinstance(table, Table)  # noqa: S101 - every model here maps one table
        return table

    @property
    def name(self) -> str:
        """``table.column``, for reports and errors."""
        return f"{self.table.name}.{self.column}"

    @property
    def key(self) -> Column[Any]:
        """The row id the associated data names (the single-column primary key)."""
        (key,) = self.table.primary_key.columns
        return key

    @property
    def ciphertext(self) -> Column[Any]:
        """The ciphertext column itself."""
        return self.table.c[self.column]

    def context_for(self, row_id: uuid.UUID) -> str:
        """The associated data of this column in this row."""
        return f"{self.context}:{row_id}"

    def seal(self, pii: PiiCipher, row_id: uuid.UUID, plaintext: str) -> bytes:
        """Encrypt under the newest key, bound to this column and row."""
        return pii.encrypt(plaintext, context=self.context_for(row_id))

    def open(self, pii: PiiCipher, row_id: uuid.UUID, blob: bytes) -> str:
        """Decrypt a value this field sealed (under any configured key version)."""
        return pii.decrypt(blob, context=self.context_for(row_id))

    def index(self, pii: PiiCipher, normalised: str) -> bytes:
        """The keyed blind index of a normalised value (only for blind-indexed fields)."""
        if self.index_kind is None:
            raise TypeError(f"{self.name} has no blind index")
        return pii.blind_index(self.index_kind, normalised)


_REGISTRY: dict[str, SealedField] = {}


def sealed(
    attribute: QueryableAttribute[Any],
    *,
    context: str,
    blind_index: QueryableAttribute[Any] | None = None,
    index_kind: str | None = None,
) -> SealedField:
    """Declare an encrypted column (call once, in the model's module); returns its field."""
    model = attribute.class_
    if not isinstance(model, type):
        raise TypeError("declare a sealed column on its mapped class, not an alias")
    field = SealedField(
        model=model,
        column=attribute.key,
        context=context,
        blind_index=blind_index.key if blind_index is not None else None,
        index_kind=index_kind,
    )
    if not isinstance(field.ciphertext.type, LargeBinary):
        raise TypeError(f"{field.name} is not a LargeBinary column")
    if (blind_index is None) != (index_kind is None):
        raise TypeError(f"{field.name}: a blind index needs both its column and its kind")
    if len(field.table.primary_key.columns) != 1:
        raise TypeError(f"{field.name}: the associated data names a single-column primary key")
    for other in _REGISTRY.values():
        # A shared context would let a ciphertext copied from one column open in the other.
        if other.context == context and other.name != field.name:
            raise ValueError(f"{field.name} and {other.name} both use the context {context!r}")
    existing = _REGISTRY.get(field.name)
    if existing is not None and existing != field:
        raise ValueError(f"{field.name} is declared twice, differently")
    _REGISTRY[field.name] = field
    return field


def registered() -> list[SealedField]:
    """Every declared field, by table and column (complete once ``services.core.models`` is imported)."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def unregistered_columns(metadata: MetaData) -> list[str]:
    """``table.column`` of every ``*_enc`` binary column in ``metadata`` that no ``sealed()`` declares."""
    return sorted(
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_enc")
        and isinstance(column.type, LargeBinary)
        and f"{table.name}.{column.name}" not in _REGISTRY
    )
