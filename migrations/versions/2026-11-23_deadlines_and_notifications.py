"""Deadlines (SLA clocks and the steps they took) and notifications (inbox, per-user change counter, outbox).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:15.976834+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deadline',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('policy', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('next_step_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state in ('open','met','breached','cancelled')", name=op.f('ck_deadline_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline')),
    sa.UniqueConstraint('subject_type', 'subject_id', 'kind', name=op.f('uq_deadline_subject_type_subject_id_kind'))
    )
    op.create_index('ix_deadline_district_id_due_at', 'deadline', ['district_id', 'due_at'], unique=False)
    op.create_index('ix_deadline_next_step_at_pending', 'deadline', ['next_step_at'], unique=False, postgresql_where=sa.text('next_step_at IS NOT NULL'))
    op.create_table('deadline_step',
    sa.Column('deadline_id', sa.Uuid(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipient_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['deadline_id'], ['deadline.id'], name=op.f('fk_deadline_step_deadline_id_deadline'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deadline_id', 'step', name=op.f('pk_deadline_step'))
    )
    op.create_table('inbox_counter',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_inbox_counter_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_inbox_counter'))
    )
    op.create_table('notification',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=2000), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=True),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notification_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notification_dedupe_key'))
    )
    op.create_index('ix_notification_user_id_change_seq_id', 'notification', ['user_id', 'change_seq', 'id'], unique=False)
    op.create_index('ix_notification_user_id_created_at', 'notification', ['user_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_notification_user_id_created_at_unread', 'notification', ['user_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('read_at IS NULL'))
    op.create_table('outbox_message',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('notification_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('pending','sent','failed')", name=op.f('ck_outbox_message_state')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_outbox_message_notification_id_notification')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('notification_id', 'channel', name=op.f('uq_outbox_message_notification_id_channel'))
    )
    op.create_index('ix_outbox_message_next_attempt_at_pending', 'outbox_message', ['next_attempt_at'], unique=False, postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_outbox_message_next_attempt_at_pending', table_name='outbox_message', postgresql_where=sa.text("state = 'pending'"))
    op.drop_table('outbox_message')
    op.drop_index('ix_notification_user_id_created_at_unread', table_name='notification', postgresql_where=sa.text('read_at IS NULL'))
    op.drop_index('ix_notification_user_id_created_at', table_name='notification')
    op.drop_index('ix_notification_user_id_change_seq_id', table_name='notification')
    op.drop_table('notification')
    op.drop_table('inbox_counter')
    op.drop_table('deadline_step')
    op.drop_index('ix_deadline_next_step_at_pending', table_name='deadline', postgresql_where=sa.text('next_step_at IS NOT NULL'))
    op.drop_index('ix_deadline_district_id_due_at', table_name='deadline')
    op.drop_table('deadline')
