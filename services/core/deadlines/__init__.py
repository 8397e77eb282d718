"""The generic SLA engine: a clock per subject, reminders before due, an escalation ladder after.

Domains plug in with ``@deadline_kind("report.follow_up")`` (who is told at each step) and
call ``open_deadline``/``meet``/``cancel`` in their own transaction.
"""
