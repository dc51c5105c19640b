"""Submissions per second and p50/p99 latency of POST /api/v1/approvals against PostgreSQL.

    .venv/bin/python -m benchmarks.api_submit [--requests 400] [--postgres URL]

Starts a real `approval-bot serve` on a fresh PostgreSQL database, then submits
distinct challengers at concurrency 1 and 16 and prints one line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.adapters.db import normalise_url
from tests import builders
from tests.support.bot_server import prepare_database, running_bot

TOKEN = "benchmark-token-0123456789abcdef"


async def run(url: str, n: int, concurrency: int, tag: str) -> tuple[float, list[float]]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=url,
        timeout=60,
        headers={"Authorization": f"Bearer {TOKEN}"},
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:

        async def one(i: int) -> None:
            body = json.loads(
                builders.submission(
                    model_name=f"bench-{tag}-{i % 50}",
                    model_version=str(i),
                    staging_run_id=f"{tag}-{i}",
                ).model_dump_json()
            )
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/api/v1/approvals", json=body)
                latencies.append(time.perf_counter() - t0)
            assert r.status_code == 201, r.text

        # Warm up connections and caches.
        await asyncio.gather(*(one(-1 - i) for i in range(concurrency)))
        latencies.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - t0
    return n / elapsed, latencies


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()

    name = f"abbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(args.postgres), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = (
        make_url(normalise_url(args.postgres))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    try:
        prepare_database(db_url)
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_bot(
                db_url,
                Path(tmp),
                env={"APPROVAL_BOT_API_TOKEN": TOKEN, "APPROVAL_BOT_LOG_LEVEL": "WARNING"},
            ) as bot,
        ):
            print(f"POST /api/v1/approvals on PostgreSQL, {args.requests} requests per run")
            for concurrency in (1, 16):
                rate, lat = asyncio.run(run(bot.url, args.requests, concurrency, f"c{concurrency}"))
                print(
                    f"concurrency {concurrency:>2}: {rate:7.1f} submissions/s  "
                    f"p50 {pct(lat, 50):6.1f} ms  p99 {pct(lat, 99):6.1f} ms"
                )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
