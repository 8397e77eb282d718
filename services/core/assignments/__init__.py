"""Who is responsible where: team <-> village/grid, community roles, the three pairings, and the queries."""

# What assignments attach to team records (core/teams/hooks.py): imported here so that every process
# that loads assignments (the app, the worker, Alembic through core.models) has the hooks registered.
from services.core.assignments import team_hooks as team_hooks
