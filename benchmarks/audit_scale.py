"""The audit log at scale: 100,000 requests and 1,000,000 audit events in PostgreSQL.

    .venv/bin/python -m benchmarks.audit_scale [--requests 100000] [--events-per-request 10]

Seeds a fresh PostgreSQL database with COPY (a valid hash chain: `audit verify` must
pass), then measures, in one run:
- the first page (50) of ``GET /api/v1/audit`` with each single filter, through a real
  ``approval-bot serve`` (p50/p99 over repeated requests on a kept-alive connection), next
  to the floor: the same request to ``/healthz`` (the HTTP stack alone);
- the first page of ``approval-bot audit`` as the CLI computes it (in process);
- ``approval-bot audit verify``: events per second and the process's peak RSS.

Targets: every first page < 50 ms; verify ≥ 50,000 events/s in < 200 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.adapters.db import normalise_url  # noqa: E402
from bot.domain.audit import GENESIS, canonical_json  # noqa: E402
from bot.domain.audit_keys import AuditKey, head_mac, record_mac  # noqa: E402
from tests.support.bot_server import prepare_database, running_bot  # noqa: E402

TOKEN = "benchmark-token-0123456789abcdef"
MODELS = [f"model-{i:02d}" for i in range(20)]
PEOPLE = ["alice", "bob", "carol"] + [f"person-{i:02d}" for i in range(17)]
RARE = "person-16"  # votes on about 1 request in 1,000
FAR_AHEAD = datetime(2100, 1, 1, tzinfo=UTC)
STATES = [  # (state, share)
    ("pending", 0.02),
    ("approved", 0.10),
    ("promoted", 0.40),
    ("promotion_failed", 0.03),
    ("rejected", 0.20),
    ("expired", 0.10),
    ("superseded", 0.15),
]
START = datetime(2024, 1, 1, tzinfo=UTC)


def pick_state(rng: random.Random) -> str:
    x = rng.random()
    for state, share in STATES:
        if x < share:
            return state
        x -= share
    return STATES[-1][0]


def copy_text(rows: Iterator[tuple[Any, ...]]) -> Iterator[bytes]:
    """Rows as PostgreSQL COPY text, in chunks."""
    buf = io.StringIO()
    for n, row in enumerate(rows, 1):
        buf.write("\t".join(r"\N" if v is None else _esc(v) for v in row) + "\n")
        if n % 20000 == 0:
            yield buf.getvalue().encode()
            buf = io.StringIO()
    yield buf.getvalue().encode()


def _esc(v: Any) -> str:
    s = v.isoformat() if isinstance(v, datetime) else str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed(dsn: str, n_requests: int, per_request: int, key: AuditKey | None = None) -> int:
    """Requests, votes and a valid audit chain (signed with ``key``, if given, as the bot
    signs: bot/adapters/db/audit.py); returns the number of events."""
    rng = random.Random(42)
    gates = json.dumps(
        [{"name": "latency_p99_ms", "value": 2.3, "threshold": 100, "op": "<=", "passed": True}]
    )
    requests, votes, events = [], [], []
    with psycopg.connect(dsn) as conn:  # go on from what `apply` wrote
        head = conn.execute("SELECT seq, hash, signed_from FROM audit_head WHERE id = 1").fetchone()
    seq, prev, signed_from = head if head else (0, GENESIS, None)
    if key is not None and signed_from is None:
        signed_from = seq + 1
    for i in range(n_requests):
        rid = f"r{i:09d}"
        created = START + timedelta(minutes=7 * i)
        state = pick_state(rng)
        decided = None if state == "pending" else created + timedelta(hours=3)
        voters = rng.sample(PEOPLE[:-4], 2) if state != "pending" else []
        if rng.random() < 0.001:
            voters = [RARE, *voters[:1]]
        requests.append(
            (
                rid,
                MODELS[i % len(MODELS)],
                str(i),
                f"stg-{i}",
                "alice",
                gates,
                "{}",
                "{}",
                state,
                created,
                # Pending ones wait far ahead: expiring them would be the bot's work during
                # the measurement (the sweep), not the audit's.
                created + timedelta(hours=48) if decided else FAR_AHEAD,
                decided,
                ",".join(voters) or None,
                "seeded" if decided else None,
                False,
                0,
            )
        )
        for v, person in enumerate(voters):
            at = created + timedelta(hours=1 + v)
            votes.append((rid, person, "approve", "cli", at, "[]", "f"))
        for k in range(per_request):
            seq += 1
            kind = "submitted" if k == 0 else ("voted" if k <= len(voters) else "effect_delivered")
            at = created + timedelta(seconds=k)
            data = {"n": k, "kind": kind}
            body = {
                "seq": seq,
                "at": at.isoformat(),
                "kind": kind,
                "actor": "system",
                "request_id": rid,
                "data": data,
            }
            digest = hashlib.sha256((prev + canonical_json(body)).encode()).hexdigest()
            mac = record_mac(key, digest) if key else None
            events.append(
                (seq, at, kind, "system", rid, json.dumps(data), prev, digest, key and key.id, mac)
            )
            prev = digest
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY approval_requests (id, model_name, model_version, submission_key, "
            "requested_by, gates, links, promotion, state, created_at, deadline_at, decided_at, "
            "decided_by, reason, override, reminders_sent) FROM STDIN"
        ) as cp:
            for chunk in copy_text(iter(requests)):
                cp.write(chunk)
        with cur.copy(
            'COPY votes (request_id, person, vote, channel, "at", "groups", override) FROM STDIN'
        ) as cp:
            for chunk in copy_text(iter(votes)):
                cp.write(chunk)
        with cur.copy(
            'COPY audit_events (seq, "at", kind, actor, request_id, data, prev_hash, hash, key_id, '
            "mac) FROM STDIN"
        ) as cp:
            for chunk in copy_text(iter(events)):
                cp.write(chunk)
        cur.execute("DELETE FROM audit_head")
        cur.execute(
            "INSERT INTO audit_head (id, seq, hash, key_id, mac, signed_from) "
            "VALUES (1, %s, %s, %s, %s, %s)",
            (
                seq,
                prev,
                key and key.id,
                head_mac(key, seq, prev, signed_from) if key else None,
                signed_from if key else None,
            ),
        )
        cur.execute("ANALYZE")
        conn.commit()
    return seq


def pct(values: list[float], p: int) -> float:
    return (statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else values[0]) * 1000


def timed_get(client: httpx.Client, path: str, params: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return out


FILTERS: list[tuple[str, dict[str, str]]] = [
    ("no filter", {}),
    ("model", {"model": "model-07"}),
    ("decision=approved", {"decision": "approved"}),
    ("decision=rejected", {"decision": "rejected"}),
    ("decision=cancelled (none)", {"decision": "cancelled"}),
    ("approver=bob", {"approver": "bob"}),
    (f"approver={RARE} (rare)", {"approver": RARE}),
    ("since (last month)", {"since": "2025-05-01T00:00:00Z"}),
    ("until (first month)", {"until": "2024-02-01T00:00:00Z"}),
]


def measure_api(url: str, repeat: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        timed_get(client, "/healthz", {}, 5)  # open the connection before the clock
        floor = timed_get(client, "/healthz", {}, repeat)
        label = "floor: GET /healthz"
        print(f"  {label:32} p50 {pct(floor, 50):7.1f} ms  p99 {pct(floor, 99):7.1f} ms")
        for label, params in FILTERS:
            lat = timed_get(client, "/api/v1/audit", {**params, "limit": "50"}, repeat)
            p99 = pct(lat, 99)
            flag = "ok" if p99 < 50 else "MISSED"
            print(f"  {label:32} p50 {pct(lat, 50):7.1f} ms  p99 {p99:7.1f} ms  {flag}")


def measure_cli_first_page(db_url: str, repeat: int) -> None:
    from bot.bootstrap import build
    from bot.entrypoints.cli.audit import PAGE
    from bot.ports.store import RequestFilter
    from bot.settings import Settings

    def first_page(queries: Any, **params: str) -> None:  # what `approval-bot audit` does
        page = next(queries.pages(RequestFilter(**params), PAGE), [])
        queries.history(page)

    container = build(Settings(database_url=db_url, launcher="none"), adapters=False)
    try:
        for label, params in FILTERS[:2] + FILTERS[5:6]:
            lat = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                first_page(container.services.queries, **params)
                lat.append(time.perf_counter() - t0)
            print(f"  {label:32} p50 {pct(lat, 50):7.1f} ms  p99 {pct(lat, 99):7.1f} ms")
    finally:
        container.close()


# The child reports its own peak RSS from /proc (VmHWM): getrusage's ru_maxrss would also
# count the memory of this (forked) benchmark process from before the exec.
VERIFY = (
    "import sys\n"
    "from bot.entrypoints.cli import cli\n"
    "try:\n"
    "    cli(['audit', 'verify'], prog_name='approval-bot')\n"
    "finally:\n"
    "    hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    print(f'peak-rss-kb {hwm.split()[1]}', file=sys.stderr)\n"
)


def measure_verify(db_url: str, events: int) -> None:
    """`approval-bot audit verify` in its own process, which reports its own peak RSS."""
    env = {**os.environ, "APPROVAL_BOT_DATABASE_URL": db_url, "APPROVAL_BOT_CONFIG": ""}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", VERIFY], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - t0
    peak = [line for line in proc.stderr.splitlines() if line.startswith("peak-rss-kb ")]
    assert proc.returncode == 0 and peak, proc.stderr[-2000:]
    rss_mb = int(peak[-1].split()[1]) / 1024
    rate = events / elapsed
    print(f"  {proc.stdout.strip()}")
    print(
        f"  {rate:,.0f} events/s over the whole command ({elapsed:.1f} s, startup included), "
        f"peak RSS {rss_mb:.0f} MB  {'ok' if rate >= 50_000 and rss_mb < 200 else 'MISSED'}"
    )


@contextlib.contextmanager
def fresh_database(postgres: str, prefix: str, *, keep: bool = False) -> Iterator[tuple[str, str]]:
    """A new PostgreSQL database, migrated with the example config applied: (its SQLAlchemy
    URL, its libpq DSN). Dropped afterwards unless ``keep``."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(postgres), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(postgres)).set(database=name)
    db_url = url.render_as_string(hide_password=False)
    try:
        prepare_database(db_url)
        yield db_url, url.set(drivername="postgresql").render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept {db_url}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--events-per-request", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database (prints it)")
    args = ap.parse_args()

    with fresh_database(args.postgres, "abaudit", keep=args.keep) as (db_url, dsn):
        t0 = time.perf_counter()
        events = seed(dsn, args.requests, args.events_per_request)
        print(
            f"seeded {args.requests:,} requests and {events:,} audit events "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_bot(
                db_url,
                Path(tmp),
                env={
                    "APPROVAL_BOT_API_TOKEN": TOKEN,
                    "APPROVAL_BOT_LOG_LEVEL": "WARNING",
                    # Measure the API alone, not beside the scheduler's walk of 1M events.
                    "APPROVAL_BOT_AUDIT_CHECK_SECONDS": "3600",
                },
            ) as bot,
        ):
            print(f"GET /api/v1/audit?limit=50, first page, {args.repeat} requests each:")
            measure_api(bot.url, args.repeat)
        print("approval-bot audit, first page (in process):")
        measure_cli_first_page(db_url, args.repeat)
        print("approval-bot audit verify:")
        measure_verify(db_url, events)


if __name__ == "__main__":
    main()
