"""Reports' jobs: the follow-up clock (``report.follow_up``) is handled by ``core/reports/routing.py``;
importing it here registers the kind with ``core.deadlines``, so the worker that fires clocks
(``deadlines.fire``, ``deadlines.sweep``) knows whom a report's steps remind and escalate to.
Reports have no job of their own yet; theirs go here (``reports.verb``)."""

from __future__ import annotations

from services.core.reports import routing as routing  # registers report.follow_up (@deadline_kind)
