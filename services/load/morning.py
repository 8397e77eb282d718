"""A district morning against a running gridcare, over HTTP: ``gridcare load`` (``make load``).

It starts nothing: it logs in as existing users (by default the demo logins ``gridcare dev``
prints) against the URL it is given and, for a set time, runs closed-loop clients:

* sentinels submit reports one by one and flush a phone's offline queue (``POST /reports/batch``);
* doctors take the submitted reports, report in (``If-Match``) and record the first follow-up;
* phones sync the inbox (``GET /inbox/changes``) and the residents (``GET /sync/residents``);
* a supervisor reads the loop metrics (``GET /reports/metrics``) and, when allowed, ``/metrics``.

Then it prints, per operation, the count, the errors, p50/p95/p99 and the throughput, and, for
``--pid`` processes (the API's, the worker's), their resident memory after warm-up and at the end.
A single-operation mix (``submit``, ``report-in``, ``inbox``) puts every client on that one thing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from services.core import clock

# The password ``gridcare dev`` prints for its demo logins (services/dev/bootstrap.py).
DEMO_PASSWORD = "gridcare-demo-2026"  # noqa: S105 - the printed demo password, not a secret
MIXES = ("morning", "submit", "report-in", "inbox")


@dataclass
class Plan:
    """What to run: for how long, how many clients, which mix, as whom."""

    url: str = "http://127.0.0.1:8000"
    duration: float = 60.0
    clients: int = 50
    mix: str = "morning"
    sentinels: Sequence[str] = ("sentinel",)
    doctors: Sequence[str] = ("member", "leader")
    phones: Sequence[str] = ("member", "sentinel")
    supervisors: Sequence[str] = ("town1",)
    password: str = DEMO_PASSWORD
    batch_size: int = 10
    prefill: int = 0  # reports submitted before the clock starts (report-in has something to take)
    timeout: float = 10.0
    think: float = 0.0  # seconds a client waits between its requests (0: closed loop, as fast as answered)
    rate: float | None = None  # requests per second offered by all clients together (open loop); None: closed
    rounds: int | None = None  # each client stops after this many steps (a smoke run; None: only the clock)
    pids: Sequence[int] = ()
    rss_every: float = 5.0
    warmup: float = 0.0  # seconds before the memory baseline is taken
    scrape_token: str | None = None  # bearer for the supervisor's /metrics reads (none: not scraped)


# In an open-loop run (``--rate``), when the client's next request was due. A request answered late
# delays the client's next one; timing that one from when it was *sent* would hide the wait (the
# "coordinated omission" of closed-loop tools), so the first request of a step is timed from when it
# was due. Task-local: each client is its own task.
_DUE: contextvars.ContextVar[float | None] = contextvars.ContextVar("gridcare_load_due", default=None)


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class OpSummary:
    name: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    per_second: float
    error_kinds: dict[str, int]


@dataclass(frozen=True)
class MemorySummary:
    pid: int
    first_kb: int
    last_kb: int
    max_kb: int
    cpu_seconds: float  # user + system time of the process and its children while the clock ran

    @property
    def change(self) -> float:
        return (self.last_kb - self.first_kb) / self.first_kb if self.first_kb else 0.0


@dataclass
class Report:
    """What a run measured."""

    plan: Plan
    seconds: float
    ops: list[OpSummary]
    memory: list[MemorySummary]

    @property
    def errors(self) -> int:
        return sum(o.errors for o in self.ops)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.plan.url,
            "mix": self.plan.mix,
            "clients": self.plan.clients,
            "rate": self.plan.rate,
            "seconds": round(self.seconds, 2),
            "ops": [o.__dict__ for o in self.ops],
            "memory": [{**m.__dict__, "change": round(m.change, 4)} for m in self.memory],
        }

    def text(self) -> str:
        offered = f", {self.plan.rate:g}/s offered (open loop)" if self.plan.rate else " (closed loop)"
        lines = [
            f"gridcare load: {self.plan.mix}, {self.plan.clients} clients{offered}, {self.seconds:.1f} s, "
            f"{self.plan.url}",
            f"{'operation':<18}{'count':>8}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'per s':>9}",
        ]
        for o in self.ops:
            lines.append(
                f"{o.name:<18}{o.count:>8}{o.errors:>8}{o.p50_ms:>9.1f}{o.p95_ms:>9.1f}{o.p99_ms:>9.1f}"
                f"{o.per_second:>9.1f}"
            )
            for kind, n in sorted(o.error_kinds.items()):
                lines.append(f"{'':<18}  {n} x {kind}")
        for m in self.memory:
            lines.append(
                f"pid {m.pid}: RSS {m.first_kb / 1024:.1f} MiB after warm-up, {m.last_kb / 1024:.1f} MiB at the end "
                f"({m.change:+.1%}), peak {m.max_kb / 1024:.1f} MiB; CPU {m.cpu_seconds:.1f} s"
                + (
                    f" ({1000 * m.cpu_seconds / total:.2f} ms per request)"
                    if (total := sum(o.count for o in self.ops))
                    else ""
                )
            )
        return "\n".join(lines)


class Stats:
    """Latencies and errors per operation, recorded only while the clock runs."""

    def __init__(self) -> None:
        self.ops: dict[str, OpStats] = {}
        self.recording = False

    def record(self, name: str, seconds: float, error: str | None) -> None:
        if not self.recording:
            return
        op = self.ops.setdefault(name, OpStats())
        if error is None:
            op.latencies.append(seconds)
        else:
            op.errors[error] += 1

    def summary(self, elapsed: float) -> list[OpSummary]:
        out = []
        for name, op in sorted(self.ops.items()):
            count = len(op.latencies) + sum(op.errors.values())
            out.append(
                OpSummary(
                    name=name,
                    count=count,
                    errors=sum(op.errors.values()),
                    p50_ms=percentile(op.latencies, 50) * 1000,
                    p95_ms=percentile(op.latencies, 95) * 1000,
                    p99_ms=percentile(op.latencies, 99) * 1000,
                    per_second=count / elapsed if elapsed > 0 else 0.0,
                    error_kinds=dict(op.errors),
                )
            )
        return out


@dataclass
class Login:
    username: str
    token: str
    grant_units: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Stop(Exception):
    """The clock ran out (or the work did): the client ends."""


class Morning:
    """One run: logins, optional prefill, the clients, the memory samples."""

    def __init__(self, client: httpx.AsyncClient, plan: Plan) -> None:
        self.client = client
        self.plan = plan
        self.stats = Stats()
        self.submitted: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=100_000)
        self.deadline = 0.0
        self.grid_of: dict[str, tuple[str, str | None]] = {}

    # ------------------------------------------------------------ requests

    async def call(
        self, name: str, method: str, path: str, login: Login, *, ok: Sequence[int] = (200, 201), **kw: Any
    ) -> httpx.Response | None:
        """One timed request; a status outside ``ok`` or a transport error is an error of ``name``."""
        headers = {**login.headers, **kw.pop("headers", {})}
        started = time.perf_counter()
        due = _DUE.get()
        if due is not None:  # the step's first request: timed from when it was due (see ``_DUE``)
            _DUE.set(None)
            started = min(started, due)
        try:
            response = await self.client.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            self.stats.record(name, time.perf_counter() - started, type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        if response.status_code not in ok:
            code = ""
            if response.headers.get("content-type", "").endswith("json"):
                code = str(response.json().get("code", ""))
            self.stats.record(name, elapsed, f"{response.status_code} {code}".strip())
            return None
        self.stats.record(name, elapsed, None)
        return response

    async def login(self, username: str) -> Login:
        response = await self.client.post(
            "/oauth/token", data={"grant_type": "password", "username": username, "password": self.plan.password}
        )
        if response.status_code != 200:
            raise SystemExit(f"cannot log in as {username}: {response.status_code} {response.text[:200]}")
        token = response.json()["access_token"]
        me = await self.client.get("/me", headers={"Authorization": f"Bearer {token}"})
        me.raise_for_status()
        return Login(username, token, [g["org_unit_id"] for g in me.json()["grants"]])

    # ------------------------------------------------------------ what each kind of client does

    async def _grid(self, login: Login) -> tuple[str, str | None]:
        """The sentinel's grid (its grant's unit) and a resident there, if any (else an ``other`` report)."""
        if login.username not in self.grid_of:
            grid = login.grant_units[0]
            page = await self.client.get("/residents", params={"org_unit_id": grid, "limit": 1}, headers=login.headers)
            items = page.json().get("items", []) if page.status_code == 200 else []
            self.grid_of[login.username] = (grid, items[0]["id"] if items else None)
        return self.grid_of[login.username]

    async def _body(self, login: Login) -> dict[str, Any]:
        grid, resident = await self._grid(login)
        if resident is None:
            details: dict[str, Any] = {"category": "other", "description": "负荷测试：网格巡查发现的情况"}
        else:
            details = {"category": "health_need", "needs": ["home_visit"], "description": "负荷测试：希望上门随访"}
        return {"id": str(uuid.uuid4()), "grid_id": grid, "resident_id": resident, "details": details}

    def _offer(self, report_id: str, etag: str) -> None:
        if not self.submitted.full():
            self.submitted.put_nowait((report_id, etag))

    async def submit(self, login: Login) -> None:
        response = await self.call("submit", "POST", "/reports", login, json=await self._body(login))
        if response is not None:
            self._offer(response.json()["id"], response.headers.get("etag", '"1"'))

    async def submit_batch(self, login: Login, size: int | None = None, name: str = "submit_batch", **kw: Any) -> None:
        bodies = [await self._body(login) for _ in range(size or self.plan.batch_size)]
        response = await self.call(name, "POST", "/reports/batch", login, json={"reports": bodies}, **kw)
        if response is None:
            return
        result = response.json()
        if result["refused"]:
            self.stats.record(name, 0.0, f"{result['refused']} items refused")
        for item in result["items"]:
            if item["status"] == 201:
                self._offer(item["id"], '"1"')

    async def report_in(self, login: Login, *, follow_up: bool) -> None:
        """Take a submitted report (each goes to one doctor), report in, then record the first contact."""
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise Stop  # out of time
        if self.plan.mix == "report-in":
            # Nobody submits: take one now or stop. (Checking ``empty()`` and then waiting let another client
            # take the last report in between, and this one wait for the whole run.)
            try:
                report_id, etag = self.submitted.get_nowait()
            except asyncio.QueueEmpty as exc:
                raise Stop from exc
        else:
            try:
                report_id, etag = await asyncio.wait_for(self.submitted.get(), timeout=remaining)
            except TimeoutError as exc:
                raise Stop from exc
        response = await self.call(
            "report_in", "POST", f"/reports/{report_id}/report-in", login, json={}, headers={"If-Match": etag}
        )
        if response is None or not follow_up:
            return
        await self.call(
            "follow_up",
            "POST",
            f"/reports/{report_id}/follow-ups",
            login,
            json={"channel": "phone", "outcome": "reached", "notes": "负荷测试"},
            headers={"If-Match": response.headers["etag"]},
        )

    async def sync_inbox(self, login: Login, cursors: dict[str, str | None]) -> None:
        """One delta-sync page; at the end of the inbox the phone starts over, so each page reads items."""
        params: dict[str, Any] = {"limit": 50}
        if cursors.get("inbox"):
            params["since"] = cursors["inbox"]
        response = await self.call("inbox_sync", "GET", "/inbox/changes", login, params=params)
        if response is not None:
            page = response.json()
            cursors["inbox"] = page["cursor"] if page["has_more"] else None

    async def sync_residents(self, login: Login, cursors: dict[str, str | None]) -> None:
        params: dict[str, Any] = {"limit": 50}
        if cursors.get("residents"):
            params["cursor"] = cursors["residents"]
        response = await self.call("residents_sync", "GET", "/sync/residents", login, params=params)
        if response is not None:
            page = response.json()
            cursors["residents"] = page["next_cursor"] if page["has_more"] else None

    async def read_metrics(self, login: Login) -> None:
        now = clock.now()
        params = {
            "org_unit_id": login.grant_units[0],
            "from": (now - timedelta(days=7)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(),
            "group_by": "grid",
        }
        await self.call("loop_metrics", "GET", "/reports/metrics", login, params=params)
        if self.plan.scrape_token is not None:
            await self.call("prometheus_scrape", "GET", "/metrics", login, headers=self._scrape_headers())

    def _scrape_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plan.scrape_token}"} if self.plan.scrape_token else {}

    # ------------------------------------------------------------ the run

    def _roles(self) -> list[str]:
        """The kind of each client, by the mix."""
        n = self.plan.clients
        if self.plan.mix == "submit":
            return ["sentinel"] * n
        if self.plan.mix == "report-in":
            return ["doctor"] * n
        if self.plan.mix == "inbox":
            return ["phone"] * n
        supervisors = 1 if n >= 4 else 0
        doctors = max(1, n // 5) if n >= 2 else 0
        phones = max(1, n // 5) if n >= 3 else 0
        return (
            ["supervisor"] * supervisors
            + ["doctor"] * doctors
            + ["phone"] * phones
            + ["sentinel"] * (n - supervisors - doctors - phones)
        )

    def _users(self, role: str) -> Sequence[str]:
        return {
            "sentinel": self.plan.sentinels,
            "doctor": self.plan.doctors,
            "phone": self.plan.phones,
            "supervisor": self.plan.supervisors,
        }[role]

    def _step(self, role: str, login: Login, cursors: dict[str, str | None], n: int) -> Callable[[], Awaitable[None]]:
        """The client's ``n``-th request (or pair of requests), by its role and the mix: in a morning a
        sentinel flushes its offline queue every fifth time and a phone syncs inbox and residents in turn."""
        mix = self.plan.mix
        if role == "sentinel":
            if mix == "morning" and n % 5 == 1:
                return lambda: self.submit_batch(login)
            return lambda: self.submit(login)
        if role == "doctor":
            return lambda: self.report_in(login, follow_up=mix == "morning")
        if role == "phone":
            if mix == "morning" and n % 2 == 1:
                return lambda: self.sync_residents(login, cursors)
            return lambda: self.sync_inbox(login, cursors)
        return lambda: self.read_metrics(login)

    async def _client(self, role: str, login: Login) -> None:
        cursors: dict[str, str | None] = {}
        n = 0
        # Open loop: this client's steps are due every ``clients / rate`` seconds from a random phase,
        # whatever the answers take; the clients together offer ``rate`` requests a second.
        interval = self.plan.clients / self.plan.rate if self.plan.rate else 0.0
        due = time.perf_counter() + random.uniform(0, interval)  # noqa: S311 - a phase, not a secret
        while time.perf_counter() < self.deadline and (self.plan.rounds is None or n < self.plan.rounds):
            if interval:
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                if due >= self.deadline:
                    return
                _DUE.set(due)
                due += interval
            try:
                await self._step(role, login, cursors, n)()
                n += 1
            except Stop:
                return
            if self.plan.think and not interval:
                await asyncio.sleep(self.plan.think)

    async def _logins(self, roles: list[str]) -> list[Login]:
        """One login (its own session) per client, a few at a time: password hashing is slow on purpose."""
        gate = asyncio.Semaphore(4)
        counters: Counter[str] = Counter()
        names = []
        for role in roles:
            users = self._users(role)
            names.append(users[counters[role] % len(users)])
            counters[role] += 1

        async def one(username: str) -> Login:
            async with gate:
                return await self.login(username)

        return list(await asyncio.gather(*(one(u) for u in names)))

    async def _prefill(self) -> None:
        """Reports for the doctors to take before the clock starts (``--prefill``)."""
        if self.plan.prefill <= 0:
            return
        sentinel = await self.login(self.plan.sentinels[0])
        self.stats.recording = True  # a refused prefill is worth reporting
        # Batches of 25, each allowed a minute: the prefill is setup, not measured, and must not time out.
        sizes = [25] * (self.plan.prefill // 25) + ([self.plan.prefill % 25] if self.plan.prefill % 25 else [])
        gate = asyncio.Semaphore(4)

        async def one(size: int) -> None:
            async with gate:
                await self.submit_batch(sentinel, size, name="prefill", timeout=60.0)

        await asyncio.gather(*(one(size) for size in sizes))
        prefill = self.stats.ops.pop("prefill", None)
        self.stats.recording = False
        if prefill is not None and prefill.errors:
            raise SystemExit(f"the prefill failed: {dict(prefill.errors)}")

    async def run(self) -> Report:
        roles = self._roles()
        logins = await self._logins(roles)
        await self._prefill()
        for login, role in zip(logins, roles, strict=True):
            if role == "sentinel":
                await self._grid(login)  # found before the clock starts
        sampler = RssSampler(self.plan.pids, every=self.plan.rss_every, warmup=self.plan.warmup)
        sampler.start()
        sampling = asyncio.create_task(sampler.run())
        started = time.perf_counter()
        self.deadline = started + self.plan.duration
        self.stats.recording = True
        await asyncio.gather(*(self._client(role, login) for role, login in zip(roles, logins, strict=True)))
        elapsed = time.perf_counter() - started
        self.stats.recording = False
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        await sampler.stop()
        return Report(self.plan, elapsed, self.stats.summary(elapsed), sampler.summary())


class RssSampler:
    """Resident memory and CPU time of some processes and their children (Linux ``/proc``), sampled every few
    seconds: the soak's "flat after warm-up", and what a request costs the server in CPU."""

    def __init__(self, pids: Sequence[int], *, every: float, warmup: float) -> None:
        self.pids = list(pids)
        self.every = every
        self.warmup = warmup
        self.samples: dict[int, list[int]] = {pid: [] for pid in self.pids}
        self.cpu_start = {pid: self.cpu_seconds(pid) for pid in self.pids}
        self.cpu_end = dict(self.cpu_start)

    @staticmethod
    def _tree(pid: int) -> list[int]:
        """``pid`` and its descendants (uvicorn's worker processes)."""
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            try:
                for task in Path(f"/proc/{current}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        return found

    @classmethod
    def rss_kb(cls, pid: int) -> int:
        """VmRSS of ``pid`` and every descendant, in KiB; 0 when it is gone."""
        total = 0
        for current in cls._tree(pid):
            try:
                for line in Path(f"/proc/{current}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        return total

    @classmethod
    def cpu_seconds(cls, pid: int) -> float:
        """User + system CPU time of ``pid`` and every live descendant, in seconds."""
        ticks = 0
        for current in cls._tree(pid):
            try:
                fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
                continue
        return ticks / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self.cpu_start = {pid: self.cpu_seconds(pid) for pid in self.pids}

    async def sample(self) -> None:
        for pid in self.pids:
            self.samples[pid].append(self.rss_kb(pid))

    async def stop(self) -> None:
        self.cpu_end = {pid: self.cpu_seconds(pid) for pid in self.pids}
        await self.sample()

    async def run(self) -> None:
        if not self.pids:
            return
        await asyncio.sleep(self.warmup)
        while True:
            await self.sample()
            await asyncio.sleep(self.every)

    def summary(self) -> list[MemorySummary]:
        return [
            MemorySummary(pid, values[0], values[-1], max(values), self.cpu_end[pid] - self.cpu_start[pid])
            for pid, values in self.samples.items()
            if values and values[0]
        ]


async def run(plan: Plan, *, transport: httpx.AsyncBaseTransport | None = None) -> Report:
    """Run ``plan`` against its URL (or ``transport``: the tests' in-process app)."""
    limits = httpx.Limits(max_connections=plan.clients + 8, max_keepalive_connections=plan.clients + 8)
    async with httpx.AsyncClient(base_url=plan.url, timeout=plan.timeout, limits=limits, transport=transport) as client:
        return await Morning(client, plan).run()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``gridcare load``'s options."""
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running API (nothing is started)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to drive it")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: requests per second all clients together offer, each timed from when it was due"
        " (default: closed loop, each client as fast as it is answered)",
    )
    parser.add_argument("--mix", choices=MIXES, default="morning", help="a mixed morning, or one operation")
    parser.add_argument("--sentinel", action="append", help="a sentinel's username (repeat; demo: sentinel)")
    parser.add_argument("--doctor", action="append", help="a team member's username (demo: member, leader)")
    parser.add_argument("--phone", action="append", help="a phone's user for inbox/residents sync")
    parser.add_argument("--supervisor", action="append", help="a supervisor's username (demo: town1)")
    parser.add_argument("--password", default=DEMO_PASSWORD, help="their password (default: the demo one)")
    parser.add_argument("--batch-size", type=int, default=10, help="reports per offline-queue flush")
    parser.add_argument("--prefill", type=int, default=None, help="reports submitted before the clock starts")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as failed")
    parser.add_argument("--think", type=float, default=0.0, help="seconds each client waits between requests")
    parser.add_argument("--rounds", type=int, default=None, help="each client stops after this many steps")
    parser.add_argument("--pid", type=int, action="append", default=[], help="sample this process's RSS (repeat)")
    parser.add_argument("--rss-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the RSS baseline")
    parser.add_argument("--scrape-token", default=None, help="bearer for /metrics reads by the supervisor")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")


def plan_from(args: argparse.Namespace) -> Plan:
    """The plan the command line asks for."""
    defaults = Plan()
    if args.rate is not None and args.rate <= 0:
        raise SystemExit("--rate: requests per second must be above 0")
    prefill = args.prefill
    if prefill is None:  # report-in alone needs reports waiting: about what the clients can take
        prefill = int(args.clients * args.duration) if args.mix == "report-in" else 0
    return Plan(
        url=args.url,
        duration=args.duration,
        clients=args.clients,
        mix=args.mix,
        sentinels=args.sentinel or defaults.sentinels,
        doctors=args.doctor or defaults.doctors,
        phones=args.phone or defaults.phones,
        supervisors=args.supervisor or defaults.supervisors,
        password=args.password,
        batch_size=args.batch_size,
        prefill=prefill,
        timeout=args.timeout,
        think=args.think,
        rate=args.rate,
        rounds=args.rounds,
        pids=args.pid,
        rss_every=args.rss_every,
        warmup=args.warmup if args.warmup is not None else min(30.0, args.duration / 5),
        scrape_token=args.scrape_token,
    )


def main(args: argparse.Namespace) -> int:
    """Run, print, and exit 1 when any request failed."""
    report = asyncio.run(run(plan_from(args)))
    print(report.text())  # noqa: T201 - the command's own output
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if report.errors else 0
