"""The worker runs report clocks: importing its deadline jobs registers the report kind."""

from __future__ import annotations

from services.core.deadlines.kinds import handler_for
from services.worker.jobs import deadlines


def test_the_worker_knows_the_report_follow_up_kind() -> None:
    assert deadlines.fire is not None
    handler = handler_for("report.follow_up")
    assert handler.recipients.__module__ == "services.core.reports.routing"
