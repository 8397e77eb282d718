"""Each account's language for the messages it receives: ``app_user.locale``, ``zh-CN`` by default.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "app_user", sa.Column("locale", sa.String(length=8), nullable=False, server_default=sa.text("'zh-CN'"))
    )
    op.create_check_constraint(op.f("ck_app_user_locale"), "app_user", "locale in ('zh-CN','en')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_app_user_locale"), "app_user", type_="check")
    op.drop_column("app_user", "locale")
