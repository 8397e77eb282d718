"""People lent across institutions (``posting``, ``team_member.posting_id``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 04:45:44.548223+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "posting",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("home_institution_id", sa.Uuid(), nullable=False),
        sa.Column("host_institution_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("full_time", sa.Boolean(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('county_hired','social_partner')", name=op.f("ck_posting_kind")),
        sa.CheckConstraint("ends_at is null or ends_at > starts_at", name=op.f("ck_posting_period")),
        sa.CheckConstraint("home_institution_id <> host_institution_id", name=op.f("ck_posting_not_home")),
        sa.ForeignKeyConstraint(
            ["home_institution_id"], ["institution.id"], name=op.f("fk_posting_home_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["host_institution_id"], ["institution.id"], name=op.f("fk_posting_host_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_posting_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting")),
    )
    op.create_index(op.f("ix_posting_district_id"), "posting", ["district_id"], unique=False)
    op.create_index(op.f("ix_posting_home_institution_id"), "posting", ["home_institution_id"], unique=False)
    op.create_index(op.f("ix_posting_host_institution_id"), "posting", ["host_institution_id"], unique=False)
    op.create_index("ix_posting_person_id_starts_at", "posting", ["person_id", "starts_at"], unique=False)
    op.add_column("team_member", sa.Column("posting_id", sa.Uuid(), nullable=True))
    op.create_index(op.f("ix_team_member_posting_id"), "team_member", ["posting_id"], unique=False)
    op.create_foreign_key(op.f("fk_team_member_posting_id_posting"), "team_member", "posting", ["posting_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint(op.f("fk_team_member_posting_id_posting"), "team_member", type_="foreignkey")
    op.drop_index(op.f("ix_team_member_posting_id"), table_name="team_member")
    op.drop_column("team_member", "posting_id")
    op.drop_index("ix_posting_person_id_starts_at", table_name="posting")
    op.drop_index(op.f("ix_posting_host_institution_id"), table_name="posting")
    op.drop_index(op.f("ix_posting_home_institution_id"), table_name="posting")
    op.drop_index(op.f("ix_posting_district_id"), table_name="posting")
    op.drop_table("posting")
