"""``gridcare dev`` (what ``make run`` runs): the whole service on one machine.

Starts embedded PostgreSQL and Redis when no URLs are configured, migrates, loads
the demo district on an empty database, then runs the API and the worker as child
processes until Ctrl-C (or SIGTERM), and stops everything it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from services.core.config import get_settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.security.pii import cipher_for
from services.core.system.migrate import migrate
from services.dev.bootstrap import DEMO_PASSWORD, DemoLogin, bootstrap_demo
from services.dev.embedded import EmbeddedPostgres, EmbeddedRedis, ensure_database


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - this is the command's own console output


async def _prepare(database_url: str) -> list[DemoLogin]:
    await asyncio.to_thread(migrate, database_url)
    engine = make_engine(database_url, null_pool=True)
    try:
        async with session_scope(make_session_factory(engine)) as db:
            return await bootstrap_demo(db, pii=cipher_for(get_settings()))
    finally:
        await engine.dispose()


def run_dev() -> int:
    """Run until interrupted; returns the exit code."""
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    database_url = settings.database_url
    redis_url = settings.redis_url
    if not database_url:
        _say(f"starting embedded PostgreSQL in {data_dir / 'pg'}")
        pg = EmbeddedPostgres(data_dir / "pg")
        started.append(pg)
        asyncio.run(ensure_database(pg.url(), "gridcare"))
        database_url = pg.url("gridcare")
    if not redis_url:
        _say(f"starting embedded Redis in {data_dir}")
        redis = EmbeddedRedis(data_dir / "redis.rdb")
        started.append(redis)
        redis_url = redis.url()

    logins = asyncio.run(_prepare(database_url))
    env = dict(
        os.environ, GRIDCARE_DATABASE_URL=database_url, GRIDCARE_REDIS_URL=redis_url, GRIDCARE_DATA_DIR=str(data_dir)
    )
    children = {
        name: subprocess.Popen([sys.executable, "-m", "services.cli", name], env=env)  # noqa: S603
        for name in ("api", "worker")
    }
    base = f"http://{settings.host}:{settings.port}"
    _banner(base, logins)

    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                _say(
                    f"the {name} process exited with {child.returncode}; stopping"
                    + (f" (is port {settings.port} in use? set GRIDCARE_PORT)" if name == "api" else "")
                )
                stopping, exit_code = True, 1
        time.sleep(0.2)

    _say("stopping…")
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    for server in reversed(started):
        server.stop()
    _say("stopped")
    return exit_code


def _banner(base: str, logins: list[DemoLogin]) -> None:
    _say("")
    _say(f"gridcare is starting at {base}")
    _say(f"  API docs:  {base}/docs")
    _say(f"  readiness: {base}/readyz")
    if logins:
        _say(f"  demo logins (password {DEMO_PASSWORD}):")
        for login in logins:
            _say(f"    {login.username:<12} {login.role:<22} {login.where}")
    else:
        _say(f"  demo logins: as printed on the first run (e.g. admin / {DEMO_PASSWORD})")
    _say("  get a token:")
    _say(f"    curl -s -X POST {base}/oauth/token -d grant_type=password -d username=admin -d password={DEMO_PASSWORD}")
    _say(f"  Ctrl-C stops everything; data stays in {get_settings().data_dir} for the next run.")
    _say("")
