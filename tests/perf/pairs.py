"""What the API-versus-raw-asyncpg benchmarks share: a database of their own, a bounded run, and the
rounds in which both paths take turns (a change in the shared machine's load falls on both alike)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database

CONCURRENCY = int(os.environ.get("GRIDCARE_BENCH_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("GRIDCARE_BENCH_ROUNDS", "5"))

Work = Callable[[int], Awaitable[None]]


@asynccontextmanager
async def bench_database(servers: Servers, prefix: str) -> AsyncIterator[str]:
    """A migrated database for one benchmark, dropped afterwards; its URL."""
    url = await fresh_database(servers, prefix)
    try:
        yield url
    finally:
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def bounded(n: int, work: Work, *, first: int = 0) -> float:
    """``work(first) .. work(first + n - 1)``, at most ``CONCURRENCY`` at once; the seconds it took."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(first + i) for i in range(n)))
    return time.perf_counter() - started


@dataclass(frozen=True)
class Pairs:
    """Per round, the API's and the raw path's rate (per second)."""

    per_round: int
    rates: list[tuple[float, float]]

    def text(self, what: str) -> str:
        ratios = [api / raw for api, raw in self.rates]
        api_median = statistics.median(a for a, _ in self.rates)
        raw_median = statistics.median(r for _, r in self.rates)
        head = f"{what}, {len(self.rates)} rounds of {self.per_round} each way, concurrency {CONCURRENCY}, taking turns"
        rounds = [
            f"  round {i}: API {a:7.1f}/s  raw {r:7.1f}/s  ratio {a / r:.3f}" for i, (a, r) in enumerate(self.rates, 1)
        ]
        return "\n".join(
            [
                "",
                head + ":",
                *rounds,
                f"  API median {api_median:8.1f}/s, raw asyncpg median {raw_median:8.1f}/s",
                f"  ratio API / raw: median {statistics.median(ratios):.3f}"
                f" (min {min(ratios):.3f}, max {max(ratios):.3f})",
            ]
        )


async def take_turns(n: int, api: Work, raw: Work) -> Pairs:
    """``ROUNDS`` rounds: the API does the next slice of ``1 .. n - 1`` (0 was the warm-up), then raw does its."""
    per_round = (n - 1) // ROUNDS
    rates = []
    for r in range(ROUNDS):
        first = 1 + r * per_round
        api_seconds = await bounded(per_round, api, first=first)
        raw_seconds = await bounded(per_round, raw, first=first)
        rates.append((per_round / api_seconds, per_round / raw_seconds))
    return Pairs(per_round, rates)
