"""Social work's jobs: the plan-task and transfer follow-up clocks (``socialwork.task_due``,
``socialwork.transfer_follow_up``) are handled by ``core/socialwork/routing.py``; importing it here
registers the kinds with ``core.deadlines``, so the worker that fires clocks knows whom each step tells."""

from __future__ import annotations

from services.core.socialwork import routing as routing  # registers the socialwork.* kinds (@deadline_kind)
