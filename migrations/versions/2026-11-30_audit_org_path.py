"""Audit events carry the org path of what they are about.

``audit_event.org_path`` is the path of the subject's org unit when the event is recorded
(``audit.record(..., org_path=)``); auditors are scoped on it with the same prefix rule as
every other row, indexed with ``text_pattern_ops`` like ``org_unit.path``.

Existing rows are backfilled where the subject can still be resolved, from the subject as it
is now (a resident moved since is placed in its current grid); rows whose subject is gone or
of no org unit keep NULL and stay visible through their actor only, as before. The table
refuses UPDATE by trigger (0001): the backfill disables that trigger for its own statements
and enables it again in the same transaction, so no other session ever sees it off.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# subject_type -> a query giving (id, path) for subjects of that type: the org unit each call site
# passes today (a resident's grid, a team member's team, a backing's backed team, an account's home).
_SUBJECTS = {
    "resident": "select r.id, u.path from resident r join org_unit u on u.id = r.grid_id",
    "org_unit": "select u.id, u.path from org_unit u",
    "user": "select a.id, u.path from app_user a join org_unit u on u.id = a.org_unit_id",
    "person": "select p.id, u.path from person p join org_unit u on u.id = p.org_unit_id",
    "institution": "select i.id, u.path from institution i join org_unit u on u.id = i.org_unit_id",
    "institution_steward": (
        "select s.id, u.path from institution_steward s join institution i on i.id = s.institution_id "
        "join org_unit u on u.id = i.org_unit_id"
    ),
    "team": "select t.id, u.path from team t join org_unit u on u.id = t.org_unit_id",
    "team_member": (
        "select m.id, u.path from team_member m join team t on t.id = m.team_id join org_unit u on u.id = t.org_unit_id"
    ),
    "team_backing": (
        "select b.id, u.path from team_backing b join team t on t.id = b.backed_team_id "
        "join org_unit u on u.id = t.org_unit_id"
    ),
    "responsibility": "select x.id, u.path from responsibility x join org_unit u on u.id = x.org_unit_id",
    "community_role": "select x.id, u.path from community_role x join org_unit u on u.id = x.org_unit_id",
    "pairing": "select x.id, u.path from pairing x join org_unit u on u.id = x.org_unit_id",
    "report": "select r.id, u.path from sentinel_report r join org_unit u on u.id = r.grid_id",
}


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("org_path", sa.String(length=200), nullable=True))
    op.execute("alter table audit_event disable trigger audit_event_no_update_delete")
    for subject_type, source in _SUBJECTS.items():
        op.get_bind().execute(
            sa.text(
                f"update audit_event e set org_path = s.path from ({source}) s "  # noqa: S608 - constant SQL above
                "where e.subject_type = :subject_type and e.subject_id = s.id"
            ),
            {"subject_type": subject_type},
        )
    op.execute("alter table audit_event enable trigger audit_event_no_update_delete")
    op.create_index(
        "ix_audit_event_org_path_prefix",
        "audit_event",
        ["org_path"],
        unique=False,
        postgresql_ops={"org_path": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index(
        "ix_audit_event_org_path_prefix", table_name="audit_event", postgresql_ops={"org_path": "text_pattern_ops"}
    )
    op.drop_column("audit_event", "org_path")
