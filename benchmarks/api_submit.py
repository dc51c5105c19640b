"""Submissions under load: POST /api/v1/approvals on PostgreSQL and SQLite, with Slack on.

    .venv/bin/python -m benchmarks.api_submit [--requests 1600] [--concurrency 16]

In one run, servers pinned to core 0 and the load generator (``benchmarks.loadgen``) to core
1, each with the same distinct, pre-built submissions:
- floors: a trivial ASGI app (the client and uvicorn), and a bare FastAPI app whose one
  plain ``def`` route validates the same pydantic body and inserts one row with SQLAlchemy
  Core (what any such service pays per write), on each database;
- the bot (Slack configured against a fake Web API), on each database: submissions per
  second, p50/p99, and how long after the last answer the last request message was posted.

Targets: PostgreSQL ≥ 300/s with p99 < 100 ms; SQLite ≥ 200/s with p99 < 200 ms; every
message posted < 3 s after the last answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import load, pct, raw_request  # noqa: E402
from benchmarks.served import CpuMeter, profiling, serving  # noqa: E402
from bot.adapters.db import normalise_url  # noqa: E402
from bot.service.schemas import SubmissionIn  # noqa: E402  (the route's annotation resolves here)
from tests.adapters.slack.fake_slack import FakeSlack  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    wait_for,
)

TOKEN = "benchmark-token-0123456789abcdef"
CHANNEL = "C0BENCH01"


def bare_app() -> Any:
    """The write floor: FastAPI, the bot's own body schema, one INSERT per request."""
    from fastapi import FastAPI
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

    engine = create_engine(normalise_url(os.environ["BENCH_DATABASE_URL"]))
    rows = Table(
        "bench_rows",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("body", String),
    )
    rows.metadata.create_all(engine)
    app = FastAPI()

    @app.post("/api/v1/approvals", status_code=201)
    def insert(body: SubmissionIn) -> dict[str, str]:
        with engine.begin() as conn:
            conn.execute(rows.insert().values(body=body.model_version))
        return {"id": body.model_version}

    return app


def bodies(n: int, tag: str, port: int) -> list[bytes]:
    base = json.loads((ROOT / "examples" / "request.json").read_text())
    out = []
    for i in range(n):
        body = {
            **base,
            "model_name": f"bench-{tag}-{i % 50}",
            "model_version": str(i),
            "staging_run_id": f"{tag}-{i}",
            "requested_by": "dave",
        }
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        data = json.dumps(body).encode()
        out.append(raw_request("POST", "/api/v1/approvals", f"127.0.0.1:{port}", data, headers))
    return out


@contextmanager
def database(kind: str, admin_url: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work}/bench-{uuid.uuid4().hex[:6]}.db"
        return
    name = f"abbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalise_url(admin_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def summary(label: str, result: dict[str, Any]) -> tuple[float, float, str]:
    lat = result["latencies_ms"]
    rate = len(lat) / result["elapsed_s"]
    line = (
        f"{label:<36} {rate:8.1f}/s  p50 {statistics.median(lat):7.1f}  p99 {pct(lat, 99):7.1f} ms"
        f"  {result['statuses']}"
    )
    return rate, pct(lat, 99), line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1600)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    n, conc = args.requests, args.concurrency
    work = Path(tempfile.mkdtemp(prefix="api-bench-"))
    py = sys.executable
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MLFLOW_", "APP"))}
    lines: list[str] = []
    verdicts: list[str] = []
    # Slack's rate limits off (limits={}): this measures the bot, not Slack's pacing.
    with FakeSlack(limits={}) as slack:
        port = free_port()
        cmd = [py, "-m", "uvicorn", "benchmarks.floor:trivial_app", "--factory"]
        cmd += ["--port", str(port), "--log-level", "warning"]
        with serving("trivial", cmd, base, f"http://127.0.0.1:{port}/", work):
            reqs = bodies(n, "floor", port)
            load("127.0.0.1", port, reqs[:100], conc, work)
            lines.append(
                summary("floor: trivial ASGI app", load("127.0.0.1", port, reqs, conc, work))[2]
            )
        for kind, target, limit in (("postgresql", 300, 100), ("sqlite", 200, 200)):
            with database(kind, args.postgres, work) as db_url:
                env = {**base, "PYTHONPATH": str(ROOT), "BENCH_DATABASE_URL": db_url}
                port = free_port()
                cmd = [py, "-m", "uvicorn", "benchmarks.api_submit:bare_app", "--factory"]
                cmd += ["--port", str(port), "--log-level", "warning"]
                with serving(f"bare-{kind}", cmd, env, f"http://127.0.0.1:{port}/docs", work):
                    reqs = bodies(n + 100, "bare", port)
                    load("127.0.0.1", port, reqs[:100], conc, work)
                    result = load("127.0.0.1", port, reqs[100:], conc, work)
                    floor_rate, floor_p99, line = summary(
                        f"floor: FastAPI + INSERT, {kind}", result
                    )
                    lines.append(line)
            with database(kind, args.postgres, work) as db_url:
                env = {
                    **base,
                    "PYTHONPATH": str(ROOT),
                    "APPROVAL_BOT_DATABASE_URL": db_url,
                    "APPROVAL_BOT_CONFIG": str(ROOT / "examples" / "config.yaml"),
                    "APPROVAL_BOT_API_TOKEN": TOKEN,
                    "APPROVAL_BOT_LAUNCHER": "none",
                    "APPROVAL_BOT_LOG_LEVEL": "WARNING",
                    "SLACK_BOT_TOKEN": "xoxb-bench",
                    "SLACK_SIGNING_SECRET": "bench-signing-secret",
                    "APPROVAL_BOT_SLACK_API_URL": slack.api_url,
                    "APPROVAL_BOT_SLACK_CHANNEL": CHANNEL,
                }
                subprocess.run(
                    [py, "-m", "bot", "migrate"], env=env, check=True, capture_output=True
                )
                port = free_port()
                cmd = [py, "-m", "bot", "serve", "--port", str(port)]
                ready = f"http://127.0.0.1:{port}/readyz"
                with serving(f"bot-{kind}", cmd, env, ready, work) as pid:
                    posted = slack.attempts("chat.postMessage")
                    reqs = bodies(n + 100, kind, port)
                    load("127.0.0.1", port, reqs[:100], conc, work)
                    wait_for(
                        lambda p=posted: slack.attempts("chat.postMessage") >= p + 100,
                        timeout=120,
                        description="the warm-up messages",
                    )
                    posted = slack.attempts("chat.postMessage")
                    spy = profiling(pid, f"bot {kind} submissions")
                    cpu = CpuMeter(pid)
                    result = load("127.0.0.1", port, reqs[100:], conc, work)
                    answered = time.time()
                    wait_for(
                        lambda p=posted: slack.attempts("chat.postMessage") >= p + n,
                        timeout=600,
                        description="every request message",
                    )
                    per_request = cpu.per(n)
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                        spy.wait(timeout=60)
                    posts = sorted(
                        r.at for r in slack.http.requests if r.path == "/api/chat.postMessage"
                    )
                    lag = max(0.0, posts[-1] - answered)
                    rate, p99, line = summary(f"approval-bot, {kind}", result)
                    lines.append(line)
                    lines.append(f"{'':<36} last message posted {lag:.2f} s after the last answer")
                    lines.append(
                        f"{'':<36} server CPU per submission and its message: {per_request}"
                    )
                    ok = rate >= target and p99 < limit
                    verdicts.append(
                        f"{kind}: {rate:.0f}/s (≥ {target}), p99 {p99:.0f} ms (< {limit}) "
                        f"{'ok' if ok else 'MISSED'}; messages {lag:.2f} s after (< 3) "
                        f"{'ok' if lag < 3 else 'MISSED'}"
                    )
                    verdicts.append(
                        f"{kind}: against the floor (FastAPI + INSERT): rate "
                        f"{rate / floor_rate:.2f}x, p99 {p99 / floor_p99:.1f}x"
                    )
    print(f"POST /api/v1/approvals, {n} distinct submissions at concurrency {conc}")
    for line in lines + verdicts:
        print(line)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
