"""The social-work transition tables (case, aid application, discharge transfer), pinned as the plan states
them and walked through the services: every (state, action) pair in a table succeeds, every other one
answers 409 (tests/core/test_lifecycle_tables.py does the same for reports, signings and teams)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.service import active_grants
from services.core.errors import Forbidden, IllegalTransition, PreconditionFailed, PreconditionRequired
from services.core.lifecycle import Lifecycle
from services.core.security.principal import Principal
from services.core.socialwork import access, aid, cases, transfers
from services.core.socialwork.lifecycle import AID, CASE, TRANSFER
from services.core.socialwork.models import (
    AidApplication,
    AidStatus,
    CaseStatus,
    SocialWorkCase,
    Transfer,
    TransferStatus,
)
from services.core.socialwork.schemas import (
    AidApprove,
    AidCreate,
    AidReject,
    AidStep,
    AssessmentCreate,
    ClosureRequest,
    PlanCreate,
    Reopen,
    Review,
    SendBack,
    TransferAccept,
    TransferCreate,
    TransferDecline,
    TransferFollowUp,
    WorkerAssign,
)
from tests.core.test_lifecycle_tables import _walk
from tests.factories import TEST_PII, make_case
from tests.socialwork_world import SocialWorkWorld, build_social_work_world

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S, A, T = CaseStatus, AidStatus, TransferStatus

CASE_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("open", None): S.INTAKE,
    ("assess", S.INTAKE): S.ASSESSING,
    ("assess", S.REOPENED): S.ASSESSING,
    ("assess", S.ASSESSING): None,
    ("assess", S.PLANNING): None,
    ("assess", S.ACTIVE): None,
    ("plan", S.ASSESSING): S.PLANNING,
    ("plan", S.PLANNING): S.PLANNING,
    ("approve_plan", S.PLANNING): S.ACTIVE,
    ("send_back_plan", S.PLANNING): S.PLANNING,
    ("assign", S.INTAKE): None,
    ("assign", S.ASSESSING): None,
    ("assign", S.PLANNING): None,
    ("assign", S.ACTIVE): None,
    ("assign", S.CLOSURE_REQUESTED): None,
    ("assign", S.REOPENED): None,
    ("request_closure", S.ACTIVE): S.CLOSURE_REQUESTED,
    ("approve_closure", S.CLOSURE_REQUESTED): S.CLOSED,
    ("send_back_closure", S.CLOSURE_REQUESTED): S.ACTIVE,
    ("reopen", S.CLOSED): S.REOPENED,
}
AID_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("draft", None): A.DRAFTED,
    ("submit", A.DRAFTED): A.SUBMITTED,
    ("approve", A.SUBMITTED): A.APPROVED,
    ("reject", A.SUBMITTED): A.REJECTED,
    ("deliver", A.APPROVED): A.DELIVERED,
    ("withdraw", A.DRAFTED): A.WITHDRAWN,
    ("withdraw", A.SUBMITTED): A.WITHDRAWN,
}
TRANSFER_TABLE: dict[tuple[str, StrEnum | None], StrEnum | None] = {
    ("offer", None): T.OFFERED,
    ("accept", T.OFFERED): T.ACCEPTED,
    ("decline", T.OFFERED): T.DECLINED,
    ("follow_up", T.ACCEPTED): T.FOLLOWED_UP,
    ("cancel", T.OFFERED): T.CANCELLED,
}


@pytest.mark.parametrize(
    ("declared", "table"), [(CASE, CASE_TABLE), (AID, AID_TABLE), (TRANSFER, TRANSFER_TABLE)], ids=str
)
def test_each_social_work_declaration_is_the_planned_table(declared: Lifecycle[Any], table: dict[Any, Any]) -> None:
    assert {pair: t.target for pair, t in declared.pairs().items()} == table


async def _principal(db: AsyncSession, user: Any) -> Principal:
    return Principal(user.id, "u", "person", uuid.uuid4(), tuple(await active_grants(db, user_id=user.id)))


async def _world(db: AsyncSession) -> SocialWorkWorld:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_social_work_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    return world


async def _case_in(db: AsyncSession, w: SocialWorkWorld, state: CaseStatus) -> uuid.UUID:
    case = await make_case(db, w.department, w.worker, resident=w.base.resident)
    facts: dict[str, Any] = {"status": state.value}
    if state is S.PLANNING:
        facts["plan_submitted_at"] = T0
    await db.execute(update(SocialWorkCase).where(SocialWorkCase.id == case.id).values(**facts))
    return case.id  # type: ignore[no-any-return]


async def test_every_case_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    w = await _world(db)
    worker, supervisor = await _principal(db, w.worker), await _principal(db, w.supervisor)
    ids = {state: await _case_in(db, w, state) for state in CaseStatus}
    supervising = {"approve_plan", "send_back_plan", "approve_closure", "send_back_closure"}
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "assess": lambda a, p, n: cases.assess(
            db, a, p, AssessmentCreate(domains=["emotional"], risk_level="low"), expected_version=n
        ),
        "plan": lambda a, p, n: cases.plan(db, a, p, PlanCreate(goals=["稳定情绪"]), expected_version=n),
        "approve_plan": lambda a, p, n: cases.approve_plan(db, a, p, Review(), expected_version=n),
        "send_back_plan": lambda a, p, n: cases.send_back_plan(db, a, p, SendBack(comments="补充"), expected_version=n),
        "assign": lambda a, p, n: cases.assign(db, a, p, WorkerAssign(user_id=w.colleague.id), expected_version=n),
        "request_closure": lambda a, p, n: cases.request_closure(
            db, a, p, ClosureRequest(goals_met="all", summary="完成"), expected_version=n
        ),
        "approve_closure": lambda a, p, n: cases.approve_closure(db, a, p, Review(), expected_version=n),
        "send_back_closure": lambda a, p, n: cases.send_back_closure(
            db, a, p, SendBack(comments="再跟进"), expected_version=n
        ),
        "reopen": lambda a, p, n: cases.reopen(db, a, p, Reopen(reason="再入院"), expected_version=n),
    }

    async def attempt(state: StrEnum, action: str) -> StrEnum:
        principal = supervisor if action in supervising else worker
        case, path = await cases.get_in_scope(db, principal, ids[state])
        await db.refresh(case)
        actor = await cases.actor_for(db, principal, case)
        await calls[action](actor, path, case.version)
        return CaseStatus(case.status)

    await _walk(CaseStatus, list(calls), CASE_TABLE, db, attempt)


async def test_a_case_change_is_refused_in_the_one_order(db: AsyncSession) -> None:
    w = await _world(db)
    worker, colleague, supervisor = [await _principal(db, u) for u in (w.worker, w.colleague, w.supervisor)]
    case_id = await _case_in(db, w, S.INTAKE)
    case, path = await cases.get_in_scope(db, supervisor, case_id)
    actor = await cases.actor_for(db, supervisor, case)
    with pytest.raises(PreconditionRequired):
        await cases.approve_plan(db, actor, path, Review(), expected_version=None)
    with pytest.raises(PreconditionFailed):
        await cases.approve_plan(db, actor, path, Review(), expected_version=case.version + 1)
    as_colleague = await cases.actor_for(db, colleague, case)  # of the department, not of the case
    with pytest.raises(Forbidden):
        await cases.assess(
            db,
            as_colleague,
            path,
            AssessmentCreate(domains=["family"], risk_level="low"),
            expected_version=case.version,
        )
    with pytest.raises(Forbidden):  # a social worker may not approve, whatever the state
        await cases.approve_plan(
            db, await cases.actor_for(db, worker, case), path, Review(), expected_version=case.version
        )
    with pytest.raises(IllegalTransition):
        await cases.approve_plan(db, actor, path, Review(), expected_version=case.version)


async def test_every_aid_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    w = await _world(db)
    worker = await _principal(db, w.worker)
    case_id = await _case_in(db, w, S.ACTIVE)
    case, path = await cases.get_in_scope(db, worker, case_id)
    actor = await cases.actor_for(db, worker, case)
    ids: dict[StrEnum, uuid.UUID] = {}
    for status in AidStatus:
        body = AidCreate(
            kind="medical_aid",
            programme="城乡医疗救助",
            amount_requested=Decimal("1000"),
            documents=[{"name": "低保证明", "kind": "income"}],
        )
        row, _ = await aid.create(db, actor, path, body)
        await db.execute(update(AidApplication).where(AidApplication.id == row.id).values(status=status.value))
        ids[status] = row.id
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "submit": lambda r, n: aid.submit(db, actor, path, r, AidStep(), expected_version=n),
        "approve": lambda r, n: aid.approve(
            db, actor, path, r, AidApprove(amount_approved=Decimal("500")), expected_version=n
        ),
        "reject": lambda r, n: aid.reject(db, actor, path, r, AidReject(reason="不符合条件"), expected_version=n),
        "deliver": lambda r, n: aid.deliver(db, actor, path, r, AidStep(), expected_version=n),
        "withdraw": lambda r, n: aid.withdraw(db, actor, path, r, AidStep(), expected_version=n),
    }

    async def attempt(status: StrEnum, action: str) -> StrEnum:
        row, _, _ = await aid.get_in_scope(db, worker, ids[status])
        await db.refresh(row)
        await calls[action](row, row.version)
        return AidStatus(row.status)

    await _walk(AidStatus, list(calls), AID_TABLE, db, attempt)


async def test_every_transfer_pair_in_the_table_succeeds_and_every_other_answers_409(db: AsyncSession) -> None:
    w = await _world(db)
    worker, member = await _principal(db, w.worker), await _principal(db, w.base.member)
    case_id = await _case_in(db, w, S.ACTIVE)
    case, path = await cases.get_in_scope(db, worker, case_id)
    sender = await cases.actor_for(db, worker, case)
    ids: dict[StrEnum, uuid.UUID] = {}
    for status in TransferStatus:
        body = TransferCreate.model_validate(
            {
                "summary": "出院随访",
                "consent": {"given_by": "patient", "method": "written", "given_at": T0.isoformat()},
                "discharged_at": T0.isoformat(),
            }
        )
        scoped, _ = await transfers.create(db, sender, path, body, pii=TEST_PII)
        await db.execute(
            update(Transfer).where(Transfer.id == scoped.transfer.id).values(status=status.value, answered_at=T0)
        )
        ids[status] = scoped.transfer.id
    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "accept": lambda a, s, n: transfers.accept(db, a, s, TransferAccept(), expected_version=n),
        "decline": lambda a, s, n: transfers.decline(db, a, s, TransferDecline(reason="不在本村"), expected_version=n),
        "follow_up": lambda a, s, n: transfers.follow_up(
            db, a, s, TransferFollowUp(channel="phone", outcome="reached"), expected_version=n
        ),
        "cancel": lambda a, s, n: transfers.cancel(db, a, s, expected_version=n),
    }

    async def attempt(status: StrEnum, action: str) -> StrEnum:
        viewer = await access.viewer_for(db, worker if action == "cancel" else member)
        scoped = await transfers.get_in_scope(db, viewer, ids[status])
        await db.refresh(scoped.transfer)
        actor = await transfers.actor_for(db, viewer, scoped)
        await calls[action](actor, scoped, scoped.transfer.version)
        return TransferStatus(scoped.transfer.status)

    await _walk(TransferStatus, list(calls), TRANSFER_TABLE, db, attempt)
