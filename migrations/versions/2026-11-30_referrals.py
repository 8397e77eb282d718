"""Two-way referral: referrals, the identifiers hospital systems give them, the per-institution change
feed (and its counters), and ``deadline.paused_at`` (a clock stands still while its subject is on hold).

The downgrade also drops the referral clocks and the referral history rows (``record_transition``),
which would otherwise name subjects that no longer exist.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 03:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_feed_counter",
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_referral_feed_counter_institution_id_institution")
        ),
        sa.PrimaryKeyConstraint("institution_id", name=op.f("pk_referral_feed_counter")),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("grid_id", sa.Uuid(), nullable=False),
        sa.Column("village_id", sa.Uuid(), nullable=False),
        sa.Column("town_id", sa.Uuid(), nullable=False),
        sa.Column("signing_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("from_institution_id", sa.Uuid(), nullable=False),
        sa.Column("from_team_id", sa.Uuid(), nullable=True),
        sa.Column("from_doctor", sa.String(length=100), nullable=True),
        sa.Column("to_institution_id", sa.Uuid(), nullable=False),
        sa.Column("to_team_id", sa.Uuid(), nullable=True),
        sa.Column("to_department", sa.String(length=100), nullable=True),
        sa.Column("department_kind", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("summary_enc", sa.LargeBinary(), nullable=True),
        sa.Column("consent_by", sa.String(length=16), nullable=False),
        sa.Column("consent_method", sa.String(length=16), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_recorded_by", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_department", sa.String(length=100), nullable=True),
        sa.Column("appointment_doctor", sa.String(length=100), nullable=True),
        sa.Column("appointment_bed", sa.String(length=50), nullable=True),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("decline_note", sa.String(length=500), nullable=True),
        sa.Column("hold_reason", sa.String(length=500), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_summary_enc", sa.LargeBinary(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_over_by", sa.Uuid(), nullable=True),
        sa.Column("first_follow_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_channel", sa.String(length=16), nullable=True),
        sa.Column("follow_up_outcome", sa.String(length=16), nullable=True),
        sa.Column("follow_up_notes_enc", sa.LargeBinary(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decline_reason is null or decline_reason in ('no_capacity', 'not_indicated', 'patient_refused', 'referred_elsewhere', 'not_our_area', 'other')",
            name=op.f("ck_referral_decline_reason"),
        ),
        sa.CheckConstraint(
            "direction = 'downward' or from_team_id is not null", name=op.f("ck_referral_upward_has_a_team")
        ),
        sa.CheckConstraint(
            "direction = 'upward' or to_team_id is not null", name=op.f("ck_referral_downward_has_a_team")
        ),
        sa.CheckConstraint("direction in ('upward', 'downward')", name=op.f("ck_referral_direction")),
        sa.CheckConstraint(
            "status in ('requested', 'received', 'accepted', 'declined', 'on_hold', 'arrived', 'completed', 'no_show', 'cancelled', 'taken_over', 'followed_up')",
            name=op.f("ck_referral_status"),
        ),
        sa.CheckConstraint("urgency in ('routine', 'urgent')", name=op.f("ck_referral_urgency")),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by"], ["app_user.id"], name=op.f("fk_referral_consent_recorded_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["from_institution_id"], ["institution.id"], name=op.f("fk_referral_from_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["from_team_id"], ["team.id"], name=op.f("fk_referral_from_team_id_team")),
        sa.ForeignKeyConstraint(["grid_id"], ["org_unit.id"], name=op.f("fk_referral_grid_id_org_unit")),
        sa.ForeignKeyConstraint(["parent_id"], ["referral.id"], name=op.f("fk_referral_parent_id_referral")),
        sa.ForeignKeyConstraint(["requested_by"], ["app_user.id"], name=op.f("fk_referral_requested_by_app_user")),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_referral_resident_id_resident")),
        sa.ForeignKeyConstraint(["signing_id"], ["signing.id"], name=op.f("fk_referral_signing_id_signing")),
        sa.ForeignKeyConstraint(["taken_over_by"], ["app_user.id"], name=op.f("fk_referral_taken_over_by_app_user")),
        sa.ForeignKeyConstraint(
            ["to_institution_id"], ["institution.id"], name=op.f("fk_referral_to_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["to_team_id"], ["team.id"], name=op.f("fk_referral_to_team_id_team")),
        sa.ForeignKeyConstraint(["town_id"], ["org_unit.id"], name=op.f("fk_referral_town_id_org_unit")),
        sa.ForeignKeyConstraint(["village_id"], ["org_unit.id"], name=op.f("fk_referral_village_id_org_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    op.create_index("ix_referral_district_id_requested_at", "referral", ["district_id", "requested_at"], unique=False)
    op.create_index(
        "ix_referral_from_institution_id_requested_at",
        "referral",
        ["from_institution_id", "requested_at"],
        unique=False,
    )
    op.create_index("ix_referral_from_team_id_status", "referral", ["from_team_id", "status"], unique=False)
    op.create_index(op.f("ix_referral_parent_id"), "referral", ["parent_id"], unique=False)
    op.create_index(op.f("ix_referral_resident_id"), "referral", ["resident_id"], unique=False)
    op.create_index(
        "ix_referral_to_institution_id_requested_at", "referral", ["to_institution_id", "requested_at"], unique=False
    )
    op.create_index("ix_referral_to_team_id_status", "referral", ["to_team_id", "status"], unique=False)
    op.create_index("ix_referral_town_id_requested_at", "referral", ["town_id", "requested_at"], unique=False)
    op.create_table(
        "referral_change",
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_referral_change_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_change_referral_id_referral"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("institution_id", "seq", name=op.f("pk_referral_change")),
    )
    op.create_index(op.f("ix_referral_change_referral_id"), "referral_change", ["referral_id"], unique=False)
    op.create_table(
        "referral_identifier",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["app_user.id"], name=op.f("fk_referral_identifier_assigned_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_identifier_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_identifier")),
        sa.UniqueConstraint("system", "value", name=op.f("uq_referral_identifier_system_value")),
    )
    op.create_index(op.f("ix_referral_identifier_referral_id"), "referral_identifier", ["referral_id"], unique=False)
    op.add_column("deadline", sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("delete from deadline where subject_type = 'referral'")
    op.execute("delete from record_transition where subject_type = 'referral'")
    op.drop_column("deadline", "paused_at")
    op.drop_index(op.f("ix_referral_identifier_referral_id"), table_name="referral_identifier")
    op.drop_table("referral_identifier")
    op.drop_index(op.f("ix_referral_change_referral_id"), table_name="referral_change")
    op.drop_table("referral_change")
    op.drop_index("ix_referral_town_id_requested_at", table_name="referral")
    op.drop_index("ix_referral_to_team_id_status", table_name="referral")
    op.drop_index("ix_referral_to_institution_id_requested_at", table_name="referral")
    op.drop_index(op.f("ix_referral_resident_id"), table_name="referral")
    op.drop_index(op.f("ix_referral_parent_id"), table_name="referral")
    op.drop_index("ix_referral_from_team_id_status", table_name="referral")
    op.drop_index("ix_referral_from_institution_id_requested_at", table_name="referral")
    op.drop_index("ix_referral_district_id_requested_at", table_name="referral")
    op.drop_table("referral")
    op.drop_table("referral_feed_counter")
