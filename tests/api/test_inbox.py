"""The inbox over HTTP: only ever the caller's own items; mark read is idempotent; sync pages cleanly."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.notifications import service
from services.core.security.roles import Role
from tests.factories import auth_headers, make_district, make_user


async def two_users_with_items(db: AsyncSession, n: int = 2) -> tuple[User, User]:
    district = await make_district(db)
    a = await make_user(db, Role.TEAM_MEMBER, district)
    b = await make_user(db, Role.TEAM_MEMBER, district)
    for i in range(n):
        await service.notify(
            db, user_ids=[a.id, b.id], kind="deadline.reminder", title=f"t{i}", body="b", dedupe_key=f"e{i}"
        )
    return a, b


async def test_a_cannot_read_or_mark_bs_items(client: httpx.AsyncClient, db: AsyncSession) -> None:
    a, b = await two_users_with_items(db)
    headers_a = await auth_headers(client, a)
    headers_b = await auth_headers(client, b)
    b_items = (await client.get("/inbox", headers=headers_b)).json()["items"]
    a_items = (await client.get("/inbox", headers=headers_a)).json()["items"]
    assert len(a_items) == len(b_items) == 2
    assert {i["id"] for i in a_items}.isdisjoint({i["id"] for i in b_items})
    synced = (await client.get("/inbox/changes", headers=headers_a)).json()["items"]
    assert {i["id"] for i in synced} == {i["id"] for i in a_items}

    response = await client.post(f"/inbox/{b_items[0]['id']}/read", headers=headers_a)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.post("/inbox/read-all", headers=headers_a)).json() == {"marked": 2}
    still_unread = (await client.get("/inbox?unread=true", headers=headers_b)).json()["items"]
    assert len(still_unread) == 2


async def test_mark_read_is_idempotent_and_the_unread_filter_follows(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    a, _ = await two_users_with_items(db, n=3)
    headers = await auth_headers(client, a)
    items = (await client.get("/inbox?unread=true", headers=headers)).json()["items"]
    assert len(items) == 3
    first = await client.post(f"/inbox/{items[0]['id']}/read", headers=headers)
    again = await client.post(f"/inbox/{items[0]['id']}/read", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["read_at"] == again.json()["read_at"] is not None
    assert len((await client.get("/inbox?unread=true", headers=headers)).json()["items"]) == 2
    assert len((await client.get("/inbox", headers=headers)).json()["items"]) == 3
    assert (await client.post("/inbox/read-all", headers=headers)).json() == {"marked": 2}
    assert (await client.post("/inbox/read-all", headers=headers)).json() == {"marked": 0}


async def test_list_pages_and_sync_pages_deliver_each_item_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    a, _ = await two_users_with_items(db, n=7)
    headers = await auth_headers(client, a)
    listed: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/inbox", headers=headers, params=params)).json()
        listed += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(listed) == len(set(listed)) == 7

    synced: list[str] = []
    since = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"since": since} if since else {})
        body = (await client.get("/inbox/changes", headers=headers, params=params)).json()
        synced += [i["id"] for i in body["items"]]
        since = body["cursor"]
        pages += 1
        if not body["has_more"]:
            break
    assert pages == 3
    assert sorted(synced) == sorted(listed)
    assert len(set(synced)) == 7
    last = (await client.get("/inbox/changes", headers=headers, params={"since": since})).json()
    assert last["items"] == []
    assert last["cursor"] == since


async def test_a_foreign_cursor_is_a_422(client: httpx.AsyncClient, db: AsyncSession) -> None:
    a, _ = await two_users_with_items(db, n=1)
    headers = await auth_headers(client, a)
    assert (await client.get("/inbox/changes", headers=headers, params={"since": "bm9wZQ"})).status_code == 422
    assert (await client.get("/inbox", headers=headers, params={"cursor": "WzFd"})).status_code == 422
