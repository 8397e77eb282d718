"""Medical social work: institutions' social-work departments (one per institution); cases with their
social workers, assessments, plan tasks, activity notes and sealed confidential notes; aid applications;
discharge transfers.

The downgrade also drops the social-work clocks and history rows (``deadline``, ``record_transition``),
which would otherwise name subjects that no longer exist.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
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
    op.create_table('social_work_case',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_report_id', sa.Uuid(), nullable=True),
    sa.Column('source_referral_id', sa.Uuid(), nullable=True),
    sa.Column('referred_by', sa.String(length=100), nullable=True),
    sa.Column('resident_id', sa.Uuid(), nullable=True),
    sa.Column('grid_id', sa.Uuid(), nullable=True),
    sa.Column('client_name_enc', sa.LargeBinary(), nullable=True),
    sa.Column('client_name_masked', sa.String(length=60), nullable=False),
    sa.Column('client_id_type', sa.String(length=2), nullable=True),
    sa.Column('client_id_number_enc', sa.LargeBinary(), nullable=True),
    sa.Column('client_id_number_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('client_id_number_masked', sa.String(length=40), nullable=True),
    sa.Column('client_sex', sa.String(length=8), nullable=True),
    sa.Column('client_birth_on', sa.Date(), nullable=True),
    sa.Column('ward', sa.String(length=100), nullable=True),
    sa.Column('service_areas', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=False),
    sa.Column('plan_goals', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('plan_submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_review_comment', sa.String(length=1000), nullable=True),
    sa.Column('closure_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure_review_comment', sa.String(length=1000), nullable=True),
    sa.Column('goals_met', sa.String(length=16), nullable=True),
    sa.Column('client_satisfaction', sa.Integer(), nullable=True),
    sa.Column('closing_summary', sa.String(length=2000), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("risk_level in ('low', 'medium', 'high', 'critical')", name=op.f('ck_social_work_case_risk_level')),
    sa.CheckConstraint("source in ('ward_referral', 'self', 'family', 'sentinel_report', 'referral', 'community_organisation')", name=op.f('ck_social_work_case_source')),
    sa.CheckConstraint("status in ('intake', 'assessing', 'planning', 'active', 'closure_requested', 'closed', 'reopened')", name=op.f('ck_social_work_case_status')),
    sa.CheckConstraint('client_satisfaction is null or client_satisfaction between 1 and 5', name=op.f('ck_social_work_case_satisfaction')),
    sa.CheckConstraint('resident_id is not null or client_name_enc is not null', name=op.f('ck_social_work_case_has_a_client')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_social_work_case_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['grid_id'], ['org_unit.id'], name=op.f('fk_social_work_case_grid_id_org_unit')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_social_work_case_institution_id_institution')),
    sa.ForeignKeyConstraint(['opened_by'], ['app_user.id'], name=op.f('fk_social_work_case_opened_by_app_user')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_social_work_case_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_social_work_case_resident_id_resident')),
    sa.ForeignKeyConstraint(['source_referral_id'], ['referral.id'], name=op.f('fk_social_work_case_source_referral_id_referral')),
    sa.ForeignKeyConstraint(['source_report_id'], ['sentinel_report.id'], name=op.f('fk_social_work_case_source_report_id_sentinel_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_case'))
    )
    op.create_index(op.f('ix_social_work_case_client_id_number_bidx'), 'social_work_case', ['client_id_number_bidx'], unique=False)
    op.create_index('ix_social_work_case_department_id_opened_at', 'social_work_case', ['department_id', 'opened_at'], unique=False)
    op.create_index('ix_social_work_case_district_id_opened_at', 'social_work_case', ['district_id', 'opened_at'], unique=False)
    op.create_index('ix_social_work_case_institution_id_opened_at', 'social_work_case', ['institution_id', 'opened_at'], unique=False)
    op.create_index(op.f('ix_social_work_case_resident_id'), 'social_work_case', ['resident_id'], unique=False)
    op.create_table('social_work_activity',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('happened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('participants', postgresql.ARRAY(sa.String(length=50)), nullable=False),
    sa.Column('summary', sa.String(length=2000), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("mode in ('individual', 'family', 'group', 'community')", name=op.f('ck_social_work_activity_mode')),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_social_work_activity_minutes')),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_activity_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], name=op.f('fk_social_work_activity_recorded_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_activity'))
    )
    op.create_index(op.f('ix_social_work_activity_case_id'), 'social_work_activity', ['case_id'], unique=False)
    op.create_table('social_work_aid_application',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('programme', sa.String(length=100), nullable=False),
    sa.Column('amount_requested', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('documents', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('amount_approved', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('medical_aid', 'charity')", name=op.f('ck_social_work_aid_application_kind')),
    sa.CheckConstraint("status in ('drafted', 'submitted', 'approved', 'rejected', 'delivered', 'withdrawn')", name=op.f('ck_social_work_aid_application_status')),
    sa.CheckConstraint('amount_approved is null or amount_approved > 0', name=op.f('ck_social_work_aid_application_amount_approved')),
    sa.CheckConstraint('amount_requested > 0', name=op.f('ck_social_work_aid_application_amount_requested')),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_aid_application_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_social_work_aid_application_created_by_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_social_work_aid_application_department_id_social_work_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_aid_application'))
    )
    op.create_index(op.f('ix_social_work_aid_application_case_id'), 'social_work_aid_application', ['case_id'], unique=False)
    op.create_index('ix_social_work_aid_application_department_id_created_at', 'social_work_aid_application', ['department_id', 'created_at'], unique=False)
    op.create_table('social_work_assessment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('domains', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('instrument', sa.String(length=50), nullable=True),
    sa.Column('score', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('risk_level', sa.String(length=16), nullable=False),
    sa.Column('findings', sa.String(length=2000), nullable=True),
    sa.Column('assessed_by', sa.Uuid(), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessed_by'], ['app_user.id'], name=op.f('fk_social_work_assessment_assessed_by_app_user')),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_assessment_case_id_social_work_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_assessment'))
    )
    op.create_index(op.f('ix_social_work_assessment_case_id'), 'social_work_assessment', ['case_id'], unique=False)
    op.create_table('social_work_case_worker',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('lead', sa.Boolean(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_case_worker_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_social_work_case_worker_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_case_worker')),
    sa.UniqueConstraint('case_id', 'user_id', name=op.f('uq_social_work_case_worker_case_id_user_id'))
    )
    op.create_index('ix_social_work_case_worker_user_id_case_id', 'social_work_case_worker', ['user_id', 'case_id'], unique=False)
    op.create_table('social_work_confidential_note',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('written_by', sa.Uuid(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_confidential_note_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['written_by'], ['app_user.id'], name=op.f('fk_social_work_confidential_note_written_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_confidential_note'))
    )
    op.create_index(op.f('ix_social_work_confidential_note_case_id'), 'social_work_confidential_note', ['case_id'], unique=False)
    op.create_table('social_work_task',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('open', 'done', 'dropped')", name=op.f('ck_social_work_task_status')),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_task_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], name=op.f('fk_social_work_task_owner_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_task'))
    )
    op.create_index(op.f('ix_social_work_task_case_id'), 'social_work_task', ['case_id'], unique=False)
    op.create_table('social_work_transfer',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('department_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('resident_id', sa.Uuid(), nullable=False),
    sa.Column('grid_id', sa.Uuid(), nullable=False),
    sa.Column('village_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('summary_enc', sa.LargeBinary(), nullable=False),
    sa.Column('consent_by', sa.String(length=16), nullable=False),
    sa.Column('consent_method', sa.String(length=16), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('to_team_id', sa.Uuid(), nullable=True),
    sa.Column('to_steward_id', sa.Uuid(), nullable=True),
    sa.Column('to_department_id', sa.Uuid(), nullable=True),
    sa.Column('referral_id', sa.Uuid(), nullable=True),
    sa.Column('discharged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('offered_by', sa.Uuid(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Uuid(), nullable=True),
    sa.Column('receipt_no', sa.String(length=32), nullable=True),
    sa.Column('decline_reason', sa.String(length=500), nullable=True),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_channel', sa.String(length=16), nullable=True),
    sa.Column('follow_up_outcome', sa.String(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("scope in ('case', 'summary')", name=op.f('ck_social_work_transfer_scope')),
    sa.CheckConstraint("status in ('offered', 'accepted', 'declined', 'followed_up', 'cancelled')", name=op.f('ck_social_work_transfer_status')),
    sa.CheckConstraint('to_team_id is not null or to_department_id is not null', name=op.f('ck_social_work_transfer_has_a_receiver')),
    sa.ForeignKeyConstraint(['answered_by'], ['app_user.id'], name=op.f('fk_social_work_transfer_answered_by_app_user')),
    sa.ForeignKeyConstraint(['case_id'], ['social_work_case.id'], name=op.f('fk_social_work_transfer_case_id_social_work_case')),
    sa.ForeignKeyConstraint(['department_id'], ['social_work_department.id'], name=op.f('fk_social_work_transfer_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['grid_id'], ['org_unit.id'], name=op.f('fk_social_work_transfer_grid_id_org_unit')),
    sa.ForeignKeyConstraint(['offered_by'], ['app_user.id'], name=op.f('fk_social_work_transfer_offered_by_app_user')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_social_work_transfer_referral_id_referral')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_social_work_transfer_resident_id_resident')),
    sa.ForeignKeyConstraint(['to_department_id'], ['social_work_department.id'], name=op.f('fk_social_work_transfer_to_department_id_social_work_department')),
    sa.ForeignKeyConstraint(['to_steward_id'], ['person.id'], name=op.f('fk_social_work_transfer_to_steward_id_person')),
    sa.ForeignKeyConstraint(['to_team_id'], ['team.id'], name=op.f('fk_social_work_transfer_to_team_id_team')),
    sa.ForeignKeyConstraint(['village_id'], ['org_unit.id'], name=op.f('fk_social_work_transfer_village_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_work_transfer')),
    sa.UniqueConstraint('receipt_no', name=op.f('uq_social_work_transfer_receipt_no'))
    )
    op.create_index(op.f('ix_social_work_transfer_case_id'), 'social_work_transfer', ['case_id'], unique=False)
    op.create_index('ix_social_work_transfer_district_id_offered_at', 'social_work_transfer', ['district_id', 'offered_at'], unique=False)
    op.create_index('ix_social_work_transfer_to_team_id_status', 'social_work_transfer', ['to_team_id', 'status'], unique=False)


def downgrade() -> None:
    op.execute("delete from deadline where subject_type like 'social_work_%'")
    op.execute("delete from record_transition where subject_type like 'social_work_%'")
    op.drop_index('ix_social_work_transfer_to_team_id_status', table_name='social_work_transfer')
    op.drop_index('ix_social_work_transfer_district_id_offered_at', table_name='social_work_transfer')
    op.drop_index(op.f('ix_social_work_transfer_case_id'), table_name='social_work_transfer')
    op.drop_table('social_work_transfer')
    op.drop_index(op.f('ix_social_work_task_case_id'), table_name='social_work_task')
    op.drop_table('social_work_task')
    op.drop_index(op.f('ix_social_work_confidential_note_case_id'), table_name='social_work_confidential_note')
    op.drop_table('social_work_confidential_note')
    op.drop_index('ix_social_work_case_worker_user_id_case_id', table_name='social_work_case_worker')
    op.drop_table('social_work_case_worker')
    op.drop_index(op.f('ix_social_work_assessment_case_id'), table_name='social_work_assessment')
    op.drop_table('social_work_assessment')
    op.drop_index('ix_social_work_aid_application_department_id_created_at', table_name='social_work_aid_application')
    op.drop_index(op.f('ix_social_work_aid_application_case_id'), table_name='social_work_aid_application')
    op.drop_table('social_work_aid_application')
    op.drop_index(op.f('ix_social_work_activity_case_id'), table_name='social_work_activity')
    op.drop_table('social_work_activity')
    op.drop_index(op.f('ix_social_work_case_resident_id'), table_name='social_work_case')
    op.drop_index('ix_social_work_case_institution_id_opened_at', table_name='social_work_case')
    op.drop_index('ix_social_work_case_district_id_opened_at', table_name='social_work_case')
    op.drop_index('ix_social_work_case_department_id_opened_at', table_name='social_work_case')
    op.drop_index(op.f('ix_social_work_case_client_id_number_bidx'), table_name='social_work_case')
    op.drop_table('social_work_case')
    op.drop_index(op.f("ix_social_work_department_org_unit_id"), table_name="social_work_department")
    op.drop_index(op.f("ix_social_work_department_district_id"), table_name="social_work_department")
    op.drop_table("social_work_department")
