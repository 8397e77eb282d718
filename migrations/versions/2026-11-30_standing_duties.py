"""The plan's standing duties: work days (and their villages or grids), livestreams, yearly submissions,
and the ledger that makes each duty check tell once (``duty_notice``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:48:44.673956+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_notice",
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("duty", "stage", "period_start", "subject_id", name=op.f("pk_duty_notice")),
    )
    op.create_table(
        "duty_submission",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=True),
        sa.Column("attachment_name", sa.String(length=200), nullable=True),
        sa.Column("content", sa.String(length=10000), nullable=True),
        sa.Column("submitted_by", sa.Uuid(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duty in ('roster', 'annual_summary')", name=op.f("ck_duty_submission_duty")),
        sa.CheckConstraint("attachment_name is not null or content is not null", name=op.f("ck_duty_submission_what")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_duty_submission_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_unit.id"], name=op.f("fk_duty_submission_org_unit_id_org_unit")),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["app_user.id"], name=op.f("fk_duty_submission_submitted_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_submission")),
    )
    op.create_index(op.f("ix_duty_submission_district_id"), "duty_submission", ["district_id"], unique=False)
    op.create_index(
        "ix_duty_submission_duty_year_org_unit_id", "duty_submission", ["duty", "year", "org_unit_id"], unique=False
    )
    op.create_table(
        "livestream",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("questions_answered", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_livestream_duration")),
        sa.CheckConstraint("questions_answered >= 0", name=op.f("ck_livestream_questions")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_livestream_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"], name=op.f("fk_livestream_recorded_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_livestream")),
    )
    op.create_index(op.f("ix_livestream_district_id"), "livestream", ["district_id"], unique=False)
    op.create_index(
        "ix_livestream_institution_id_started_at", "livestream", ["institution_id", "started_at"], unique=False
    )
    op.create_table(
        "work_day",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("activities", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("residents_served", sa.Integer(), nullable=False),
        sa.Column("resident_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("residents_served >= 0", name=op.f("ck_work_day_residents_served")),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"], name=op.f("fk_work_day_recorded_by_app_user")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_work_day_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_day")),
    )
    op.create_index(op.f("ix_work_day_district_id"), "work_day", ["district_id"], unique=False)
    op.create_index("ix_work_day_team_id_held_on", "work_day", ["team_id", "held_on"], unique=False)
    op.create_table(
        "work_day_unit",
        sa.Column("work_day_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("village_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_unit.id"], name=op.f("fk_work_day_unit_org_unit_id_org_unit")),
        sa.ForeignKeyConstraint(["village_id"], ["org_unit.id"], name=op.f("fk_work_day_unit_village_id_org_unit")),
        sa.ForeignKeyConstraint(
            ["work_day_id"], ["work_day.id"], name=op.f("fk_work_day_unit_work_day_id_work_day"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("work_day_id", "org_unit_id", name=op.f("pk_work_day_unit")),
    )
    op.create_index(op.f("ix_work_day_unit_org_unit_id"), "work_day_unit", ["org_unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_day_unit_org_unit_id"), table_name="work_day_unit")
    op.drop_table("work_day_unit")
    op.drop_index("ix_work_day_team_id_held_on", table_name="work_day")
    op.drop_index(op.f("ix_work_day_district_id"), table_name="work_day")
    op.drop_table("work_day")
    op.drop_index("ix_livestream_institution_id_started_at", table_name="livestream")
    op.drop_index(op.f("ix_livestream_district_id"), table_name="livestream")
    op.drop_table("livestream")
    op.drop_index("ix_duty_submission_duty_year_org_unit_id", table_name="duty_submission")
    op.drop_index(op.f("ix_duty_submission_district_id"), table_name="duty_submission")
    op.drop_table("duty_submission")
    op.drop_table("duty_notice")
