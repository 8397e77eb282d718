"""Standard Webhooks signing agrees with the reference library; the receiver command verifies and prints;
the target guard refuses what is not a public receiver; the retry schedule and Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.core import clock
from services.core.webhooks import signing, targets
from services.core.webhooks.delivery import MAX_ATTEMPTS, SCHEDULE, next_delay, parse_retry_after
from services.core.webhooks.receiver import Receiver, serve

BODY = b'{"type":"referral.accepted","timestamp":"2026-11-30T05:00:00Z","data":{"id":"x","version":3}}'


def test_our_signature_is_the_reference_librarys_and_it_verifies_ours() -> None:
    secret = signing.new_secret()
    at = datetime.now(UTC).replace(microsecond=0)
    headers = signing.headers([secret], "msg_1", at, BODY)
    assert headers["webhook-signature"] == Webhook(secret).sign("msg_1", at, BODY.decode())
    assert Webhook(secret).verify(BODY, headers)["data"]["version"] == 3
    signing.verify(secret, BODY, headers, now=at)


def test_during_a_rotation_each_secret_verifies_and_a_third_does_not() -> None:
    old, new, other = signing.new_secret(), signing.new_secret(), signing.new_secret()
    at = datetime.now(UTC)
    headers = signing.headers([new, old], "msg_2", at, BODY)
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)


def test_a_tampered_body_a_stale_timestamp_or_a_missing_header_is_refused() -> None:
    secret = signing.new_secret()
    at = datetime.now(UTC)
    headers = signing.headers([secret], "msg_3", at, BODY)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY.replace(b"3", b"4"), headers, now=at)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, headers, now=at + timedelta(minutes=6))
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, {k: v for k, v in headers.items() if k != "webhook-id"}, now=at)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, list[str], str]]:
    secret = signing.new_secret()
    printed: list[str] = []
    server = serve("127.0.0.1", 0, [secret], out=printed.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server, printed, secret
    server.shutdown()
    server.server_close()


def test_the_receiver_command_prints_a_verified_event_once_and_refuses_a_forged_one(
    receiver: tuple[Receiver, list[str], str],
) -> None:
    server, printed, secret = receiver
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    headers = signing.headers([secret], "msg_4", clock.now(), BODY)
    assert httpx.post(url, content=BODY, headers=headers).status_code == 204
    assert httpx.post(url, content=BODY, headers=headers).status_code == 204  # a retry: acknowledged
    forged = signing.headers([signing.new_secret()], "msg_5", clock.now(), BODY)
    assert httpx.post(url, content=BODY, headers=forged).status_code == 401
    assert len(printed) == 2
    assert "referral.accepted" in printed[0]
    assert "v3" in printed[0]
    assert printed[1].startswith("REFUSED msg_5")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "http://10.0.0.1/x",
        "http://172.16.5.4/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/x",
        "http://100.64.0.1/x",  # carrier-grade NAT: not global
        "http://[::1]/x",
        "http://[fe80::1]/x",
        "http://[fc00::1]/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://224.0.0.1/x",
    ],
)
async def test_private_and_local_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        await targets.check_subscribe(url, allow_private=False)
    with pytest.raises(targets.TargetRefused):
        await targets.for_delivery(url, allow_private=False)
    await targets.check_subscribe(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["ftp://his.example.org/x", "https://u:p@his.example.org/x", "https://his.example.org/x#f", "https:///x"]
)
async def test_malformed_targets_are_refused_even_when_private_ones_are_allowed(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        await targets.check_subscribe(url, allow_private=True)


async def test_a_public_address_is_pinned_and_keeps_its_host_for_tls() -> None:
    target = await targets.for_delivery("https://93.184.216.34:8443/hooks?a=1", allow_private=False)
    assert target.url == "https://93.184.216.34:8443/hooks?a=1"
    assert target.host_header == "93.184.216.34:8443"


def test_the_schedule_is_immediate_then_5s_5min_30min_2h_5h_10h_10h() -> None:
    assert SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert MAX_ATTEMPTS == 8
    assert [next_delay(n, None) for n in range(1, 8)] == [timedelta(seconds=s) for s in SCHEDULE]
    assert next_delay(8, None) is None  # exhausted
    assert next_delay(1, timedelta(minutes=2)) == timedelta(minutes=2)  # a longer Retry-After wins
    assert next_delay(3, timedelta(seconds=10)) == timedelta(minutes=30)  # a shorter one does not
    assert next_delay(1, timedelta(days=30)) == timedelta(hours=24)  # capped


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == timedelta(seconds=120)
    assert parse_retry_after("Mon, 30 Nov 2026 05:10:00 GMT", now) == timedelta(minutes=10)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
