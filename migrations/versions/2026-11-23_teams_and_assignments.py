"""Teams and assignments: institutions, people, teams, members, backing, responsibility,
community roles and pairings, each period a half-open [starts_at, ends_at).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:40:19.364714+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No EXCLUDE constraints for "periods of one unit do not overlap": the embedded PostgreSQL
    # has no btree_gist. The services check overlaps under a row lock on the parent record.
    op.create_table('institution',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('district_hospital','tcm_hospital','maternal_child','cdc','township_health_center','community_health_center','social_clinic','nursing_station')", name=op.f('ck_institution_kind')),
    sa.CheckConstraint("level in ('district','primary','social')", name=op.f('ck_institution_level')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_institution_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institution')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_institution_credit_code'))
    )
    op.create_index(op.f('ix_institution_district_id'), 'institution', ['district_id'], unique=False)
    op.create_index(op.f('ix_institution_org_unit_id'), 'institution', ['org_unit_id'], unique=False)
    op.create_table('person',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('discipline', sa.String(length=32), nullable=True),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'staff') = (discipline is not null)", name=op.f('ck_person_discipline_iff_staff')),
    sa.CheckConstraint("kind in ('staff','community_worker')", name=op.f('ck_person_kind')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_person_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_person_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_person_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('user_id', name=op.f('uq_person_user_id'))
    )
    op.create_index(op.f('ix_person_district_id'), 'person', ['district_id'], unique=False)
    op.create_index('ix_person_district_id_mobile', 'person', ['district_id', 'mobile'], unique=False)
    op.create_index(op.f('ix_person_institution_id'), 'person', ['institution_id'], unique=False)
    op.create_index(op.f('ix_person_org_unit_id'), 'person', ['org_unit_id'], unique=False)
    op.create_table('team',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('service_phone', sa.String(length=20), nullable=True),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('primary','chronic_disease','tcm_wellness','maternal_child','specialist')", name=op.f('ck_team_kind')),
    sa.CheckConstraint("level in ('district','town','village')", name=op.f('ck_team_level')),
    sa.CheckConstraint("status in ('active','suspended','dissolved')", name=op.f('ck_team_status')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_team_institution_id_institution')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_team_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team'))
    )
    op.create_index(op.f('ix_team_district_id'), 'team', ['district_id'], unique=False)
    op.create_index('ix_team_institution_id_name', 'team', ['institution_id', 'name'], unique=True)
    op.create_index(op.f('ix_team_org_unit_id'), 'team', ['org_unit_id'], unique=False)
    op.create_table('community_role',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('community_steward','grid_leader','sentinel')", name=op.f('ck_community_role_role')),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_community_role_period')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_community_role_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_community_role_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_role'))
    )
    op.create_index(op.f('ix_community_role_district_id'), 'community_role', ['district_id'], unique=False)
    op.create_index('ix_community_role_org_unit_id_role_starts_at', 'community_role', ['org_unit_id', 'role', 'starts_at'], unique=False)
    op.create_index(op.f('ix_community_role_person_id'), 'community_role', ['person_id'], unique=False)
    op.create_table('institution_steward',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_institution_steward_period')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_institution_steward_institution_id_institution')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_institution_steward_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institution_steward'))
    )
    op.create_index(op.f('ix_institution_steward_district_id'), 'institution_steward', ['district_id'], unique=False)
    op.create_index('ix_institution_steward_institution_id_starts_at', 'institution_steward', ['institution_id', 'starts_at'], unique=False)
    op.create_index(op.f('ix_institution_steward_person_id'), 'institution_steward', ['person_id'], unique=False)
    op.create_table('responsibility',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('unit_kind', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("unit_kind in ('village','grid')", name=op.f('ck_responsibility_unit_kind')),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_responsibility_period')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_responsibility_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_responsibility_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibility'))
    )
    op.create_index(op.f('ix_responsibility_district_id'), 'responsibility', ['district_id'], unique=False)
    op.create_index('ix_responsibility_org_unit_id_starts_at', 'responsibility', ['org_unit_id', 'starts_at'], unique=False)
    op.create_index('ix_responsibility_team_id_starts_at', 'responsibility', ['team_id', 'starts_at'], unique=False)
    op.create_table('team_backing',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('backing_team_id', sa.Uuid(), nullable=False),
    sa.Column('backed_team_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('backing_team_id <> backed_team_id', name=op.f('ck_team_backing_not_self')),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_team_backing_period')),
    sa.ForeignKeyConstraint(['backed_team_id'], ['team.id'], name=op.f('fk_team_backing_backed_team_id_team')),
    sa.ForeignKeyConstraint(['backing_team_id'], ['team.id'], name=op.f('fk_team_backing_backing_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_backing'))
    )
    op.create_index('ix_team_backing_backed_team_id_starts_at', 'team_backing', ['backed_team_id', 'starts_at'], unique=False)
    op.create_index(op.f('ix_team_backing_backing_team_id'), 'team_backing', ['backing_team_id'], unique=False)
    op.create_index(op.f('ix_team_backing_district_id'), 'team_backing', ['district_id'], unique=False)
    op.create_table('team_member',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('discipline', sa.String(length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('leader','member')", name=op.f('ck_team_member_role')),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_team_member_period')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_team_member_person_id_person')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_member_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_member'))
    )
    op.create_index(op.f('ix_team_member_district_id'), 'team_member', ['district_id'], unique=False)
    op.create_index(op.f('ix_team_member_person_id'), 'team_member', ['person_id'], unique=False)
    op.create_index('ix_team_member_team_id_starts_at', 'team_member', ['team_id', 'starts_at'], unique=False)
    op.create_table('pairing',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('institution_steward_id', sa.Uuid(), nullable=True),
    sa.Column('team_member_id', sa.Uuid(), nullable=True),
    sa.Column('community_role_id', sa.Uuid(), nullable=False),
    sa.Column('org_unit_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'stewards') = (institution_steward_id is not null and team_member_id is null)", name=op.f('ck_pairing_medical_side')),
    sa.CheckConstraint("kind in ('stewards','leaders','member_sentinel')", name=op.f('ck_pairing_kind')),
    sa.CheckConstraint('ends_at is null or ends_at > starts_at', name=op.f('ck_pairing_period')),
    sa.ForeignKeyConstraint(['community_role_id'], ['community_role.id'], name=op.f('fk_pairing_community_role_id_community_role')),
    sa.ForeignKeyConstraint(['institution_steward_id'], ['institution_steward.id'], name=op.f('fk_pairing_institution_steward_id_institution_steward')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_pairing_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['team_member_id'], ['team_member.id'], name=op.f('fk_pairing_team_member_id_team_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing'))
    )
    op.create_index('ix_pairing_community_role_id_starts_at', 'pairing', ['community_role_id', 'starts_at'], unique=False)
    op.create_index(op.f('ix_pairing_district_id'), 'pairing', ['district_id'], unique=False)
    op.create_index('ix_pairing_org_unit_id', 'pairing', ['org_unit_id'], unique=False)
    op.create_index('ix_pairing_team_member_id_starts_at', 'pairing', ['team_member_id', 'starts_at'], unique=False)

    op.add_column('role_grant', sa.Column('institution_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f('fk_role_grant_institution_id_institution'), 'role_grant', 'institution', ['institution_id'], ['id']
    )

def downgrade() -> None:
    op.drop_constraint(op.f('fk_role_grant_institution_id_institution'), 'role_grant', type_='foreignkey')
    op.drop_column('role_grant', 'institution_id')
    op.drop_index('ix_pairing_team_member_id_starts_at', table_name='pairing')
    op.drop_index('ix_pairing_org_unit_id', table_name='pairing')
    op.drop_index(op.f('ix_pairing_district_id'), table_name='pairing')
    op.drop_index('ix_pairing_community_role_id_starts_at', table_name='pairing')
    op.drop_table('pairing')
    op.drop_index('ix_team_member_team_id_starts_at', table_name='team_member')
    op.drop_index(op.f('ix_team_member_person_id'), table_name='team_member')
    op.drop_index(op.f('ix_team_member_district_id'), table_name='team_member')
    op.drop_table('team_member')
    op.drop_index(op.f('ix_team_backing_district_id'), table_name='team_backing')
    op.drop_index(op.f('ix_team_backing_backing_team_id'), table_name='team_backing')
    op.drop_index('ix_team_backing_backed_team_id_starts_at', table_name='team_backing')
    op.drop_table('team_backing')
    op.drop_index('ix_responsibility_team_id_starts_at', table_name='responsibility')
    op.drop_index('ix_responsibility_org_unit_id_starts_at', table_name='responsibility')
    op.drop_index(op.f('ix_responsibility_district_id'), table_name='responsibility')
    op.drop_table('responsibility')
    op.drop_index(op.f('ix_institution_steward_person_id'), table_name='institution_steward')
    op.drop_index('ix_institution_steward_institution_id_starts_at', table_name='institution_steward')
    op.drop_index(op.f('ix_institution_steward_district_id'), table_name='institution_steward')
    op.drop_table('institution_steward')
    op.drop_index(op.f('ix_community_role_person_id'), table_name='community_role')
    op.drop_index('ix_community_role_org_unit_id_role_starts_at', table_name='community_role')
    op.drop_index(op.f('ix_community_role_district_id'), table_name='community_role')
    op.drop_table('community_role')
    op.drop_index(op.f('ix_team_org_unit_id'), table_name='team')
    op.drop_index('ix_team_institution_id_name', table_name='team')
    op.drop_index(op.f('ix_team_district_id'), table_name='team')
    op.drop_table('team')
    op.drop_index(op.f('ix_person_org_unit_id'), table_name='person')
    op.drop_index(op.f('ix_person_institution_id'), table_name='person')
    op.drop_index('ix_person_district_id_mobile', table_name='person')
    op.drop_index(op.f('ix_person_district_id'), table_name='person')
    op.drop_table('person')
    op.drop_index(op.f('ix_institution_org_unit_id'), table_name='institution')
    op.drop_index(op.f('ix_institution_district_id'), table_name='institution')
    op.drop_table('institution')
