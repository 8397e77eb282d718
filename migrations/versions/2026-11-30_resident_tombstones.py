"""Residents' delta sync answers removals: ``resident.died_on`` and ``resident_tombstone``, written by triggers.

A resident who moves to a grid outside a phone's area, dies or whose record is deleted leaves a
tombstone in the same transaction (so with the same ``change_xid`` order and commit horizon as the
resident rows): the sync answers it once to the phones whose area held the old grid.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("resident", sa.Column("died_on", sa.Date(), nullable=True))
    op.create_table(
        "resident_tombstone",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("from_path", sa.String(length=200), nullable=False),
        sa.Column("to_path", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column(
            "change_xid", sa.BigInteger(), server_default=sa.text("(pg_current_xact_id()::text)::bigint"), nullable=False
        ),
        sa.CheckConstraint("reason in ('moved_out', 'died', 'deleted')", name=op.f("ck_resident_tombstone_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_tombstone")),
    )
    op.create_index("ix_resident_tombstone_change_xid_id", "resident_tombstone", ["change_xid", "id"], unique=False)
    # After the row changed: a move out of a grid, a death, a deletion each leave one tombstone. A record
    # already removed (dead) leaves none when it moves again; a death undone simply syncs the resident again.
    op.execute(
        """
        create function resident_leave_tombstone() returns trigger language plpgsql as $$
        begin
            if tg_op = 'DELETE' then
                if old.died_on is null then
                    insert into resident_tombstone (resident_id, district_id, from_path, reason)
                    select old.id, old.district_id, path, 'deleted' from org_unit where id = old.grid_id;
                end if;
            elsif new.died_on is not null and old.died_on is null then
                insert into resident_tombstone (resident_id, district_id, from_path, reason)
                select old.id, old.district_id, path, 'died' from org_unit where id = old.grid_id;
            elsif new.grid_id is distinct from old.grid_id and new.died_on is null then
                insert into resident_tombstone (resident_id, district_id, from_path, to_path, reason)
                select old.id, old.district_id, o.path, n.path, 'moved_out'
                from org_unit o, org_unit n where o.id = old.grid_id and n.id = new.grid_id;
            end if;
            return null;
        end $$;
        """
    )
    # Only rows whose grid or death actually changed run the function: a bulk re-import that rewrites
    # unchanged residents pays nothing.
    op.execute(
        "create trigger resident_tombstone_on_update after update of grid_id, died_on on resident for each row "
        "when (old.grid_id is distinct from new.grid_id or old.died_on is distinct from new.died_on) "
        "execute function resident_leave_tombstone()"
    )
    op.execute(
        "create trigger resident_tombstone_on_delete after delete on resident "
        "for each row execute function resident_leave_tombstone()"
    )


def downgrade() -> None:
    op.execute("drop trigger resident_tombstone_on_delete on resident")
    op.execute("drop trigger resident_tombstone_on_update on resident")
    op.execute("drop function resident_leave_tombstone()")
    op.drop_index("ix_resident_tombstone_change_xid_id", table_name="resident_tombstone")
    op.drop_table("resident_tombstone")
    op.drop_column("resident", "died_on")
