"""Supervision: stored snapshots (town bulletins, district roll-ups, team assessments) and the
rectification ledger.

A trigger refuses any UPDATE of a snapshot's content (figures, source counts, definitions' version,
hash, period, edition): only its state and who moved it may change. The downgrade also drops the
ledger's clocks and both record types' history rows, which would otherwise name missing subjects.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 04:52:49.136235+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FREEZE = """
create function supervision_bulletin_frozen() returns trigger language plpgsql as $$
begin
    if (new.figures, new.source_counts, new.definitions_version, new.content_hash, new.period, new.edition,
        new.kind, new.org_unit_id)
       is distinct from
       (old.figures, old.source_counts, old.definitions_version, old.content_hash, old.period, old.edition,
        old.kind, old.org_unit_id) then
        raise exception 'a supervision snapshot is immutable: correct it with a new edition';
    end if;
    return new;
end $$
"""


def upgrade() -> None:
    op.create_table(
        "supervision_bulletin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("period_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edition", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definitions_version", sa.String(length=16), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("correction_reason", sa.String(length=500), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('town', 'district', 'assessment')", name=op.f("ck_supervision_bulletin_kind")),
        sa.CheckConstraint("period ~ '^[0-9]{4}H[12]$'", name=op.f("ck_supervision_bulletin_period")),
        sa.CheckConstraint(
            "status in ('draft', 'issued', 'acknowledged', 'superseded')", name=op.f("ck_supervision_bulletin_status")
        ),
        sa.CheckConstraint(
            "(edition = 1) = (supersedes_id is null)", name=op.f("ck_supervision_bulletin_correction_has_origin")
        ),
        sa.CheckConstraint(
            "edition = 1 or correction_reason is not null", name=op.f("ck_supervision_bulletin_correction_has_reason")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["app_user.id"], name=op.f("fk_supervision_bulletin_acknowledged_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["app_user.id"], name=op.f("fk_supervision_bulletin_issued_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_supervision_bulletin_org_unit_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["supervision_bulletin.id"],
            name=op.f("fk_supervision_bulletin_supersedes_id_supervision_bulletin"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_bulletin")),
        sa.UniqueConstraint(
            "kind",
            "org_unit_id",
            "period",
            "edition",
            name=op.f("uq_supervision_bulletin_kind_org_unit_id_period_edition"),
        ),
    )
    op.create_index(
        "ix_supervision_bulletin_district_id_period", "supervision_bulletin", ["district_id", "period"], unique=False
    )
    op.create_index(op.f("ix_supervision_bulletin_org_unit_id"), "supervision_bulletin", ["org_unit_id"], unique=False)
    op.create_table(
        "rectification_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("town_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("bulletin_id", sa.Uuid(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.Uuid(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'verified') = (verified_at is not null)",
            name=op.f("ck_rectification_item_verified_iff_verified_at"),
        ),
        sa.CheckConstraint(
            "status in ('open', 'in_progress', 'resolved', 'verified')", name=op.f("ck_rectification_item_status")
        ),
        sa.CheckConstraint(
            "(org_unit_id is not null) or (team_id is not null)", name=op.f("ck_rectification_item_village_or_team")
        ),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["supervision_bulletin.id"],
            name=op.f("fk_rectification_item_bulletin_id_supervision_bulletin"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_rectification_item_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_rectification_item_org_unit_id_org_unit")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["app_user.id"], name=op.f("fk_rectification_item_owner_id_app_user")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_rectification_item_team_id_team")),
        sa.ForeignKeyConstraint(["town_id"], ["org_unit.id"], name=op.f("fk_rectification_item_town_id_org_unit")),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["app_user.id"], name=op.f("fk_rectification_item_verified_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_item")),
    )
    op.create_index(op.f("ix_rectification_item_bulletin_id"), "rectification_item", ["bulletin_id"], unique=False)
    op.create_index(op.f("ix_rectification_item_owner_id"), "rectification_item", ["owner_id"], unique=False)
    op.create_index("ix_rectification_item_town_id_status", "rectification_item", ["town_id", "status"], unique=False)
    op.execute(FREEZE)
    op.execute(
        "create trigger supervision_bulletin_frozen before update on supervision_bulletin "
        "for each row execute function supervision_bulletin_frozen()"
    )


def downgrade() -> None:
    op.execute(
        "delete from deadline_step where deadline_id in (select id from deadline where kind = 'rectification.due')"
    )
    op.execute("delete from deadline where kind = 'rectification.due'")
    op.execute("delete from record_transition where subject_type in ('supervision_bulletin', 'rectification_item')")
    op.execute("drop trigger supervision_bulletin_frozen on supervision_bulletin")
    op.execute("drop function supervision_bulletin_frozen()")
    op.drop_index("ix_rectification_item_town_id_status", table_name="rectification_item")
    op.drop_index(op.f("ix_rectification_item_owner_id"), table_name="rectification_item")
    op.drop_index(op.f("ix_rectification_item_bulletin_id"), table_name="rectification_item")
    op.drop_table("rectification_item")
    op.drop_index(op.f("ix_supervision_bulletin_org_unit_id"), table_name="supervision_bulletin")
    op.drop_index("ix_supervision_bulletin_district_id_period", table_name="supervision_bulletin")
    op.drop_table("supervision_bulletin")
