"""Notifications: once per event, an outbox that survives a failing SMS gateway, delta sync that skips nothing."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core import clock
from services.core.accounts.models import User
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.notifications import service
from services.core.notifications.channels import SmsGateway, channels_from_settings
from services.core.notifications.models import Notification, OutboxMessage, OutboxState
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import make_district, make_user

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class FlakyGateway:
    """A local HTTP SMS gateway that answers 503 to the first ``failures`` calls, then 200."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.calls: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                gateway.calls.append({"body": body, "auth": self.headers.get("Authorization")})
                failing = len(gateway.calls) <= gateway.failures
                self.send_response(gateway.status if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        # A short poll: shutdown() waits for the next one (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FlakyGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky_gateway() -> Iterator[FlakyGateway]:
    with FlakyGateway(failures=3) as gateway:
        yield gateway


def sms_settings(url: str) -> Settings:
    return Settings(
        env="test",
        sms_gateway_url=url,
        sms_gateway_username="gridcare",
        sms_gateway_password="gateway-secret",  # type: ignore[arg-type]
        sms_gateway_timeout_seconds=2,
        outbox_backoff_base_seconds=30,
        outbox_backoff_max_seconds=3600,
    )


async def two_users(db: AsyncSession) -> tuple[User, User]:
    district = await make_district(db)
    return await make_user(db, Role.TEAM_MEMBER, district), await make_user(db, Role.TEAM_LEADER, district)


async def test_notifying_twice_for_one_event_writes_once(db: AsyncSession) -> None:
    a, b = await two_users(db)
    for _ in range(2):
        await service.notify(
            db, user_ids=[a.id, b.id, a.id], kind="k", title="t", body="b", dedupe_key="event:1", channels=("sms",)
        )
    count = await db.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id.in_([a.id, b.id]))
    )
    outbox = await db.scalar(
        select(func.count()).select_from(OutboxMessage).join(Notification).where(Notification.user_id.in_([a.id, b.id]))
    )
    assert (count, outbox) == (2, 2)


async def test_without_a_gateway_only_the_inbox_is_written(db: AsyncSession) -> None:
    a, _ = await two_users(db)
    assert channels_from_settings(Settings(env="test")) == {}
    [item] = await service.notify(db, user_ids=[a.id], kind="k", title="t", body="b", dedupe_key="e2", channels=())
    assert await db.scalar(select(func.count()).where(OutboxMessage.notification_id == item)) == 0


async def test_a_failing_sms_gateway_never_loses_a_message(db: AsyncSession, flaky_gateway: FlakyGateway) -> None:
    settings = sms_settings(flaky_gateway.url)
    channels = channels_from_settings(settings)
    assert isinstance(channels["sms"], SmsGateway)
    a, _ = await two_users(db)
    clock.freeze(T0)
    [item] = await service.notify(
        db,
        user_ids=[a.id],
        kind="deadline.breach",
        title="Overdue",
        body="report x",
        dedupe_key="e3",
        channels=("sms",),
    )
    message_id = await db.scalar(select(OutboxMessage.id).where(OutboxMessage.notification_id == item))
    assert message_id is not None

    waits = []
    outcomes = []
    for _ in range(10):
        outcome = await service.deliver_one(db, message_id=message_id, channels=channels, settings=settings)
        outcomes.append(outcome)
        if outcome == "sent":
            break
        message = await db.get(OutboxMessage, message_id, populate_existing=True)
        assert message is not None
        assert message.next_attempt_at is not None
        # Not due yet: nothing happens before the backoff has passed.
        clock.advance(message.next_attempt_at - clock.now() - timedelta(seconds=1))
        assert await service.deliver_one(db, message_id=message_id, channels=channels, settings=settings) is None
        clock.advance(timedelta(seconds=1))
        waits.append(message.next_attempt_at)
    assert outcomes == ["retry", "retry", "retry", "sent"]
    assert [w - T0 for w in waits] == [timedelta(seconds=30), timedelta(seconds=90), timedelta(seconds=210)]
    message = await db.get(OutboxMessage, message_id, populate_existing=True)
    assert message is not None
    assert (message.state, message.attempts, message.last_error) == (OutboxState.SENT, 4, None)
    # The gateway saw one message id throughout, so it can de-duplicate; credentials were sent.
    assert {c["body"]["message_id"] for c in flaky_gateway.calls} == {f"{item}:sms"}
    assert flaky_gateway.calls[0]["auth"] == "Basic " + base64.b64encode(b"gridcare:gateway-secret").decode()
    assert "Overdue" in flaky_gateway.calls[0]["body"]["text"]
    assert await service.deliver_one(db, message_id=message_id, channels=channels, settings=settings) is None


async def test_a_refused_message_is_kept_as_failed(db: AsyncSession) -> None:
    with FlakyGateway(failures=100, status=400) as gateway:
        settings = sms_settings(gateway.url)
        a, _ = await two_users(db)
        [item] = await service.notify(
            db, user_ids=[a.id], kind="k", title="t", body="b", dedupe_key="e4", channels=("sms",)
        )
        message = await db.scalar(select(OutboxMessage).where(OutboxMessage.notification_id == item))
        assert message is not None
        outcome = await service.deliver_one(
            db, message_id=message.id, channels=channels_from_settings(settings), settings=settings
        )
    assert outcome == "failed"
    await db.refresh(message)
    assert message.state == OutboxState.FAILED
    assert "400" in (message.last_error or "")


async def test_an_unreachable_gateway_is_retried(db: AsyncSession) -> None:
    settings = sms_settings("http://127.0.0.1:9/nothing-listens-here")
    a, _ = await two_users(db)
    [item] = await service.notify(
        db, user_ids=[a.id], kind="k", title="t", body="b", dedupe_key="e5", channels=("sms",)
    )
    message_id = await db.scalar(select(OutboxMessage.id).where(OutboxMessage.notification_id == item))
    assert message_id is not None
    outcome = await service.deliver_one(
        db, message_id=message_id, channels=channels_from_settings(settings), settings=settings
    )
    assert outcome == "retry"


def test_backoff_doubles_and_is_capped() -> None:
    waits = [service.backoff(n, base_seconds=30, max_seconds=600).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 480, 600]


# --- delta sync against committed data: each change once, none skipped -------------------------


@pytest.fixture(scope="module")
async def committed(servers: Servers) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await fresh_database(servers, "gridcare_inbox")
    engine = make_engine(url, pool_size=4)
    yield make_session_factory(engine)
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


Seen = list[tuple[uuid.UUID, datetime | None]]


async def sync_all(
    factory: async_sessionmaker[AsyncSession], user_id: uuid.UUID, since: str | None, limit: int = 3
) -> tuple[Seen, str]:
    """Sync page by page until ``has_more`` is false, as the app does."""
    seen: Seen = []
    cursor = since
    while True:
        async with session_scope(factory) as db:
            rows, cursor, more = await service.changes(db, user_id=user_id, since=cursor, limit=limit)
        seen.extend((r.id, r.read_at) for r in rows)
        if not more:
            return seen, cursor


async def test_delta_sync_delivers_each_change_once_and_a_late_commit_is_not_skipped(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(committed) as db:
        user, _ = await two_users(db)
        for i in range(7):
            await service.notify(db, user_ids=[user.id], kind="k", title=f"t{i}", body="b", dedupe_key=f"d{i}")
    seen, cursor = await sync_all(committed, user.id, None)
    assert len(seen) == 7
    assert len({i for i, _ in seen}) == 7
    assert (await sync_all(committed, user.id, cursor))[0] == []

    # A transaction that started writing first but commits last must not fall behind the cursor. Its item is
    # numbered at its commit, so it holds no lock meanwhile: the fast one is not kept waiting.
    slow = committed()
    [slow_item] = await service.notify(slow, user_ids=[user.id], kind="k", title="slow", body="b", dedupe_key="slow")
    async with session_scope(committed) as db:
        [fast] = await service.notify(db, user_ids=[user.id], kind="k", title="fast", body="b", dedupe_key="fast")
    during, cursor_during = await sync_all(committed, user.id, cursor)
    assert [i for i, _ in during] == [fast]
    await slow.commit()
    await slow.close()
    after, cursor = await sync_all(committed, user.id, cursor_during)
    assert [i for i, _ in after] == [slow_item], "the late commit comes after the cursor that passed the fast one"

    # Marking read is a change: it comes once more, with read_at.
    first = seen[0][0]
    async with session_scope(committed) as db:
        await service.mark_read(db, user_id=user.id, notification_id=first)
    changed, cursor = await sync_all(committed, user.id, cursor)
    assert [i for i, _ in changed] == [first]
    assert changed[0][1] is not None
    assert (await sync_all(committed, user.id, cursor))[0] == []
