"""The life of a referral, declared once per direction: who may move it from where to where, and its clocks.

Upward (a primary team -> a district institution; the receiver is the institution's desk or HIS)::

    requested --receive--> received --accept--> accepted --arrive--> arrived --complete--> completed
        |  \\--accept / decline-->      |  ^            \\--no_show--> no_show
        |                             hold resume (on_hold: the decision clock stands still)
        +--decline--> declined        +--decline / accept from on_hold
        cancel (either side) from requested, received, on_hold, accepted

Downward (an institution -> the team responsible for the resident's grid)::

    requested --take_over--> taken_over --follow_up--> followed_up --complete--> completed
        |--reroute (not our area: to the responsible team; stays requested, recorded)
        +--decline--> declined      cancel (either side) from requested, taken_over

Every change of state is a ``record_transition`` row (subject ``referral``) with who, when, why.
"""

from __future__ import annotations

from typing import Any

from services.core.lifecycle import Action, Deadlines, Lifecycle, Transition
from services.core.referrals import access
from services.core.referrals.models import Referral, ReferralStatus
from services.core.referrals.routing import DECIDE, FOLLOW_UP, NO_SHOW, RECEIVE, SUBJECT, TAKE_OVER
from services.core.security.roles import Permission

WRITE = Permission.REFERRALS_WRITE
S = ReferralStatus
RECEIVER_ONLY = "only the receiving side of this referral may do this"
SENDER_ONLY = "only the referring side of this referral may do this"
EITHER_SIDE = "only the two sides of this referral may cancel it"


def _receives(viewer: Any, referral: Referral, _path: str) -> bool:
    return access.receives(viewer, referral)


def _sends(viewer: Any, referral: Referral, _path: str) -> bool:
    return access.sends(viewer, referral)


def _either(viewer: Any, referral: Referral, _path: str) -> bool:
    return access.sends(viewer, referral) or access.receives(viewer, referral)


def _authorize(actor: Any, permission: Permission, referral: Referral, path: str) -> bool:
    """The permission at the resident's unit, or through a grant naming one of the two institutions."""
    principal = actor.principal
    if principal.can_at(permission, path):
        return True
    ends = (referral.from_institution_id, referral.to_institution_id)
    return any(g.institution_id in ends and g.may(permission) for g in principal.grants)


def _snapshot(referral: Referral) -> dict[str, Any]:
    return {
        "direction": referral.direction,
        "to_team_id": str(referral.to_team_id) if referral.to_team_id else None,
    }


_ACTIONS_UP = [
    Action("receive", WRITE, _receives, RECEIVER_ONLY),
    Action("accept", WRITE, _receives, RECEIVER_ONLY),
    Action("decline", WRITE, _receives, RECEIVER_ONLY),
    Action("hold", WRITE, _receives, RECEIVER_ONLY),
    Action("resume", WRITE, _receives, RECEIVER_ONLY),
    Action("arrive", WRITE, _receives, RECEIVER_ONLY),
    Action("no_show", WRITE, _receives, RECEIVER_ONLY),
    Action("complete", WRITE, _receives, RECEIVER_ONLY),
    Action("cancel", WRITE, _either, EITHER_SIDE),
]

UPWARD: Lifecycle[Referral] = Lifecycle(
    subject_type=SUBJECT,
    noun="upward referral",
    states=ReferralStatus,
    actions=_ACTIONS_UP,
    transitions=[
        Transition("request", (None,), S.REQUESTED, WRITE, Deadlines(open=(RECEIVE, DECIDE))),
        Transition("receive", (S.REQUESTED,), S.RECEIVED, WRITE, Deadlines(meet=(RECEIVE,))),
        Transition(
            "accept", (S.REQUESTED, S.RECEIVED, S.ON_HOLD), S.ACCEPTED, WRITE, Deadlines(meet=(RECEIVE, DECIDE))
        ),
        Transition(
            "decline", (S.REQUESTED, S.RECEIVED, S.ON_HOLD), S.DECLINED, WRITE, Deadlines(meet=(RECEIVE, DECIDE))
        ),
        Transition("hold", (S.RECEIVED,), S.ON_HOLD, WRITE, Deadlines(pause=(DECIDE,))),
        Transition("resume", (S.ON_HOLD,), S.RECEIVED, WRITE, Deadlines(resume=(DECIDE,))),
        Transition("arrive", (S.ACCEPTED,), S.ARRIVED, WRITE, Deadlines(meet=(NO_SHOW,))),
        Transition("no_show", (S.ACCEPTED,), S.NO_SHOW, WRITE, Deadlines(meet=(NO_SHOW,))),
        Transition("complete", (S.ARRIVED,), S.COMPLETED, WRITE),
        Transition(
            "cancel",
            (S.REQUESTED, S.RECEIVED, S.ON_HOLD, S.ACCEPTED),
            S.CANCELLED,
            WRITE,
            Deadlines(cancel=(RECEIVE, DECIDE, NO_SHOW)),
        ),
    ],
    authorize=_authorize,
    snapshot=_snapshot,
)

_ACTIONS_DOWN = [
    Action("take_over", WRITE, _receives, RECEIVER_ONLY),
    Action("reroute", WRITE, _receives, RECEIVER_ONLY),
    Action("decline", WRITE, _receives, RECEIVER_ONLY),
    Action("follow_up", WRITE, _receives, RECEIVER_ONLY),
    Action("complete", WRITE, _receives, RECEIVER_ONLY),
    Action("cancel", WRITE, _either, EITHER_SIDE),
]

DOWNWARD: Lifecycle[Referral] = Lifecycle(
    subject_type=SUBJECT,
    noun="downward referral",
    states=ReferralStatus,
    actions=_ACTIONS_DOWN,
    transitions=[
        Transition("request", (None,), S.REQUESTED, WRITE, Deadlines(open=(TAKE_OVER,))),
        Transition("take_over", (S.REQUESTED,), S.TAKEN_OVER, WRITE, Deadlines(meet=(TAKE_OVER,))),
        Transition("reroute", (S.REQUESTED,), S.REQUESTED, WRITE),
        Transition("decline", (S.REQUESTED,), S.DECLINED, WRITE, Deadlines(cancel=(TAKE_OVER, FOLLOW_UP))),
        Transition("follow_up", (S.TAKEN_OVER,), S.FOLLOWED_UP, WRITE, Deadlines(meet=(FOLLOW_UP,))),
        Transition("complete", (S.FOLLOWED_UP,), S.COMPLETED, WRITE),
        Transition("cancel", (S.REQUESTED, S.TAKEN_OVER), S.CANCELLED, WRITE, Deadlines(cancel=(TAKE_OVER, FOLLOW_UP))),
    ],
    authorize=_authorize,
    snapshot=_snapshot,
)


def of(referral: Referral) -> Lifecycle[Referral]:
    """The declaration for this referral's direction."""
    return UPWARD if referral.direction == "upward" else DOWNWARD
