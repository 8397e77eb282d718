"""The whistle -> report-in loop as its people meet it, through HTTP: a phone's queue is never blocked
by one bad item; the village committee can act on an urgent risk; messages people can read; the
sentinel sees who came; an urgent risk happening now has a 2-hour report-in clock."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.reports.models import SentinelReport
from tests.api.test_reports import client, world_at_t0  # noqa: F401 - the shared-session client fixture
from tests.factories import auth_headers
from tests.report_world import health_need

__all__ = ["client"]


async def test_an_offline_queue_is_never_blocked_by_one_bad_item(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    good = [health_need(world.grid.id, world.resident.id) for _ in range(2)]
    unknown_category = health_need(world.grid.id, world.resident.id)
    unknown_category["details"] = {"category": "gossip", "description": "x"}
    too_long = health_need(world.grid.id, world.resident.id)
    too_long["details"] = too_long["details"] | {"description": "长" * 501}
    no_grid = health_need(world.grid.id, world.resident.id)
    del no_grid["grid_id"]
    bad_id = health_need(world.grid.id, world.resident.id, id="queue-item-7")
    items: list[Any] = [good[0], unknown_category, too_long, no_grid, bad_id, good[1]]
    headers = await auth_headers(client, world.sentinel)
    response = await client.post("/reports/batch", json={"reports": items}, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["stored"], result["replayed"], result["refused"]) == (2, 0, 4)
    assert [i["status"] for i in result["items"]] == [201, 422, 422, 422, 422, 201]
    assert [i["index"] for i in result["items"]] == list(range(6))

    def fields(index: int) -> list[str]:
        problem = result["items"][index]["problem"]
        assert problem["code"] == "validation_error"
        return [e["field"] for e in problem["errors"]]

    assert fields(1) == ["body.reports.1.details"]
    assert fields(2) == ["body.reports.2.details.health_need.description"]
    assert fields(3) == ["body.reports.3.grid_id"]
    assert fields(4) == ["body.reports.4.id"]
    assert result["items"][1]["id"] == unknown_category["id"]
    assert result["items"][4]["id"] is None
    stored = set(await db.scalars(select(SentinelReport.id)))
    assert stored == {uuid.UUID(g["id"]) for g in good}
    # Only a body that is not a list of objects is refused whole.
    for body in ({"reports": [good[0], "not an object"]}, {"reports": []}, {"reports": {"0": good[0]}}):
        refused = await client.post("/reports/batch", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 2
    _ = timedelta
