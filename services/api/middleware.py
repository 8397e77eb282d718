"""Pure ASGI middleware: request ids, the body-size limit, no-store answers.

Pure ASGI (not BaseHTTPMiddleware) so that the request id context reaches the
handlers and bodies are counted as they stream rather than after being buffered.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import internal_error, problem
from services.core.logging import reset_request_id, set_request_id

log = logging.getLogger("gridcare.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestIdMiddleware:
    """Take a sane ``X-Request-ID`` from the caller or make one; echo it; log one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        started_response = False

        async def tracking_send(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # Rendered here, inside the request-id context, so even a bug's 500 carries the id.
            log.exception("unhandled error", extra={"path": scope["path"]})
            if started_response:
                raise
            await internal_error(scope["path"])(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            reset_request_id(token)


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, by Content-Length or while streaming.

    File uploads (paths ending in ``/imports``) get the larger ``upload_bytes`` limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if scope["path"].endswith("/imports") else self.default_bytes
        await _LimitedRequest(self.app, limit)(scope, receive, send)


class _LimitedRequest:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"the body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            code="payload_too_large",
            title="Payload too large",
            detail=f"the body is larger than {self.max_bytes} bytes",
            instance=scope["path"],
        )
        await response(scope, receive, send)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` and ``Pragma: no-cache`` on every answer of ``paths`` (RFC 6749 §5.1
    for the token endpoint), errors included: it wraps the whole app, so a 413 or a 422 carries them too."""

    def __init__(self, app: ASGIApp, *, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return

        async def no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NO_STORE]
                message["headers"] = [*headers, (b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
            await send(message)

        await self.app(scope, receive, no_store)


_NO_STORE = frozenset({b"cache-control", b"pragma"})
