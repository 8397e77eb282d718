"""The generic SLA engine: a clock per subject, reminders before due, an escalation ladder after.

Domains plug in with ``@deadline_kind("report.follow_up", default_policy=...)`` (who is told at
each step, and the kind's built-in policy) and open, meet or cancel clocks in their own
transaction, declared on their lifecycle's transitions (``core/lifecycle``) or directly.
"""
