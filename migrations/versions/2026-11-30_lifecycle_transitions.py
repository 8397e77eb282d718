"""One history table for every stateful record: ``record_transition`` replaces ``report_transition``.

Each report transition is copied with its subject (``report``, the report id), the action
that made it (derived from the state it reached), and the team it was with in ``details``.
The downgrade copies the reports' rows back; other subjects' history (signings, teams) has
no place in the old schema and is dropped with the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The action that reaches each report state (services/core/reports/lifecycle.py).
_ACTION = """case to_status
    when 'submitted' then 'submit'
    when 'reported_in' then 'report_in'
    when 'followed_up' then 'follow_up'
    when 'intervening' then 'start_intervention'
    when 'closed' then 'close'
    when 'cancelled' then 'cancel'
    else to_status end"""


def upgrade() -> None:
    op.create_table(
        "record_transition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_record_transition_actor_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_transition")),
        sa.UniqueConstraint("seq", name=op.f("uq_record_transition_seq")),
    )
    op.create_index(
        op.f("ix_record_transition_district_id"), "record_transition", ["district_id"], unique=False
    )
    op.create_index(
        "ix_record_transition_subject_type_subject_id_at",
        "record_transition",
        ["subject_type", "subject_id", "at"],
        unique=False,
    )
    op.execute(
        "insert into record_transition"
        " (id, subject_type, subject_id, district_id, action, from_state, to_state, actor_id, at, reason, details)"
        f" select id, 'report', report_id, district_id, {_ACTION}, from_status, to_status, actor_id, at, null,"
        " jsonb_build_object('team_id', team_id::text)"
        " from report_transition order by at, (from_status is not null)"
    )
    op.drop_index("ix_report_transition_report_id_at", table_name="report_transition")
    op.drop_table("report_transition")


def downgrade() -> None:
    op.create_table(
        "report_transition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"], name=op.f("fk_report_transition_actor_id_app_user")),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["sentinel_report.id"],
            name=op.f("fk_report_transition_report_id_sentinel_report"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_report_transition_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_transition")),
    )
    op.create_index("ix_report_transition_report_id_at", "report_transition", ["report_id", "at"], unique=False)
    op.execute(
        "insert into report_transition (id, report_id, district_id, from_status, to_status, actor_id, at, team_id)"
        " select t.id, t.subject_id, t.district_id, t.from_state, t.to_state, t.actor_id, t.at,"
        " (t.details->>'team_id')::uuid"
        " from record_transition t join sentinel_report r on r.id = t.subject_id"
        " where t.subject_type = 'report' order by t.seq"
    )
    op.drop_index("ix_record_transition_subject_type_subject_id_at", table_name="record_transition")
    op.drop_index(op.f("ix_record_transition_district_id"), table_name="record_transition")
    op.drop_table("record_transition")
