"""``/metrics`` on the API, and the middleware that counts requests by route template.

``/metrics`` is an operator's endpoint, not an API operation: it is added with
``include_in_schema=False`` (so neither the contract nor the scope table lists it) and
guarded by the settings' scrape rule instead of a user's token.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.config import Settings
from services.core.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition, may_scrape

METRICS_PATH = "/metrics"
# Requests that matched no route share one label value: paths from the wild would explode the series.
UNMATCHED = "<unmatched>"


class MetricsMiddleware:
    """Count each HTTP request by route template, method and status, and time it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: BaseRoute | None = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            if template != METRICS_PATH:
                method = scope["method"]
                HTTP_REQUESTS.labels(template, method, str(status)).inc()
                HTTP_LATENCY.labels(template, method).observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition, for whoever the settings allow to scrape."""
    settings: Settings = request.app.state.settings
    allowed = may_scrape(
        open_access=settings.metrics_open(),
        token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
        networks=settings.metrics_networks,
        authorization=request.headers.get("authorization"),
        client_host=request.client.host if request.client else None,
    )
    if not allowed:
        return PlainTextResponse("forbidden\n", status_code=403)
    body, content_type = exposition()
    return Response(body, media_type=content_type)
