"""Removals are kept for phones a set time, then pruned; a cursor older than the pruned ones starts over.

``resident_tombstone.created_at`` says when a removal happened (the writing transaction's start);
``sync_retention`` says, per sync stream, the last removal pruned in sync order (``change_xid``, ``id``): a
cursor before it may have missed a removal that is gone, so the sync answers it 410 and the phone syncs
from the beginning.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "resident_tombstone",
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_index("ix_resident_tombstone_created_at", "resident_tombstone", ["created_at"], unique=False)
    op.create_table(
        "sync_retention",
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("pruned_through_xid", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through_id", sa.Uuid(), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_sync_retention")),
    )


def downgrade() -> None:
    op.drop_table("sync_retention")
    op.drop_index("ix_resident_tombstone_created_at", table_name="resident_tombstone")
    op.drop_column("resident_tombstone", "created_at")
