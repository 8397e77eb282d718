"""What assignments attach to team records (core/teams/hooks.py) is there in every process that runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EXPECTED = {
    "widen_team_reads": ["assignments.serves_an_area_in_scope"],
    "on_steward_end": ["assignments.close_pairings"],
    "on_member_end": ["assignments.close_pairings"],
    "guard_dissolve": ["assignments.no_current_responsibility"],
}


def _registered_after(code: str) -> object:
    """The hooks registered in a fresh interpreter after ``code`` (this one has imported everything)."""
    script = f"{code}\nimport json\nfrom services.core.teams import hooks\nprint(json.dumps(hooks.registered()))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("from services.api.app import create_app\ncreate_app()", id="the app"),
        pytest.param("import services.worker.settings", id="the worker"),
        pytest.param("import services.core.models", id="every model (Alembic)"),
    ],
)
def test_assignments_hooks_are_registered_once_the_process_has_loaded_it(code: str) -> None:
    assert _registered_after(code) == EXPECTED


def test_teams_alone_registers_no_hook() -> None:
    """Teams knows no later domain: its hooks come only from the domains that register them."""
    assert _registered_after("import services.core.teams.teams") == {kind: [] for kind in EXPECTED}
