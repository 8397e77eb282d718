"""Platform foundation: org units, accounts, grants, login sessions, audit trail, worker heartbeats.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 06:33:24.323854+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    op.create_index('ix_audit_event_actor_id_occurred_at', 'audit_event', ['actor_id', 'occurred_at'], unique=False)
    op.create_index(op.f('ix_audit_event_occurred_at'), 'audit_event', ['occurred_at'], unique=False)
    op.create_index('ix_audit_event_subject_id_occurred_at', 'audit_event', ['subject_id', 'occurred_at'], unique=False)
    op.create_table('org_unit',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'district') = (parent_id is null)", name=op.f('ck_org_unit_parent_iff_not_district')),
    sa.CheckConstraint("kind in ('district','town','village','grid')", name=op.f('ck_org_unit_kind')),
    sa.ForeignKeyConstraint(['parent_id'], ['org_unit.id'], name=op.f('fk_org_unit_parent_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_org_unit_code')),
    sa.UniqueConstraint('path', name=op.f('uq_org_unit_path'))
    )
    op.create_index(op.f('ix_org_unit_district_id'), 'org_unit', ['district_id'], unique=False)
    op.create_index('ix_org_unit_parent_id_name', 'org_unit', ['parent_id', 'name'], unique=False)
    op.create_index('ix_org_unit_path_prefix', 'org_unit', ['path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
    op.create_table('worker_heartbeat',
    sa.Column('worker_id', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeat'))
    )
    op.create_table('app_user',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=200), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('person','system')", name=op.f('ck_app_user_kind')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_app_user_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_index(op.f('ix_app_user_org_unit_id'), 'app_user', ['org_unit_id'], unique=False)
    op.create_table('auth_session',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_auth_session_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_session'))
    )
    op.create_index(op.f('ix_auth_session_user_id'), 'auth_session', ['user_id'], unique=False)
    op.create_table('role_grant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('granted_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_role_grant_period')),
    sa.ForeignKeyConstraint(['granted_by'], ['app_user.id'], name=op.f('fk_role_grant_granted_by_app_user')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_role_grant_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_role_grant_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grant'))
    )
    op.create_index(op.f('ix_role_grant_org_unit_id'), 'role_grant', ['org_unit_id'], unique=False)
    op.create_index('ix_role_grant_user_id_starts_at', 'role_grant', ['user_id', 'starts_at'], unique=False)
    op.create_table('refresh_token',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['auth_session.id'], name=op.f('fk_refresh_token_session_id_auth_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_token_token_hash'))
    )
    op.create_index(op.f('ix_refresh_token_session_id'), 'refresh_token', ['session_id'], unique=False)

    # The audit trail is append-only: the database itself refuses to rewrite it.
    op.execute(
        """
        create function audit_event_is_append_only() returns trigger language plpgsql as $$
        begin
            raise exception 'audit_event is append-only (% refused)', tg_op using errcode = '42501';
        end $$;
        """
    )
    op.execute(
        "create trigger audit_event_no_update_delete before update or delete on audit_event "
        "for each row execute function audit_event_is_append_only()"
    )
    op.execute(
        "create trigger audit_event_no_truncate before truncate on audit_event "
        "for each statement execute function audit_event_is_append_only()"
    )


def downgrade() -> None:
    op.execute("drop trigger audit_event_no_truncate on audit_event")
    op.execute("drop trigger audit_event_no_update_delete on audit_event")
    op.execute("drop function audit_event_is_append_only()")
    op.drop_index(op.f('ix_refresh_token_session_id'), table_name='refresh_token')
    op.drop_table('refresh_token')
    op.drop_index('ix_role_grant_user_id_starts_at', table_name='role_grant')
    op.drop_index(op.f('ix_role_grant_org_unit_id'), table_name='role_grant')
    op.drop_table('role_grant')
    op.drop_index(op.f('ix_auth_session_user_id'), table_name='auth_session')
    op.drop_table('auth_session')
    op.drop_index(op.f('ix_app_user_org_unit_id'), table_name='app_user')
    op.drop_table('app_user')
    op.drop_table('worker_heartbeat')
    op.drop_index('ix_org_unit_path_prefix', table_name='org_unit', postgresql_ops={'path': 'text_pattern_ops'})
    op.drop_index('ix_org_unit_parent_id_name', table_name='org_unit')
    op.drop_index(op.f('ix_org_unit_district_id'), table_name='org_unit')
    op.drop_table('org_unit')
    op.drop_index('ix_audit_event_subject_id_occurred_at', table_name='audit_event')
    op.drop_index(op.f('ix_audit_event_occurred_at'), table_name='audit_event')
    op.drop_index('ix_audit_event_actor_id_occurred_at', table_name='audit_event')
    op.drop_table('audit_event')
