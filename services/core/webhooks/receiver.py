"""``gridcare webhook-receiver``: a tiny HTTP server that verifies Standard Webhooks signatures and
prints each event, so an integrator can watch a referral's life arrive (README walk-through).

It answers 204 to a delivery whose signature verifies with one of the given secrets, 401 otherwise
(the worker retries), or a fixed ``--status`` to see how the service reacts (500: retries on the
schedule; 410: the endpoint is disabled). Deliveries are de-duplicated by ``webhook-id`` as a real
receiver should: a retry of a message already printed is acknowledged and not printed again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.core import clock
from services.core.webhooks.signing import SignatureError, verify

MAX_BODY = 1024 * 1024
Printer = Callable[[str], None]


class Receiver(ThreadingHTTPServer):
    """The server: its secrets, its fixed answer (None: 204 when verified), the ids it has seen."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connects when a batch arrives at once (SYN retries: seconds)

    def __init__(self, address: tuple[str, int], secrets: Sequence[str], *, status: int | None, out: Printer) -> None:
        super().__init__(address, _Handler)
        self.secrets = list(secrets)
        self.status = status
        self.out = out
        self.seen: set[str] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._answer(413)
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        now = clock.now()
        errors: list[str] = []
        for secret in self.server.secrets:
            try:
                verify(secret, body, headers, now=now)
                break
            except (SignatureError, ValueError) as exc:
                errors.append(str(exc))
        else:
            self.server.out(f"REFUSED {headers.get('webhook-id', '?')}: {'; '.join(errors) or 'no secret given'}")
            self._answer(401)
            return
        msg_id = headers["webhook-id"]
        with self.server.lock:
            repeat = msg_id in self.server.seen
            self.server.seen.add(msg_id)
        if self.server.status is not None:
            self.server.out(f"{msg_id} verified; answering {self.server.status} as asked")
            self._answer(self.server.status)
            return
        if not repeat:
            self.server.out(describe(msg_id, body))
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the events are what is printed."""


def describe(msg_id: str, body: bytes) -> str:
    """One line per event: when, type, referral, version, status, identifiers."""
    try:
        event = json.loads(body)
        data = event.get("data", {})
        idents = ", ".join(f"{i['system']}|{i['value']}" for i in data.get("identifiers", []))
        return (
            f"{event.get('timestamp')} {event.get('type'):<22} referral {data.get('id')} "
            f"v{data.get('version')} {data.get('status')}" + (f" [{idents}]" if idents else "") + f" ({msg_id})"
        )
    except (ValueError, AttributeError, KeyError, TypeError):
        return f"{msg_id}: {body[:200]!r}"


def serve(host: str, port: int, secrets: Sequence[str], *, status: int | None = None, out: Printer = print) -> Receiver:
    """A receiver bound to ``host:port`` (port 0: any free one); call ``serve_forever`` on it."""
    return Receiver((host, port), secrets, status=status, out=out)
