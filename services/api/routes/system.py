"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from services.api.problems import problem, problem_responses
from services.core.system import service as system

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    """Answers 200 while the process is up; checks nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: database, Redis, migrations, worker",
    response_model=Readiness,
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    """200 when the database answers and is at the code's migration head, Redis answers and a worker beat recently."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        async with state.session_factory() as db:
            await db.execute(text("select 1"))
            checks["database"] = "ok"
            revision = await system.current_revision(db)
            checks["migrations"] = (
                "ok" if revision == state.migration_head else f"at {revision}, want {state.migration_head}"
            )
            last = await system.latest_heartbeat(db)
            stale_after = timedelta(seconds=state.settings.worker_stale_after_seconds)
            checks["worker"] = "ok" if system.worker_is_fresh(last, stale_after=stale_after) else "no recent heartbeat"
    except Exception as exc:  # noqa: BLE001 - any failure here is "not ready", reported by name
        checks.setdefault("database", f"error: {type(exc).__name__}")
    try:
        await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()) and len(checks) == 4:
        return Readiness(status="ready", checks=checks)
    return problem(
        503,
        code="not_ready",
        title="Not ready",
        detail="a dependency is not ready",
        extra={"checks": checks},
        headers={"Retry-After": "5"},
    )
