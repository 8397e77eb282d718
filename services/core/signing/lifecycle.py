"""The life of a signing, declared once.

    (new) --sign--> signed --renew--> renewed
                      |                  |
                      +---terminate------+--> terminated

A signing's stage is derived, not stored: ``terminated`` once it has a termination reason,
``renewed`` while a renewal that was not cancelled before it began exists, else ``signed``
(so cancelling an upcoming renewal makes the old signing renewable again). Whether it is
upcoming, active or ended is a matter of dates (``service.status_of``), not of transitions.
Renewals take a client id, not If-Match (a retry is answered, not redone); a termination
names the version it was based on.
"""

from __future__ import annotations

from enum import StrEnum

from services.core.lifecycle import Action, Lifecycle, Transition
from services.core.security.roles import Permission
from services.core.signing.models import Signing

SUBJECT = "signing"
WRITE = Permission.SIGNINGS_WRITE


class SigningStage(StrEnum):
    SIGNED = "signed"
    RENEWED = "renewed"
    TERMINATED = "terminated"


def stage_of(signing: Signing, *, renewed: bool) -> SigningStage:
    """Where a signing stands in its life (``renewed``: a live renewal of it exists)."""
    if signing.termination_reason is not None:
        return SigningStage.TERMINATED
    return SigningStage.RENEWED if renewed else SigningStage.SIGNED


def _needs_a_query(signing: Signing) -> SigningStage:
    """Whether a renewal exists takes a query: the service derives the stage and passes ``state=``."""
    raise TypeError(f"derive signing {signing.id}'s stage with service._stage and pass it as state=")


G = SigningStage
SIGNING: Lifecycle[Signing] = Lifecycle(
    subject_type=SUBJECT,
    noun="signing",
    states=SigningStage,
    state_of=_needs_a_query,
    actions=[Action("renew", WRITE, needs_version=False)],
    transitions=[
        Transition("sign", (None,), G.SIGNED, WRITE),
        Transition("renew", (G.SIGNED,), G.RENEWED, WRITE),
        Transition("terminate", (G.SIGNED, G.RENEWED), G.TERMINATED, WRITE),
    ],
)
