"""`gridcare api` as deployed: several uvicorn processes behind one port. They share the dev secrets
(a token one signs, another accepts), and /metrics, answered by any one of them, counts every
process's requests (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from services.cli import api_workers
from services.core.config import Settings
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def database(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_api_processes")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


@pytest.fixture
def api(database: str, servers: Servers, tmp_path: Path) -> Iterator[str]:
    """`gridcare api --workers 2` on a free port, with a data directory of its own."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDCARE_", "PROMETHEUS_"))}
    env.update(
        GRIDCARE_DATABASE_URL=database,
        GRIDCARE_REDIS_URL=servers.redis_url,
        GRIDCARE_DATA_DIR=str(tmp_path / "data"),
        GRIDCARE_PORT=str(port),
        GRIDCARE_ENV="test",
    )
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "services.cli", "api", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(proc.stdout.read() if proc.stdout else "no output")
            try:  # pace the polling by waiting on the process itself: an early exit fails at once
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        yield base
        # One set of dev secrets for both processes, and no half-written copy left beside it.
        assert sorted(p.name for p in (tmp_path / "data").iterdir() if "secrets" in p.name) == ["secrets.json"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _served(metrics: str) -> float:
    """Requests to /healthz answered 200, summed over every process that wrote a sample."""
    pattern = r'gridcare_http_requests_total\{[^}]*route="/healthz"[^}]*status="200"[^}]*\} ([0-9.e+]+)'
    return sum(float(v) for v in re.findall(pattern, metrics))


@pytest.mark.slow
def test_two_api_processes_share_secrets_and_metrics_count_every_process(api: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        before = _served(client.get("/metrics").text)
        for _ in range(40):  # new connections: the kernel spreads them over both processes
            assert httpx.get(f"{api}/healthz", timeout=10).status_code == 200
        after = _served(httpx.get(f"{api}/metrics", timeout=10).text)
    assert after - before == 40


def test_the_default_is_one_api_process_per_core() -> None:
    assert api_workers(0) == len(os.sched_getaffinity(0))
    assert api_workers(3) == 3
    assert Settings(env="test").api_workers == 0
