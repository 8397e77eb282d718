"""People lent across institutions (``posting``, ``team_member.posting_id``); volunteers of social-work
departments, their shifts and hours, and group and community work sessions.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 04:45:44.548223+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0015"
down_revision: str | None = "0014"
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

    op.create_table('group_session',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('promotion_topic', sa.String(length=32), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('facilitator_user_id', sa.Uuid(), nullable=False),
    sa.Column('participant_count', sa.Integer(), nullable=False),
    sa.Column('named_participants', postgresql.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('village_id', sa.Uuid(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('group','community')", name=op.f('ck_group_session_kind')),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_group_session_minutes')),
    sa.CheckConstraint('participant_count >= 0', name=op.f('ck_group_session_participant_count')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_group_session_created_by_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_group_session_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['facilitator_user_id'], ['app_user.id'], name=op.f('fk_group_session_facilitator_user_id_app_user')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_group_session_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_group_session_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['village_id'], ['org_unit.id'], name=op.f('fk_group_session_village_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_session'))
    )
    op.create_index(op.f('ix_group_session_department_id'), 'group_session', ['department_id'], unique=False)
    op.create_index('ix_group_session_department_id_held_at', 'group_session', ['department_id', 'held_at'], unique=False)
    op.create_index(op.f('ix_group_session_district_id'), 'group_session', ['district_id'], unique=False)
    op.create_index(op.f('ix_group_session_institution_id'), 'group_session', ['institution_id'], unique=False)
    op.create_index(op.f('ix_group_session_org_unit_id'), 'group_session', ['org_unit_id'], unique=False)
    op.create_index(op.f('ix_group_session_village_id'), 'group_session', ['village_id'], unique=False)
    op.create_table('volunteer',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('skills', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('certificates', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('availability', postgresql.ARRAY(sa.String(length=8)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('paired_user_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_volunteer_created_by_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_volunteer_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_volunteer_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_volunteer_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['paired_user_id'], ['app_user.id'], name=op.f('fk_volunteer_paired_user_id_app_user')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_volunteer_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer')),
    sa.UniqueConstraint('user_id', name=op.f('uq_volunteer_user_id'))
    )
    op.create_index(op.f('ix_volunteer_department_id'), 'volunteer', ['department_id'], unique=False)
    op.create_index(op.f('ix_volunteer_district_id'), 'volunteer', ['district_id'], unique=False)
    op.create_index(op.f('ix_volunteer_institution_id'), 'volunteer', ['institution_id'], unique=False)
    op.create_index(op.f('ix_volunteer_org_unit_id'), 'volunteer', ['org_unit_id'], unique=False)
    op.create_table('volunteer_shift',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('volunteer_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('offered','cancelled') or volunteer_id is not null", name=op.f('ck_volunteer_shift_volunteer_when_given')),
    sa.CheckConstraint("status in ('offered','scheduled','attended','no_show','cancelled')", name=op.f('ck_volunteer_shift_status')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_volunteer_shift_period')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_volunteer_shift_created_by_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_volunteer_shift_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_volunteer_shift_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_volunteer_shift_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteer.id'], name=op.f('fk_volunteer_shift_volunteer_id_volunteer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_shift'))
    )
    op.create_index(op.f('ix_volunteer_shift_department_id'), 'volunteer_shift', ['department_id'], unique=False)
    op.create_index('ix_volunteer_shift_department_id_starts_at', 'volunteer_shift', ['department_id', 'starts_at'], unique=False)
    op.create_index(op.f('ix_volunteer_shift_district_id'), 'volunteer_shift', ['district_id'], unique=False)
    op.create_index(op.f('ix_volunteer_shift_institution_id'), 'volunteer_shift', ['institution_id'], unique=False)
    op.create_index(op.f('ix_volunteer_shift_org_unit_id'), 'volunteer_shift', ['org_unit_id'], unique=False)
    op.create_index(op.f('ix_volunteer_shift_volunteer_id'), 'volunteer_shift', ['volunteer_id'], unique=False)
    op.create_table('volunteer_hours',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('volunteer_id', sa.Uuid(), nullable=False),
    sa.Column('shift_id', sa.Uuid(), nullable=True),
    sa.Column('served_on', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=4, scale=2), nullable=False),
    sa.Column('activity', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.Uuid(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('rejection_reason', sa.String(length=200), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('submitted','verified','rejected')", name=op.f('ck_volunteer_hours_status')),
    sa.CheckConstraint('hours > 0 and hours <= 24', name=op.f('ck_volunteer_hours_hours')),
    sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], name=op.f('fk_volunteer_hours_decided_by_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_volunteer_hours_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_volunteer_hours_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_volunteer_hours_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['shift_id'], ['volunteer_shift.id'], name=op.f('fk_volunteer_hours_shift_id_volunteer_shift')),
    sa.ForeignKeyConstraint(['submitted_by'], ['app_user.id'], name=op.f('fk_volunteer_hours_submitted_by_app_user')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteer.id'], name=op.f('fk_volunteer_hours_volunteer_id_volunteer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_hours'))
    )
    op.create_index(op.f('ix_volunteer_hours_department_id'), 'volunteer_hours', ['department_id'], unique=False)
    op.create_index(op.f('ix_volunteer_hours_district_id'), 'volunteer_hours', ['district_id'], unique=False)
    op.create_index(op.f('ix_volunteer_hours_institution_id'), 'volunteer_hours', ['institution_id'], unique=False)
    op.create_index(op.f('ix_volunteer_hours_org_unit_id'), 'volunteer_hours', ['org_unit_id'], unique=False)
    op.create_index('ix_volunteer_hours_shift_id_live', 'volunteer_hours', ['shift_id'], unique=True, postgresql_where=sa.text("shift_id is not null and status <> 'rejected'"))
    op.create_index('ix_volunteer_hours_status_submitted_at', 'volunteer_hours', ['status', 'submitted_at'], unique=False)
    op.create_index('ix_volunteer_hours_volunteer_id_served_on', 'volunteer_hours', ['volunteer_id', 'served_on'], unique=False)

def downgrade() -> None:
    op.drop_index('ix_volunteer_hours_volunteer_id_served_on', table_name='volunteer_hours')
    op.drop_index('ix_volunteer_hours_status_submitted_at', table_name='volunteer_hours')
    op.drop_index('ix_volunteer_hours_shift_id_live', table_name='volunteer_hours', postgresql_where=sa.text("shift_id is not null and status <> 'rejected'"))
    op.drop_index(op.f('ix_volunteer_hours_org_unit_id'), table_name='volunteer_hours')
    op.drop_index(op.f('ix_volunteer_hours_institution_id'), table_name='volunteer_hours')
    op.drop_index(op.f('ix_volunteer_hours_district_id'), table_name='volunteer_hours')
    op.drop_index(op.f('ix_volunteer_hours_department_id'), table_name='volunteer_hours')
    op.drop_table('volunteer_hours')
    op.drop_index(op.f('ix_volunteer_shift_volunteer_id'), table_name='volunteer_shift')
    op.drop_index(op.f('ix_volunteer_shift_org_unit_id'), table_name='volunteer_shift')
    op.drop_index(op.f('ix_volunteer_shift_institution_id'), table_name='volunteer_shift')
    op.drop_index(op.f('ix_volunteer_shift_district_id'), table_name='volunteer_shift')
    op.drop_index('ix_volunteer_shift_department_id_starts_at', table_name='volunteer_shift')
    op.drop_index(op.f('ix_volunteer_shift_department_id'), table_name='volunteer_shift')
    op.drop_table('volunteer_shift')
    op.drop_index(op.f('ix_volunteer_org_unit_id'), table_name='volunteer')
    op.drop_index(op.f('ix_volunteer_institution_id'), table_name='volunteer')
    op.drop_index(op.f('ix_volunteer_district_id'), table_name='volunteer')
    op.drop_index(op.f('ix_volunteer_department_id'), table_name='volunteer')
    op.drop_table('volunteer')
    op.drop_index(op.f('ix_group_session_village_id'), table_name='group_session')
    op.drop_index(op.f('ix_group_session_org_unit_id'), table_name='group_session')
    op.drop_index(op.f('ix_group_session_institution_id'), table_name='group_session')
    op.drop_index(op.f('ix_group_session_district_id'), table_name='group_session')
    op.drop_index('ix_group_session_department_id_held_at', table_name='group_session')
    op.drop_index(op.f('ix_group_session_department_id'), table_name='group_session')
    op.drop_table('group_session')
    op.drop_constraint(op.f("fk_team_member_posting_id_posting"), "team_member", type_="foreignkey")
    op.drop_index(op.f("ix_team_member_posting_id"), table_name="team_member")
    op.drop_column("team_member", "posting_id")
    op.drop_index("ix_posting_person_id_starts_at", table_name="posting")
    op.drop_index(op.f("ix_posting_host_institution_id"), table_name="posting")
    op.drop_index(op.f("ix_posting_home_institution_id"), table_name="posting")
    op.drop_index(op.f("ix_posting_district_id"), table_name="posting")
    op.drop_table("posting")
