"""Residents: protected identity, key-population tags, idempotency keys, the sync change id.

``resident.change_xid`` is the (64-bit, epoch-extended) id of the transaction that last
changed the row, kept by a trigger on every insert and on every update that moves the
version (a key rotation re-encrypts without moving it, so it does not churn the sync).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:50:08.041585+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('resident',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('grid_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('birth_on', sa.Date(), nullable=False),
    sa.Column('id_type', sa.String(length=2), nullable=True),
    sa.Column('id_number_enc', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_masked', sa.String(length=40), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_bidx', sa.LargeBinary(), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('household_code', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change_xid', sa.BigInteger(), server_default=sa.text('(pg_current_xact_id()::text)::bigint'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("id_type in ('01','02','03','04','05','06','07','99')", name=op.f('ck_resident_id_type')),
    sa.CheckConstraint("sex in ('male','female','unknown')", name=op.f('ck_resident_sex')),
    sa.CheckConstraint('(id_number_enc is null) = (id_number_bidx is null) and (id_number_enc is null) = (id_type is null)', name=op.f('ck_resident_id_number_complete')),
    sa.CheckConstraint('(phone_enc is null) = (phone_bidx is null)', name=op.f('ck_resident_phone_complete')),
    sa.ForeignKeyConstraint(['grid_id'], ['org_unit.id'], name=op.f('fk_resident_grid_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident'))
    )
    op.create_index('ix_resident_change_xid_id', 'resident', ['change_xid', 'id'], unique=False)
    op.create_index(op.f('ix_resident_district_id'), 'resident', ['district_id'], unique=False)
    op.create_index('ix_resident_grid_id_name_birth_on', 'resident', ['grid_id', 'name', 'birth_on'], unique=False)
    op.create_index('ix_resident_phone_bidx', 'resident', ['phone_bidx'], unique=False, postgresql_where=sa.text('phone_bidx is not null'))
    op.create_index('uq_resident_id_number_bidx_district_id', 'resident', ['id_number_bidx', 'district_id'], unique=True, postgresql_where=sa.text('id_number_bidx is not null'))
    op.create_table('idempotency_key',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_idempotency_key_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_key'))
    )
    op.create_index(op.f('ix_idempotency_key_created_at'), 'idempotency_key', ['created_at'], unique=False)
    op.create_table('resident_tag',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('resident_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('population', sa.String(length=32), nullable=False),
    sa.Column('since_on', sa.Date(), nullable=False),
    sa.Column('until_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reported_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("population in ('children_0_6', 'pregnant_postpartum', 'elderly_65_plus', 'hypertension', 'diabetes', 'severe_mental_disorder', 'tuberculosis', 'hiv_aids', 'disability')", name=op.f('ck_resident_tag_population')),
    sa.CheckConstraint("source in ('sentinel_report', 'clinic', 'import')", name=op.f('ck_resident_tag_source')),
    sa.CheckConstraint('until_on is null or until_on >= since_on', name=op.f('ck_resident_tag_period')),
    sa.ForeignKeyConstraint(['reported_by'], ['app_user.id'], name=op.f('fk_resident_tag_reported_by_app_user')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_resident_tag_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_tag'))
    )
    op.create_index('ix_resident_tag_district_id_population', 'resident_tag', ['district_id', 'population'], unique=False)
    op.create_index('ix_resident_tag_resident_id_population', 'resident_tag', ['resident_id', 'population'], unique=False)
    op.execute(
        """
        create function resident_touch_change_xid() returns trigger language plpgsql as $$
        begin
            if tg_op = 'INSERT' or new.version is distinct from old.version then
                new.change_xid := (pg_current_xact_id()::text)::bigint;
            end if;
            return new;
        end $$;
        """
    )
    op.execute(
        "create trigger resident_change_xid before insert or update on resident "
        "for each row execute function resident_touch_change_xid()"
    )


def downgrade() -> None:
    op.execute("drop trigger resident_change_xid on resident")
    op.execute("drop function resident_touch_change_xid()")
    op.drop_index('ix_resident_tag_resident_id_population', table_name='resident_tag')
    op.drop_index('ix_resident_tag_district_id_population', table_name='resident_tag')
    op.drop_table('resident_tag')
    op.drop_index(op.f('ix_idempotency_key_created_at'), table_name='idempotency_key')
    op.drop_table('idempotency_key')
    op.drop_index('uq_resident_id_number_bidx_district_id', table_name='resident', postgresql_where=sa.text('id_number_bidx is not null'))
    op.drop_index('ix_resident_phone_bidx', table_name='resident', postgresql_where=sa.text('phone_bidx is not null'))
    op.drop_index('ix_resident_grid_id_name_birth_on', table_name='resident')
    op.drop_index(op.f('ix_resident_district_id'), table_name='resident')
    op.drop_index('ix_resident_change_xid_id', table_name='resident')
    op.drop_table('resident')
