"""A real HTTP receiver on loopback for webhook tests: it records every request (headers, raw body)
and answers from a script of statuses (then a default), optionally with a ``Retry-After``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # wall time of arrival (the benchmark's lag)

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
    request_queue_size = 128  # the default 5 drops connects when a batch arrives at once (SYN retries: seconds)

    def __init__(self, script: Script, log: TextIO | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.log = log  # in a process of its own (the benchmark): one "<webhook-id> <arrival>" line each

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
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        got = Received({k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.lock:
            self.server.received.append(got)
            if self.server.log is not None:
                self.server.log.write(f"{got.headers.get('webhook-id')} {got.at}\n")
                self.server.log.flush()
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
    # serve_forever notices shutdown() only between polls: at its default 0.5 s, every block ended
    # with up to half a second of waiting.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    """``python -m tests.webhook_receiver LOG``: serve in this process, print the URL, log each arrival."""
    import sys

    with open(sys.argv[1], "a", encoding="utf-8") as log:
        server = LoopbackReceiver(Script(), log)
        print(server.url, flush=True)  # noqa: T201
        server.serve_forever()


if __name__ == "__main__":
    main()
