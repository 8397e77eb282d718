"""The life of a sentinel report, declared once: who may move it from where to where, and the clock.

    submitted --report_in--> reported_in --follow_up--> followed_up --start_intervention--> intervening
        |                                                   |  ^ more follow-ups                |  more follow-ups
        +--cancel (the sentinel)--> cancelled                +--close--> closed <-----close------+

Submission opens the 48-hour follow-up clock, the first follow-up meets it, a cancellation
stops it. An urgent risk happening now also opens a 2-hour report-in clock, met by reporting in.
Every change of state is a ``record_transition`` row (subject ``report``) carrying the team the
report was with.
"""

from __future__ import annotations

from typing import Any

from services.core.lifecycle import Action, Deadlines, Lifecycle, Transition
from services.core.reports import access
from services.core.reports.models import ReportStatus, SentinelReport
from services.core.reports.routing import KIND, REPORT_IN_KIND, SUBJECT, happening_now
from services.core.security.roles import Permission

HANDLE = Permission.REPORTS_HANDLE
SUBMIT = Permission.REPORTS_SUBMIT
S = ReportStatus
TEAM_ONLY = "only a member of the responsible family doctor team may do this"


def _handles(viewer: Any, report: SentinelReport, path: str) -> bool:
    return access.may_handle(viewer, report, path)


def _submitted_it(viewer: Any, report: SentinelReport, _path: str) -> bool:
    return bool(report.reporter_id == viewer.user_id)


def _snapshot(report: SentinelReport) -> dict[str, Any]:
    return {"team_id": str(report.team_id) if report.team_id else None}


REPORT: Lifecycle[SentinelReport] = Lifecycle(
    subject_type=SUBJECT,
    noun="report",
    states=ReportStatus,
    actions=[
        Action("report_in", HANDLE, _handles, TEAM_ONLY),
        Action("follow_up", HANDLE, _handles, TEAM_ONLY),
        Action("start_intervention", HANDLE, _handles, TEAM_ONLY),
        Action("close", HANDLE, _handles, TEAM_ONLY),
        Action("cancel", SUBMIT, _submitted_it, "only the sentinel who submitted a report may cancel it"),
    ],
    transitions=[
        Transition(
            "submit",
            (None,),
            S.SUBMITTED,
            SUBMIT,
            Deadlines(
                open=(KIND, REPORT_IN_KIND), category=lambda r: r.category, open_if={REPORT_IN_KIND: happening_now}
            ),
        ),
        Transition("report_in", (S.SUBMITTED,), S.REPORTED_IN, HANDLE, Deadlines(meet=(REPORT_IN_KIND,))),
        Transition("follow_up", (S.REPORTED_IN,), S.FOLLOWED_UP, HANDLE, Deadlines(meet=(KIND,))),
        Transition("follow_up", (S.FOLLOWED_UP, S.INTERVENING), None, HANDLE),
        Transition("start_intervention", (S.FOLLOWED_UP,), S.INTERVENING, HANDLE),
        Transition("close", (S.FOLLOWED_UP, S.INTERVENING), S.CLOSED, HANDLE),
        Transition("cancel", (S.SUBMITTED,), S.CANCELLED, SUBMIT, Deadlines(cancel=(KIND, REPORT_IN_KIND))),
    ],
    snapshot=_snapshot,
)
