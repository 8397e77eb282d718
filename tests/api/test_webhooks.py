"""Signed webhooks through the API: a HIS subscribes, a referral changes, the worker's delivery pass POSTs
the event to a real receiver on loopback, and the reference library (`standardwebhooks`) verifies it.
Retries follow the schedule as `core.clock` moves; 410 and exhaustion disable the endpoint and tell the
steward; a re-enabled endpoint receives what it missed; private targets are refused when not allowed."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from standardwebhooks import Webhook

from services.cli import EVENTS
from services.core import clock
from services.core.config import Settings
from services.core.notifications.models import Notification
from services.core.security.pii import cipher_for
from services.core.webhooks import delivery
from services.core.webhooks.delivery import SCHEDULE, PassResult
from services.core.webhooks.models import WebhookDelivery, WebhookMessage
from services.core.webhooks.service import emit
from tests.apps import shared_session_client
from tests.factories import auth_headers
from tests.referral_world import ReferralWorld, build_referral_world, upward_body
from tests.webhook_receiver import LoopbackReceiver, receiving

ALL_TYPES = [
    "referral.requested",
    "referral.received",
    "referral.accepted",
    "referral.declined",
    "referral.arrived",
    "referral.completed",
    "referral.no_show",
    "referral.cancelled",
    "referral.taken_over",
    "referral.followed_up",
]


def app_client(
    db: AsyncSession, settings: Settings, engine: AsyncEngine
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The shared-session client without Redis (the delivery pass below is what these tests drive)."""
    long_lived = settings.model_copy(update={"access_token_ttl_seconds": 365 * 86400})
    return shared_session_client(db, long_lived, engine=engine, redis=None)


@pytest.fixture
async def client(db: AsyncSession, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(db, settings, engine) as c:
        yield c


def worker(db: AsyncSession, settings: Settings) -> Callable[[], Any]:
    """One delivery pass of the worker, on the test's session (each of its units of work commits a savepoint)."""

    @asynccontextmanager
    async def shared() -> AsyncIterator[AsyncSession]:
        yield db

    async def run() -> PassResult:
        async with delivery.new_client(settings) as http:
            return await delivery.deliver_pass(shared, http, settings=settings, pii=cipher_for(settings))  # type: ignore[arg-type]

    return run


async def setup(client: httpx.AsyncClient, db: AsyncSession) -> tuple[ReferralWorld, dict[str, dict[str, str]]]:
    """The referral world, time frozen at the real now (receivers check a timestamp against their own clock)."""
    clock.freeze(datetime.now(UTC).replace(microsecond=0))
    world = await build_referral_world(db)
    users = {"his": world.his, "other_his": world.other_his, "member": world.member, "desk": world.desk}
    users |= {"steward": world.hospital_steward}
    return world, {name: await auth_headers(client, user) for name, user in users.items()}


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], url: str, **over: Any) -> dict[str, Any]:
    response = await client.post(
        "/webhook-subscriptions", json={"url": url, "event_types": ALL_TYPES} | over, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


async def refer_up(
    client: httpx.AsyncClient, headers: dict[str, str], world: ReferralWorld, n: int = 1
) -> dict[str, Any]:
    body = upward_body(world, identifiers=[{"system": "urn:centre:his", "value": f"UP-{n}"}])
    response = await client.post("/referrals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    referral: dict[str, Any] = response.json()
    return referral


async def move(
    client: httpx.AsyncClient, headers: dict[str, str], referral: dict[str, Any], action: str
) -> dict[str, Any]:
    response = await client.post(
        f"/referrals/{referral['id']}/{action}", json={}, headers=headers | {"If-Match": f'"{referral["version"]}"'}
    )
    assert response.status_code == 200, response.text
    moved: dict[str, Any] = response.json()
    return moved


def signed_by(secret: str, received: Any) -> bool:
    """Whether one of the delivery's signatures is the reference library's for ``secret`` (any timestamp)."""
    expected = Webhook(secret).sign(
        received.id, datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), UTC), received.body.decode()
    )
    return expected in received.headers["webhook-signature"].split(" ")


# ------------------------------------------------------------------------------------------ delivery


async def test_a_his_receives_each_referral_change_signed_and_the_reference_library_verifies_it(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving() as receiver:
        subscription = await subscribe(client, h["his"], receiver.url)
        referral = await refer_up(client, h["member"], world)
        received = await move(client, h["his"], referral, "receive")
        assert receiver.received == []  # nothing leaves before the worker's pass (the outbox holds it)
        result = await worker(db, settings)()
        assert (result.claimed, result.delivered) == (2, 2)
    events = sorted(
        (Webhook(subscription["secret"]).verify(r.body, r.headers) for r in receiver.received),
        key=lambda e: e["data"]["version"],
    )
    assert [e["type"] for e in events] == ["referral.requested", "referral.received"]
    for event in events:  # what arrives is what contracts/events documents
        jsonschema.validate(event, json.loads((EVENTS / f"{event['type']}.json").read_text(encoding="utf-8")))
    assert events[1] == {
        "type": "referral.received",
        "timestamp": events[1]["timestamp"],
        "data": {
            "id": referral["id"],
            "identifiers": [{"system": "urn:centre:his", "value": "UP-1"}],
            "version": received["version"],
            "status": "received",
        },
    }
    assert all(r.id.startswith("msg_") and r.headers["content-type"] == "application/json" for r in receiver.received)
    deliveries = (await client.get(f"/webhook-subscriptions/{subscription['id']}/deliveries", headers=h["his"])).json()
    assert {(d["status"], d["attempts"], d["next_attempt_at"]) for d in deliveries["items"]} == {("delivered", 1, None)}
    assert await worker(db, settings)() == PassResult(0, 0, 0, more=False)  # delivered once, not again


async def test_a_receiver_answering_500_twice_then_200_gets_the_event_three_times_with_one_webhook_id(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving([500, 500], default=200) as receiver:
        subscription = await subscribe(client, h["his"], receiver.url, event_types=["referral.requested"])
        await refer_up(client, h["member"], world)
        run = worker(db, settings)
        await run()  # at once: 500
        assert (await run()).claimed == 0  # the next try waits 5 s
        clock.advance(timedelta(seconds=SCHEDULE[0]))
        await run()  # 500 again
        clock.advance(timedelta(seconds=SCHEDULE[1] - 1))
        assert (await run()).claimed == 0  # 5 min, not a second less
        clock.advance(timedelta(seconds=1))
        assert (await run()).delivered == 1
    assert len(receiver.received) == 3
    assert len(set(receiver.ids())) == 1
    assert len({r.headers["webhook-timestamp"] for r in receiver.received}) == 3  # signed anew per attempt
    assert all(signed_by(subscription["secret"], r) for r in receiver.received)
    path = f"/webhook-subscriptions/{subscription['id']}"
    (item,) = (await client.get(f"{path}/deliveries", headers=h["his"])).json()["items"]
    assert (item["message_id"], item["status"], item["attempts"]) == (receiver.ids()[0], "delivered", 3)
    attempts = (await client.get(f"{path}/attempts?message_id={item['message_id']}", headers=h["his"])).json()["items"]
    assert [a["status_code"] for a in attempts] == [200, 500, 500]  # newest first


async def test_retry_after_asking_for_longer_than_the_schedule_is_honoured(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving([503], default=204, retry_after="120") as receiver:
        await subscribe(client, h["his"], receiver.url, event_types=["referral.requested"])
        await refer_up(client, h["member"], world)
        run = worker(db, settings)
        await run()
        clock.advance(timedelta(seconds=SCHEDULE[0]))
        assert (await run()).claimed == 0  # 5 s is not enough: the receiver asked for 120
        clock.advance(timedelta(seconds=115))
        assert (await run()).delivered == 1
    assert len(receiver.received) == 2


async def test_410_gone_disables_the_endpoint_and_tells_the_steward(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving(default=410) as receiver:
        subscription = await subscribe(client, h["his"], receiver.url)
        referral = await refer_up(client, h["member"], world)
        await worker(db, settings)()
        await move(client, h["his"], referral, "receive")  # while disabled: kept, not sent
        assert (await worker(db, settings)()).claimed == 0
    assert len(receiver.received) == 1
    read = (await client.get(f"/webhook-subscriptions/{subscription['id']}", headers=h["his"])).json()
    assert (read["status"], read["disabled_reason"]) == ("disabled", "gone")
    (note,) = (
        await db.scalars(
            select(Notification).where(
                Notification.user_id == world.hospital_steward.id, Notification.kind == "webhook.disabled"
            )
        )
    ).all()
    assert "已停用" in note.title
    assert "127.0.0.1" in note.body
    assert "410" in note.body
    assert str(subscription["id"]) not in note.body


async def test_a_disabled_then_re_enabled_endpoint_receives_what_it_missed(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving() as receiver:
        subscription = await subscribe(client, h["his"], receiver.url)
        path = f"/webhook-subscriptions/{subscription['id']}"
        off = await client.patch(path, json={"enabled": False}, headers=h["his"] | {"If-Match": '"1"'})
        assert off.status_code == 200
        assert off.json()["disabled_reason"] == "manual"
        referral = await refer_up(client, h["member"], world)
        await move(client, h["his"], referral, "receive")
        assert (await worker(db, settings)()).claimed == 0
        on = await client.patch(
            path, json={"enabled": True}, headers=h["his"] | {"If-Match": f'"{off.json()["version"]}"'}
        )
        assert on.status_code == 200
        assert on.json()["status"] == "enabled"
        assert (await worker(db, settings)()).delivered == 2
    # no order is promised between messages (a receiver compares `version`); each arrived once
    assert sorted(r.event["type"] for r in receiver.received) == ["referral.received", "referral.requested"]


async def test_exhaustion_disables_the_endpoint_tells_the_steward_and_a_re_enable_delivers_it(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving(default=500) as receiver:
        subscription = await subscribe(client, h["his"], receiver.url, event_types=["referral.requested"])
        await refer_up(client, h["member"], world)
        run = worker(db, settings)
        await run()
        for delay in SCHEDULE:  # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
            clock.advance(timedelta(seconds=delay))
            assert (await run()).claimed == 1
        assert len(receiver.received) == 8
        path = f"/webhook-subscriptions/{subscription['id']}"
        read = (await client.get(path, headers=h["his"])).json()
        assert (read["status"], read["disabled_reason"]) == ("disabled", "exhausted")
        (item,) = (await client.get(f"{path}/deliveries", headers=h["his"])).json()["items"]
        assert (item["status"], item["attempts"]) == ("exhausted", 8)
        titles = await db.scalars(select(Notification.body).where(Notification.user_id == world.hospital_steward.id))
        assert any("多次投递均失败" in t for t in titles)
        receiver.script.default = 204  # the receiver is fixed
        await client.patch(path, json={"enabled": True}, headers=h["his"] | {"If-Match": f'"{read["version"]}"'})
        assert (await run()).delivered == 1
    assert len(set(receiver.ids())) == 1
    assert len(receiver.received) == 9


async def test_a_client_asks_for_a_redelivery_of_a_delivered_message(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving() as receiver:
        subscription = await subscribe(client, h["his"], receiver.url)
        await refer_up(client, h["member"], world)
        await worker(db, settings)()
        (message_id,) = receiver.ids()
        path = f"/webhook-subscriptions/{subscription['id']}/deliveries"
        again = await client.post(f"{path}/{message_id}/redeliver", headers=h["his"])
        assert again.status_code == 202, again.text
        assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
        await worker(db, settings)()
        unknown = await client.post(f"{path}/msg_{uuid.uuid4().hex}/redeliver", headers=h["his"])
        assert unknown.status_code == 404
        malformed = await client.post(f"{path}/not-a-message/redeliver", headers=h["his"])
        assert malformed.status_code == 422
    assert receiver.ids() == [message_id, message_id]


async def test_during_a_rotation_both_secrets_sign_and_either_verifies(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world, h = await setup(client, db)
    with receiving() as receiver:
        subscription = await subscribe(client, h["his"], receiver.url)
        path = f"/webhook-subscriptions/{subscription['id']}"
        rotated = await client.post(
            f"{path}/rotate-secret", json={"keep_previous_hours": 24}, headers=h["his"] | {"If-Match": '"1"'}
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != subscription["secret"]
        assert "secret" not in (await client.get(path, headers=h["his"])).json()
        referral = await refer_up(client, h["member"], world)
        await worker(db, settings)()
        (both,) = receiver.received
        assert len(both.headers["webhook-signature"].split(" ")) == 2
        for secret in (subscription["secret"], new_secret):
            Webhook(secret).verify(both.body, both.headers)
        clock.advance(timedelta(hours=24))
        await move(client, h["his"], referral, "receive")
        await worker(db, settings)()
        only_new = receiver.received[1]
        assert len(only_new.headers["webhook-signature"].split(" ")) == 1
        assert signed_by(new_secret, only_new)
        assert not signed_by(subscription["secret"], only_new)


# --------------------------------------------------------------------------------- targets, scope, input


async def test_private_targets_are_refused_when_the_setting_is_off(
    db: AsyncSession, settings: Settings, engine: AsyncEngine
) -> None:
    strict = settings.model_copy(update={"webhooks_allow_private": False})
    assert not strict.webhooks_private_allowed()
    assert settings.webhooks_private_allowed()
    assert not settings.model_copy(update={"env": "production"}).webhooks_private_allowed()  # off in production
    async with app_client(db, strict, engine) as client:
        world, h = await setup(client, db)
        for url in (
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/hook",
        ):
            response = await client.post(
                "/webhook-subscriptions", json={"url": url, "event_types": ALL_TYPES}, headers=h["his"]
            )
            assert response.status_code == 422, (url, response.text)
            assert [e["field"] for e in response.json()["errors"]] == ["body.url"], url
    # A subscription made while private targets were allowed is still refused at delivery time, after resolution.
    with receiving() as receiver:
        async with app_client(db, settings, engine) as lenient:
            headers = await auth_headers(lenient, world.his)
            subscription = await subscribe(lenient, headers, receiver.url, event_types=["referral.requested"])
            await refer_up(lenient, await auth_headers(lenient, world.member), world)
        await worker(db, strict)()
    assert receiver.received == []
    async with app_client(db, settings, engine) as lenient:
        attempts = await lenient.get(f"/webhook-subscriptions/{subscription['id']}/attempts", headers=headers)
    (attempt,) = attempts.json()["items"]
    assert attempt["status_code"] is None
    assert "target refused" in attempt["error"]


async def test_a_his_of_one_institution_cannot_see_or_touch_another_institutions_subscriptions(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world, h = await setup(client, db)
    mine = await subscribe(client, h["his"], "http://127.0.0.1:9/hook")
    path = f"/webhook-subscriptions/{mine['id']}"
    for method, url, body in (
        ("GET", path, None),
        ("PATCH", path, {"enabled": False}),
        ("DELETE", path, None),
        ("POST", f"{path}/rotate-secret", {}),
        ("GET", f"{path}/deliveries", None),
        ("GET", f"{path}/attempts", None),
        ("POST", f"{path}/deliveries/msg_{uuid.uuid4().hex}/redeliver", None),
    ):
        response = await client.request(method, url, json=body, headers=h["other_his"] | {"If-Match": '"1"'})
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get("/webhook-subscriptions", headers=h["other_his"])).json()["items"] == []
    naming_theirs = await client.post(
        "/webhook-subscriptions",
        json={"url": "http://127.0.0.1:9/x", "event_types": ALL_TYPES, "institution_id": str(world.hospital.id)},
        headers=h["other_his"],
    )
    assert naming_theirs.status_code == 422
    assert naming_theirs.json()["errors"][0]["field"] == "body.institution_id"
    # The hospital's steward sees and manages it; its referral desk (people, not a system) may not.
    assert [s["id"] for s in (await client.get("/webhook-subscriptions", headers=h["steward"])).json()["items"]] == [
        mine["id"]
    ]
    assert (await client.get("/webhook-subscriptions", headers=h["desk"])).status_code == 403
    gone = await client.delete(path, headers=h["steward"] | {"If-Match": '"1"'})
    assert gone.status_code == 204
    assert (await client.get(path, headers=h["his"])).status_code == 404


async def test_a_create_replayed_by_id_answers_the_stored_subscription_and_its_secret(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    _, h = await setup(client, db)
    ident = str(uuid.uuid4())
    body = {"id": ident, "url": "https://his.example.org/hooks", "event_types": ["referral.accepted"]}
    first = await client.post("/webhook-subscriptions", json=body, headers=h["his"])
    again = await client.post("/webhook-subscriptions", json=body, headers=h["his"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] == first.json()["secret"]
    other = await client.post(
        "/webhook-subscriptions", json=body | {"url": "https://his.example.org/other"}, headers=h["his"]
    )
    assert other.status_code == 409
    own = "whsec_" + base64.b64encode(b"k" * 32).decode()
    brought = await client.post(
        "/webhook-subscriptions",
        json={"url": "https://his.example.org/b", "event_types": ["referral.accepted"], "secret": own},
        headers=h["his"],
    )
    assert brought.json()["secret"] == own


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://his.example.org/x"}, "body.url"),
        ({"url": "https://user:pw@his.example.org/x"}, "body.url"),
        ({"url": "https://his.example.org/x#frag"}, "body.url"),
        ({"url": "not a url at all"}, "body.url"),
        ({"event_types": []}, "body.event_types"),
        ({"event_types": ["referral.teleported"]}, "body.event_types.0"),
        ({"secret": "whsec_short"}, "body.secret"),
        ({"secret": "plain-password-not-whsec-0123456789012345678901234"}, "body.secret"),
        ({"description": "bell\u0007"}, "body.description"),
        ({"url": "https://his.example.org/x", "surprise": 1}, "body.surprise"),
    ],
)
async def test_bad_subscriptions_are_refused_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, body: dict[str, Any], field: str
) -> None:
    _, h = await setup(client, db)
    base = {"url": "https://his.example.org/hooks", "event_types": ["referral.accepted"]}
    response = await client.post("/webhook-subscriptions", json=base | body, headers=h["his"])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_changes_need_the_version_read(client: httpx.AsyncClient, db: AsyncSession) -> None:
    _, h = await setup(client, db)
    mine = await subscribe(client, h["his"], "https://his.example.org/hooks")
    path = f"/webhook-subscriptions/{mine['id']}"
    assert (await client.patch(path, json={"description": "x"}, headers=h["his"])).status_code == 428
    assert (
        await client.patch(path, json={"description": "x"}, headers=h["his"] | {"If-Match": '"7"'})
    ).status_code == 412
    assert (await client.delete(path, headers=h["his"])).status_code == 428
    changed = await client.patch(
        path, json={"event_types": ["referral.completed", "referral.completed"]}, headers=h["his"] | {"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["referral.completed"]
    assert changed.headers["ETag"] == '"2"'


async def test_emit_keeps_nothing_for_an_institution_without_subscriptions(db: AsyncSession) -> None:
    world = await build_referral_world(db)
    data = {"id": str(uuid.uuid4()), "identifiers": [], "version": 1, "status": "requested"}
    kept = await emit(
        db,
        institution_ids=[world.other_hospital.id],
        event_type="referral.requested",
        data=data,
        occurred_at=clock.now(),
    )
    assert kept is None
    assert (await db.scalars(select(WebhookMessage))).all() == []
    assert (await db.scalars(select(WebhookDelivery))).all() == []


def test_the_receiver_fixture_is_a_real_server() -> None:
    with receiving() as receiver:
        assert isinstance(receiver, LoopbackReceiver)
        response = httpx.post(receiver.url, content=b"{}", headers={"webhook-id": "msg_x"})
        assert response.status_code == 204
        assert receiver.ids() == ["msg_x"]
