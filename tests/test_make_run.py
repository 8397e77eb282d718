"""`make run` from an empty `.data/` answers /readyz with 200; Ctrl-C stops it; a second run keeps the data.

Runs the real thing (`gridcare dev`, what `make run` calls) with its own embedded
PostgreSQL and Redis in a temporary data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.dev.bootstrap import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCARE_")}
    env.update(GRIDCARE_DATA_DIR=str(data_dir), GRIDCARE_PORT=str(port), GRIDCARE_WORKER_HEARTBEAT_SECONDS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(base: str, proc: subprocess.Popen[str], timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{base}/readyz", timeout=2)
            if last.status_code == 200:
                return last
        except httpx.TransportError:
            pass
        try:  # pace the polling by waiting on the process itself: an early exit fails at once
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"gridcare dev exited early:\n{proc.stdout.read() if proc.stdout else ''}")
    raise AssertionError(f"not ready in {timeout}s: {last.text if last else 'no answer'}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, output
    return output


@pytest.mark.slow
def test_make_run_from_empty_data_is_ready_and_keeps_data_across_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    first = _start(data_dir, port)
    try:
        ready = _wait_ready(base, first)
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "worker": "ok", "redis": "ok"}
        token = httpx.post(
            f"{base}/oauth/token", data={"grant_type": "password", "username": "admin", "password": DEMO_PASSWORD}
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = httpx.post(
            f"{base}/org-units",
            headers=headers,
            json={
                "parent_id": httpx.get(f"{base}/org-units?kind=district", headers=headers).json()["items"][0]["id"],
                "code": "500112999000",
                "name": "测试镇",
            },
        )
        assert created.status_code == 201, created.text
    finally:
        output = _stop(first) if first.poll() is None else ""
    assert "/docs" in output
    assert "stopped" in output

    second = _start(data_dir, port)
    try:
        _wait_ready(base, second)
        token = httpx.post(
            f"{base}/oauth/token", data={"grant_type": "password", "username": "admin", "password": DEMO_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        kept = httpx.get(f"{base}/org-units", headers=headers, params={"kind": "town", "q": "测试镇"})
        assert [u["code"] for u in kept.json()["items"]] == ["500112999000"]
    finally:
        _stop(second)
