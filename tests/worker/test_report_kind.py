"""The worker runs report clocks: importing its deadline jobs registers the report kind."""

from __future__ import annotations

from services.core.deadlines.kinds import handler_for, many_recipients_for
from services.worker.jobs import deadlines


def test_the_worker_knows_the_report_follow_up_kind() -> None:
    assert deadlines.fire is not None
    handler = handler_for("report.follow_up")
    assert handler.recipients.__module__ == "services.core.reports.routing"


def test_the_report_kind_resolves_a_sweep_batch_at_once() -> None:
    many = many_recipients_for("report.follow_up")
    assert many is not None
    assert many.__module__ == "services.core.reports.routing"
