"""Sentinel reports, their follow-ups and state history.

``sentinel_report`` carries the grid, village and town (for the loop metrics), the team
responsible at submission (NULL and ``unrouted`` when none) and a keyed digest of the
request body (a replay with another body is refused). A new-resident draft keeps its
identity number and phone only as ciphertext. The follow-up clock itself is a row of the
generic ``deadline`` table (kind ``report.follow_up``).

Revision 0006 follows 0004; the lead re-points it when merging.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 07:26:08.921944+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sentinel_report',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('town_id', sa.Uuid(), nullable=False),
    sa.Column('village_id', sa.Uuid(), nullable=False),
    sa.Column('grid_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('resident_id', sa.Uuid(), nullable=True),
    sa.Column('resident_draft', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('draft_id_number_enc', sa.LargeBinary(), nullable=True),
    sa.Column('draft_phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('reporter_id', sa.Uuid(), nullable=False),
    sa.Column('reporter_person_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('unrouted', sa.Boolean(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('reported_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_in_by', sa.Uuid(), nullable=True),
    sa.Column('first_follow_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('intervention_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('intervention_plan', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('outcome_notes', sa.Text(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'closed') = (closed_at is not null)", name=op.f('ck_sentinel_report_closed_iff_closed_at')),
    sa.CheckConstraint("category in ('new_key_population', 'health_need', 'urgent_risk', 'medicine_delivery', 'other')", name=op.f('ck_sentinel_report_category')),
    sa.CheckConstraint("outcome is null or outcome in ('resolved', 'under_management', 'referred', 'resident_declined', 'moved_away', 'deceased', 'no_action_needed')", name=op.f('ck_sentinel_report_outcome')),
    sa.CheckConstraint("status in ('submitted', 'reported_in', 'followed_up', 'intervening', 'closed', 'cancelled')", name=op.f('ck_sentinel_report_status')),
    sa.CheckConstraint('resident_id is null or resident_draft is null', name=op.f('ck_sentinel_report_resident_or_draft')),
    sa.CheckConstraint('unrouted = (team_id is null) or reported_in_at is not null', name=op.f('ck_sentinel_report_unrouted')),
    sa.ForeignKeyConstraint(['closed_by'], ['app_user.id'], name=op.f('fk_sentinel_report_closed_by_app_user')),
    sa.ForeignKeyConstraint(['grid_id'], ['org_unit.id'], name=op.f('fk_sentinel_report_grid_id_org_unit')),
    sa.ForeignKeyConstraint(['reported_in_by'], ['app_user.id'], name=op.f('fk_sentinel_report_reported_in_by_app_user')),
    sa.ForeignKeyConstraint(['reporter_id'], ['app_user.id'], name=op.f('fk_sentinel_report_reporter_id_app_user')),
    sa.ForeignKeyConstraint(['reporter_person_id'], ['person.id'], name=op.f('fk_sentinel_report_reporter_person_id_person')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_sentinel_report_resident_id_resident')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_sentinel_report_team_id_team')),
    sa.ForeignKeyConstraint(['town_id'], ['org_unit.id'], name=op.f('fk_sentinel_report_town_id_org_unit')),
    sa.ForeignKeyConstraint(['village_id'], ['org_unit.id'], name=op.f('fk_sentinel_report_village_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sentinel_report'))
    )
    op.create_index('ix_sentinel_report_district_id_submitted_at', 'sentinel_report', ['district_id', 'submitted_at'], unique=False)
    op.create_index('ix_sentinel_report_grid_id_submitted_at', 'sentinel_report', ['grid_id', 'submitted_at'], unique=False)
    op.create_index('ix_sentinel_report_reporter_id_submitted_at', 'sentinel_report', ['reporter_id', 'submitted_at'], unique=False)
    op.create_index(op.f('ix_sentinel_report_resident_id'), 'sentinel_report', ['resident_id'], unique=False)
    op.create_index('ix_sentinel_report_team_id_status', 'sentinel_report', ['team_id', 'status'], unique=False)
    op.create_index('ix_sentinel_report_town_id_submitted_at', 'sentinel_report', ['town_id', 'submitted_at'], unique=False)
    op.create_table('report_follow_up',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel in ('phone', 'wechat', 'sms', 'home_visit', 'clinic')", name=op.f('ck_report_follow_up_channel')),
    sa.CheckConstraint("outcome in ('reached', 'unreachable', 'refused')", name=op.f('ck_report_follow_up_outcome')),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], name=op.f('fk_report_follow_up_recorded_by_app_user')),
    sa.ForeignKeyConstraint(['report_id'], ['sentinel_report.id'], name=op.f('fk_report_follow_up_report_id_sentinel_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_follow_up'))
    )
    op.create_index('ix_report_follow_up_report_id_contacted_at', 'report_follow_up', ['report_id', 'contacted_at'], unique=False)
    op.create_table('report_transition',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_report_transition_actor_id_app_user')),
    sa.ForeignKeyConstraint(['report_id'], ['sentinel_report.id'], name=op.f('fk_report_transition_report_id_sentinel_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_report_transition_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_transition'))
    )
    op.create_index('ix_report_transition_report_id_at', 'report_transition', ['report_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_report_transition_report_id_at', table_name='report_transition')
    op.drop_table('report_transition')
    op.drop_index('ix_report_follow_up_report_id_contacted_at', table_name='report_follow_up')
    op.drop_table('report_follow_up')
    op.drop_index('ix_sentinel_report_town_id_submitted_at', table_name='sentinel_report')
    op.drop_index('ix_sentinel_report_team_id_status', table_name='sentinel_report')
    op.drop_index(op.f('ix_sentinel_report_resident_id'), table_name='sentinel_report')
    op.drop_index('ix_sentinel_report_reporter_id_submitted_at', table_name='sentinel_report')
    op.drop_index('ix_sentinel_report_grid_id_submitted_at', table_name='sentinel_report')
    op.drop_index('ix_sentinel_report_district_id_submitted_at', table_name='sentinel_report')
    op.drop_table('sentinel_report')
