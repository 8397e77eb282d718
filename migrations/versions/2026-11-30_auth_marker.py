"""The revocation marker: ``auth_marker.seq``, bumped by PostgreSQL whenever a login is revoked, an account
changes or a grant is given, changed or ended (statement triggers, so every writer counts, tools included).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 05:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a kept principal depends on: the login (revoked), the account (active, name, kind, secret) and the grants.
TRIGGERS = {
    "auth_marker_session": "after update of revoked_at or delete on auth_session",
    "auth_marker_user": "after update of is_active, username, kind, secret_hash or delete on app_user",
    "auth_marker_grant": "after insert or update or delete on role_grant",
}


def upgrade() -> None:
    op.create_table(
        "auth_marker",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_auth_marker_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_marker")),
    )
    op.execute("insert into auth_marker (id, seq) values (1, 0)")
    op.execute(
        """
        create function gridcare_auth_changed() returns trigger language plpgsql as $$
        begin
            update auth_marker set seq = seq + 1 where id = 1;
            return null;
        end $$
        """
    )
    for name, when in TRIGGERS.items():
        op.execute(f"create trigger {name} {when} for each statement execute function gridcare_auth_changed()")


def downgrade() -> None:
    for name, when in TRIGGERS.items():
        op.execute(f"drop trigger {name} on {when.rsplit(' ', 1)[1]}")
    op.execute("drop function gridcare_auth_changed()")
    op.drop_table("auth_marker")
