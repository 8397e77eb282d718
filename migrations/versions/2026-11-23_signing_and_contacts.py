"""Family-doctor signings and contacts with signed residents.

``signing``: a resident's period with a team and a service package, ``[starts_on, ends_on)`` in China
time; one per resident per day (checked under the resident row's lock); renewals point at what they
renew (unique: renewed once, a renewal cancelled before it began aside); terminations keep the contracted end and record the reason.
``resident_contact``: a contact by a member of the signing team; notes are AES-GCM ciphertext.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 07:25:24.025868+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signing',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('resident_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('package', sa.String(length=32), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('contracted_ends_on', sa.Date(), nullable=False),
    sa.Column('renews_id', sa.Uuid(), nullable=True),
    sa.Column('signed_by', sa.Uuid(), nullable=False),
    sa.Column('termination_reason', sa.String(length=32), nullable=True),
    sa.Column('terminated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('terminated_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("package in ('basic', 'chronic_disease', 'maternal_child', 'elderly', 'rehabilitation', 'tcm')", name=op.f('ck_signing_package')),
    sa.CheckConstraint("termination_reason in ('moved_away', 'deceased', 'resident_request', 'team_change', 'other')", name=op.f('ck_signing_termination_reason')),
    sa.CheckConstraint('(termination_reason is null) = (terminated_at is null)', name=op.f('ck_signing_termination_complete')),
    sa.CheckConstraint('ends_on >= starts_on and contracted_ends_on >= ends_on', name=op.f('ck_signing_period')),
    sa.ForeignKeyConstraint(['renews_id'], ['signing.id'], name=op.f('fk_signing_renews_id_signing')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_signing_resident_id_resident')),
    sa.ForeignKeyConstraint(['signed_by'], ['app_user.id'], name=op.f('fk_signing_signed_by_app_user')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_signing_team_id_team')),
    sa.ForeignKeyConstraint(['terminated_by'], ['app_user.id'], name=op.f('fk_signing_terminated_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing'))
    )
    op.create_index(op.f('ix_signing_district_id'), 'signing', ['district_id'], unique=False)
    op.create_index('ix_signing_resident_id_starts_on', 'signing', ['resident_id', 'starts_on'], unique=False)
    op.create_index('ix_signing_team_id_resident_id', 'signing', ['team_id', 'resident_id'], unique=False)
    op.create_index('uq_signing_renews_id', 'signing', ['renews_id'], unique=True, postgresql_where=sa.text('renews_id is not null and ends_on > starts_on'))
    op.create_table('resident_contact',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('resident_id', sa.Uuid(), nullable=False),
    sa.Column('signing_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('notes_enc', sa.LargeBinary(), nullable=True),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('team_member_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel in ('phone', 'wechat', 'sms', 'home_visit', 'clinic')", name=op.f('ck_resident_contact_channel')),
    sa.CheckConstraint("outcome in ('reached', 'unreachable', 'refused')", name=op.f('ck_resident_contact_outcome')),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], name=op.f('fk_resident_contact_recorded_by_app_user')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_resident_contact_resident_id_resident')),
    sa.ForeignKeyConstraint(['signing_id'], ['signing.id'], name=op.f('fk_resident_contact_signing_id_signing')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_resident_contact_team_id_team')),
    sa.ForeignKeyConstraint(['team_member_id'], ['team_member.id'], name=op.f('fk_resident_contact_team_member_id_team_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_contact'))
    )
    op.create_index(op.f('ix_resident_contact_district_id'), 'resident_contact', ['district_id'], unique=False)
    op.create_index('ix_resident_contact_resident_id_contacted_at', 'resident_contact', ['resident_id', 'contacted_at'], unique=False)
    op.create_index(op.f('ix_resident_contact_signing_id'), 'resident_contact', ['signing_id'], unique=False)
    op.create_index('ix_resident_contact_team_id_contacted_at', 'resident_contact', ['team_id', 'contacted_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_resident_contact_team_id_contacted_at', table_name='resident_contact')
    op.drop_index(op.f('ix_resident_contact_signing_id'), table_name='resident_contact')
    op.drop_index('ix_resident_contact_resident_id_contacted_at', table_name='resident_contact')
    op.drop_index(op.f('ix_resident_contact_district_id'), table_name='resident_contact')
    op.drop_table('resident_contact')
    op.drop_index('uq_signing_renews_id', table_name='signing', postgresql_where=sa.text('renews_id is not null and ends_on > starts_on'))
    op.drop_index('ix_signing_team_id_resident_id', table_name='signing')
    op.drop_index('ix_signing_resident_id_starts_on', table_name='signing')
    op.drop_index(op.f('ix_signing_district_id'), table_name='signing')
    op.drop_table('signing')
