"""The worker runs report clocks: reports' job module registers the report kind, and the worker loads it."""

from __future__ import annotations

import subprocess
import sys

from services.core.deadlines.kinds import handler_for, many_recipients_for
from services.worker.jobs import reports


def test_the_worker_knows_the_report_follow_up_kind() -> None:
    assert reports.routing is not None
    handler = handler_for("report.follow_up")
    assert handler.recipients.__module__ == "services.core.reports.routing"


def test_the_worker_settings_load_reports_job_module() -> None:
    """In a fresh interpreter (this one has imported everything): the worker alone registers the kind."""
    script = (
        "import services.worker.settings\n"
        "from services.core.deadlines.kinds import handler_for\n"
        "print(handler_for('report.follow_up').recipients.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "services.core.reports.routing"


def test_the_report_kind_resolves_a_sweep_batch_at_once() -> None:
    many = many_recipients_for("report.follow_up")
    assert many is not None
    assert many.__module__ == "services.core.reports.routing"
