"""Delivery channels behind one interface. The inbox is not one: it is written with the notification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from services.core.config import Settings


@dataclass(frozen=True)
class Envelope:
    """What a channel sends. ``message_id`` is stable across retries, so receivers can de-duplicate."""

    message_id: str
    user_id: str
    kind: str
    title: str
    body: str
    subject_type: str | None
    subject_id: str | None


class ChannelError(Exception):
    """Delivery failed; ``permanent`` when retrying cannot help (the gateway refused the message)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, envelope: Envelope) -> None:
        """Deliver or raise ``ChannelError``."""


class SmsGateway:
    """Posts a JSON message to an HTTP SMS gateway with basic auth and a timeout.

    5xx, 408, 429 and network errors are temporary (retried with backoff); other 4xx are permanent.
    """

    name = "sms"

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.auth = httpx.BasicAuth(username, password or "") if username else None
        self.timeout = timeout
        self.transport = transport

    async def send(self, envelope: Envelope) -> None:
        """POST the message; raise ``ChannelError`` unless the gateway answers 2xx."""
        payload: dict[str, Any] = {
            "message_id": envelope.message_id,
            "user_id": envelope.user_id,
            "text": f"{envelope.title}\n{envelope.body}",
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(
                    self.url,
                    json=payload,
                    auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                    headers={"Idempotency-Key": envelope.message_id},
                )
        except httpx.HTTPError as exc:
            raise ChannelError(f"sms gateway unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return
        temporary = response.status_code >= 500 or response.status_code in (408, 429)
        raise ChannelError(f"sms gateway answered {response.status_code}", permanent=not temporary)


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The external channels configured: SMS when a gateway URL is set; none otherwise (inbox only)."""
    channels: dict[str, Channel] = {}
    if settings.sms_gateway_url:
        password = settings.sms_gateway_password.get_secret_value() if settings.sms_gateway_password else None
        channels["sms"] = SmsGateway(
            settings.sms_gateway_url,
            username=settings.sms_gateway_username,
            password=password,
            timeout=settings.sms_gateway_timeout_seconds,
        )
    return channels


def enabled_channels(settings: Settings) -> tuple[str, ...]:
    """Names of the external channels a new notification is queued for."""
    return ("sms",) if settings.sms_gateway_url else ()
