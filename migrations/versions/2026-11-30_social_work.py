"""Medical social work: institutions' social-work departments (one per institution).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "social_work_department",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_station", sa.Boolean(), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=True),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_social_work_department_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_social_work_department_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_social_work_department_org_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_work_department")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_social_work_department_institution_id")),
    )
    op.create_index(
        op.f("ix_social_work_department_district_id"), "social_work_department", ["district_id"], unique=False
    )
    op.create_index(
        op.f("ix_social_work_department_org_unit_id"), "social_work_department", ["org_unit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_social_work_department_org_unit_id"), table_name="social_work_department")
    op.drop_index(op.f("ix_social_work_department_district_id"), table_name="social_work_department")
    op.drop_table("social_work_department")
