"""The console's Audit page over a large, signed audit log, in PostgreSQL.

    .venv/bin/python -m benchmarks.audit_page [--events 100000] [--repeat 30]

Seeds a fresh database (the example config, then requests with 10 audit events each, signed
with an audit key as the bot signs them), starts a real `approval-bot serve` with that key,
and measures ``GET /audit`` (p50/p99, on a kept-alive connection):

1. while the scheduler's first check walks the whole log in the background (the page shows
   "not checked yet"), and how long that walk took until the page showed its result;
2. once checked, with nothing new;
3. with 1,000 events written since the check (the page checks those itself);

next to what a page view cost before, when every view walked the whole chain: one full walk
(`AuditChecks.verify`), in process. Target: every page view well under a second (< 250 ms
p99).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.audit_scale import fresh_database, pct, seed, timed_get  # noqa: E402
from bot.adapters.db import SqlUnitOfWorkFactory, make_engine  # noqa: E402
from bot.domain.audit_keys import Keyring  # noqa: E402
from bot.domain.model import Event  # noqa: E402
from bot.domain.names import SYSTEM, EventKind  # noqa: E402
from bot.service.audit import AuditChecks  # noqa: E402
from tests.support.bot_server import running_bot  # noqa: E402
from tests.support.processes import wait_for  # noqa: E402

KEY = "bench-1:" + "k" * 44  # a benchmark's key; never use a key from a source file
TARGET_MS = 250
INTACT = re.compile(r"hash chain checks out: (\d+) events")


def page_state(html: str) -> str:
    if "not checked yet" in html:
        return "not checked yet"
    found = INTACT.search(html)
    if found:
        return f"intact ({int(found.group(1)):,} events)"
    return "TAMPERED" if "TAMPERED" in html else "?"


def report(label: str, lat: list[float], state: str) -> None:
    p99 = pct(lat, 99)
    flag = "ok" if p99 < TARGET_MS else "MISSED"
    print(f"  {label:44} p50 {pct(lat, 50):7.1f} ms  p99 {p99:7.1f} ms  {flag}  (page: {state})")


def during_first_check(client: httpx.Client, started: float) -> None:
    """Views while the scheduler's first check walks the log; then how long it took."""
    lat: list[float] = []
    states: list[str] = []  # what the page said, in order

    def checked() -> bool:
        t0 = time.perf_counter()
        r = client.get("/audit")
        lat.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:500]
        state = page_state(r.text)
        if not states or states[-1] != state:
            states.append(state)
        return "intact" in state

    wait_for(checked, timeout=600, description="the first check", interval=0.05)
    took = time.perf_counter() - started
    report(f"during the first full check ({len(lat)} views)", lat, " → ".join(states))
    print(f"  the first full check showed on the page {took:.1f} s after `serve` started")


def add_events(db_url: str, n: int) -> None:
    """``n`` events written since the check, signed as the bot signs them."""
    engine = make_engine(db_url)
    try:
        uow = SqlUnitOfWorkFactory(engine, audit_keys=Keyring.parse(KEY))
        with uow() as u:
            event = Event(EventKind.EFFECT_DELIVERED, SYSTEM, {"kind": "benchmark"})
            u.audit.append(None, [event] * n, datetime.now(UTC))
            u.commit()
    finally:
        engine.dispose()


def full_walk(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        checks = AuditChecks(SqlUnitOfWorkFactory(engine), keys=Keyring.parse(KEY))
        t0 = time.perf_counter()
        check = checks.verify()
        took = time.perf_counter() - t0
    finally:
        engine.dispose()
    assert check.problem is None, check.problem
    print(
        f"  one full walk of {check.last.seq:,} signed events, in process: {took * 1000:,.0f} ms "
        "(what every page view did before)"
    )


def measure(db_url: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        env = {
            "APPROVAL_BOT_LOG_LEVEL": "WARNING",
            "APPROVAL_BOT_AUDIT_KEY": KEY,
            "APPROVAL_BOT_AUDIT_CHECK_SECONDS": "1",  # the first check a second after start
        }
        with (
            running_bot(db_url, Path(tmp), env=env) as bot,
            httpx.Client(base_url=bot.url, timeout=60) as client,
        ):
            print(f"GET /audit ({repeat} views each unless said):")
            during_first_check(client, started)
            lat = timed_get(client, "/audit", {}, repeat)
            report("checked, nothing new", lat, page_state(client.get("/audit").text))
            add_events(db_url, 1000)
            lat = timed_get(client, "/audit", {}, repeat)
            report("1,000 events since the check", lat, page_state(client.get("/audit").text))
    full_walk(db_url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()

    with fresh_database(args.postgres, "abpage") as (db_url, dsn):
        t0 = time.perf_counter()
        events = seed(dsn, args.events // 10, 10, Keyring.parse(KEY).current)
        print(f"seeded {events:,} signed audit events in {time.perf_counter() - t0:.0f} s")
        measure(db_url, args.repeat)


if __name__ == "__main__":
    main()
