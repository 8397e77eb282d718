"""The lives of snapshots and ledger items, declared once.

Town bulletin:   draft --issue (town supervisor)--> issued --acknowledge (district)--> acknowledged
Roll-up, assessment: draft --issue (district)--> issued
Any snapshot: --supersede--> superseded, when a correction (the next edition) replaces it.

Ledger item:  open --start--> in_progress --resolve (evidence)--> resolved --verify (销号)--> verified
              resolved / verified --reopen--> in_progress. Its due-date clock is met by resolving.
"""

from __future__ import annotations

from typing import Any

from services.core.lifecycle import Action, Deadlines, Lifecycle, Transition
from services.core.security.roles import Permission
from services.core.supervision.models import Bulletin, ItemStatus, RectificationItem, SnapshotStatus

S = SnapshotStatus
I = ItemStatus  # noqa: E741 - the item's states, as S for snapshots
ITEM_KIND = "rectification.due"
ITEM_SUBJECT = "rectification_item"
LIVE = (S.DRAFT, S.ISSUED, S.ACKNOWLEDGED)


def _snapshot(permission_issue: Permission, *, acknowledge: bool) -> Lifecycle[Bulletin]:
    transitions = [
        Transition("issue", (S.DRAFT,), S.ISSUED, permission_issue),
        Transition("supersede", LIVE, S.SUPERSEDED, permission_issue),
    ]
    if acknowledge:
        transitions.append(Transition("acknowledge", (S.ISSUED,), S.ACKNOWLEDGED, Permission.SUPERVISION_REVIEW))
    return Lifecycle(
        subject_type="supervision_bulletin",
        noun="bulletin",
        states=SnapshotStatus,
        transitions=transitions,
        snapshot=lambda b: {"edition": b.edition, "content_hash": b.content_hash},
    )


TOWN_BULLETIN = _snapshot(Permission.SUPERVISION_ISSUE, acknowledge=True)
DISTRICT_SNAPSHOT = _snapshot(Permission.SUPERVISION_REVIEW, acknowledge=False)


def _owner_or_supervisor(viewer: Any, item: RectificationItem, path: str) -> bool:
    principal = getattr(viewer, "principal", viewer)
    return bool(item.owner_id == principal.user_id or principal.can_at(Permission.RECTIFICATION_WRITE, path))


OWNER_ONLY = "only the item's owner or its supervisor may work on it"

ITEM: Lifecycle[RectificationItem] = Lifecycle(
    subject_type=ITEM_SUBJECT,
    noun="rectification item",
    states=ItemStatus,
    actions=[
        Action("start", Permission.RECTIFICATION_WORK, _owner_or_supervisor, OWNER_ONLY),
        Action("resolve", Permission.RECTIFICATION_WORK, _owner_or_supervisor, OWNER_ONLY),
    ],
    transitions=[
        Transition("create", (None,), I.OPEN, Permission.RECTIFICATION_WRITE),
        Transition("start", (I.OPEN,), I.IN_PROGRESS, Permission.RECTIFICATION_WORK),
        Transition(
            "resolve", (I.OPEN, I.IN_PROGRESS), I.RESOLVED, Permission.RECTIFICATION_WORK, Deadlines(meet=(ITEM_KIND,))
        ),
        Transition("verify", (I.RESOLVED,), I.VERIFIED, Permission.RECTIFICATION_WRITE),
        Transition("reopen", (I.RESOLVED, I.VERIFIED), I.IN_PROGRESS, Permission.RECTIFICATION_WRITE),
    ],
)
