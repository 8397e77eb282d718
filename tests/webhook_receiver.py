"""A real HTTP receiver on loopback for webhook tests: it records every request (headers, raw body)
and answers from a script of statuses (then a default), optionally with a ``Retry-After``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)
    default: int = 204
    retry_after: str | None = None


class LoopbackReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/hooks/gridcare"

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.received]

    def answer_next(self) -> int:
        with self.lock:
            return self.script.statuses.pop(0) if self.script.statuses else self.script.default


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackReceiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.server.lock:
            self.server.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
        status = self.server.answer_next()
        self.send_response(status)
        if self.server.script.retry_after is not None:
            self.send_header("retry-after", self.server.script.retry_after)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def receiving(
    statuses: Sequence[int] = (), *, default: int = 204, retry_after: str | None = None
) -> Iterator[LoopbackReceiver]:
    """A receiver serving in a thread for the duration of the block."""
    server = LoopbackReceiver(Script(list(statuses), default, retry_after))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
