"""Bring a database's schema to a revision: what ``gridcare migrate``, ``gridcare dev`` and the tests run."""

from __future__ import annotations

from alembic import command

from services.core.system.service import alembic_config


def migrate(database_url: str, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade (or with ``down``, downgrade) the database at ``database_url`` to ``revision``."""
    cfg = alembic_config(database_url)
    if down:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)
