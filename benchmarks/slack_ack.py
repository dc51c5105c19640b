"""How fast does the bot acknowledge a Slack button click, next to a bare Bolt app?

    .venv/bin/python -m benchmarks.slack_ack [--requests 300] [--concurrency 1 32]

Runs, in one go and on this machine:
- the bot (``approval-bot serve``, SQLite, the example config, one pending request),
- a bare Bolt ``AsyncApp`` behind the same Starlette adapter whose listener only acks,
both as uvicorn subprocesses against one fake Slack Web API on 127.0.0.1, and sends
them signed ``block_actions`` clicks (Approve) at each concurrency. The latency is
from sending the request to Slack getting its HTTP 200 (the ack). The bot's clicks
are the real mix after a decision: votes, refusals and polite notes, each with its
ephemeral message and database work running after the ack.

Target: bot p99 ≤ 1.5 × bare p99, and bot p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.adapters.slack.fake_slack import TEAM, FakeSlack  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    http_responds,
    running_process,
    wait_for,
)

SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH01"
APPROVE = "approval:v1:approve"
USERS = ["U02BOB", "U03CAROL", "U09NOBODY", "U04DAVE", "U01ALICE"]


def bare_app() -> Any:
    """The baseline: Bolt + the Starlette adapter, a listener that only acks (uvicorn --factory)."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["APPROVAL_BOT_SLACK_API_URL"]
    )
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.action(APPROVE)
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def click_body(request_id: str, user: str, n: int) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "bench"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0BENCH",
        "token": "legacy",
        "trigger_id": f"trigger-{n}",
        "container": {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "approvals"},
        "message": {"type": "message", "ts": "1.0", "text": "request"},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {"type": "button", "action_id": APPROVE, "value": request_id, "action_ts": "1.0"}
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
    }


async def measure(url: str, request_id: str, total: int, concurrency: int) -> list[float]:
    """Latencies (ms) of ``total`` clicks with ``concurrency`` in flight."""
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def one(n: int) -> None:
            body = click_body(request_id, USERS[n % len(USERS)], n)
            async with sem:
                headers = signed_headers(body)
                started = time.perf_counter()
                response = await client.post(f"{url}/slack/events", content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:200]}")
            latencies.append(elapsed)

        await asyncio.gather(*(one(n) for n in range(total)))
    return latencies


def settle(slack: FakeSlack, ephemerals: int) -> None:
    """Wait until the bot has answered every click (its work after the ack is done)."""
    wait_for(
        lambda: slack.attempts("chat.postEphemeral") >= ephemerals,
        timeout=120,
        description="the bot's ephemeral answers",
    )


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=320, help="clicks per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slack-ack-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MLFLOW_"))}
    with FakeSlack() as slack:
        env = {
            **base_env,
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "APPROVAL_BOT_SLACK_API_URL": slack.api_url,
            "APPROVAL_BOT_SLACK_CHANNEL": CHANNEL,
            "APPROVAL_BOT_DATABASE_URL": f"sqlite:///{work}/bench.db",
            "APPROVAL_BOT_CONFIG": str(ROOT / "examples" / "config.yaml"),
            "APPROVAL_BOT_API_TOKEN": "bench-token",
            "APPROVAL_BOT_LAUNCHER": "none",
            "APPROVAL_BOT_LOG_LEVEL": "WARNING",
        }
        py = sys.executable
        subprocess.run([py, "-m", "bot", "migrate"], env=env, check=True, capture_output=True)
        bot_port, bare_port = free_port(), free_port()
        bot_url, bare_url = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{bare_port}"
        bot_cmd = [py, "-m", "bot", "serve", "--port", str(bot_port)]
        bare_cmd = [py, "-m", "uvicorn", "benchmarks.slack_ack:bare_app", "--factory"]
        bare_cmd += ["--host", "127.0.0.1", "--port", str(bare_port), "--log-level", "warning"]
        with (
            running_process(
                bot_cmd,
                log_path=work / "bot.log",
                env=env,
                cwd=ROOT,
                ready=lambda: http_responds(f"{bot_url}/readyz"),
                description="the bot to be ready",
            ),
            running_process(
                bare_cmd,
                log_path=work / "bare.log",
                env=env,
                cwd=ROOT,
                ready=lambda: http_responds(f"{bare_url}/slack/events", expect_status=None),
                description="the bare Bolt app to answer",
            ),
        ):
            request = json.loads((ROOT / "examples" / "request.json").read_text())
            request["requested_by"] = "dave"
            submitted = httpx.post(
                f"{bot_url}/api/v1/approvals",
                json=request,
                headers={"Authorization": "Bearer bench-token"},
                timeout=10,
            )
            submitted.raise_for_status()
            request_id = submitted.json()["id"]
            wait_for(
                lambda: bool(slack.calls("chat.postMessage")),
                timeout=10,
                description="the request message to be posted",
            )
            results: dict[tuple[str, int], list[float]] = {}
            targets = [("bare Bolt AsyncApp", bare_url), ("approval-bot", bot_url)]
            for _name, url in targets:  # warm up: auth.test, connections, caches
                asyncio.run(measure(url, request_id, 40, 4))
            for conc in args.concurrency:
                for name, url in targets:
                    before = slack.attempts("chat.postEphemeral")
                    results[name, conc] = asyncio.run(measure(url, request_id, args.requests, conc))
                    if name == "approval-bot":  # let its after-ack work finish first
                        settle(slack, before + args.requests)
    print(f"block_actions ack latency, {args.requests} signed clicks per row (ms)")
    print(f"{'target':<20} {'conc':>4} {'p50':>8} {'p99':>8} {'max':>8}")
    for (name, conc), values in results.items():
        print(
            f"{name:<20} {conc:>4} {statistics.median(values):>8.1f} "
            f"{pct(values, 99):>8.1f} {max(values):>8.1f}"
        )
    ok = True
    for conc in args.concurrency:
        bot, bare = results["approval-bot", conc], results["bare Bolt AsyncApp", conc]
        ratio = pct(bot, 99) / pct(bare, 99)
        good = ratio <= 1.5 and pct(bot, 99) < 100
        ok &= good
        print(
            f"concurrency {conc:>2}: p99 ratio bot/bare = {ratio:.2f} (target ≤ 1.5), "
            f"bot p99 {pct(bot, 99):.1f} ms (target < 100) {'OK' if good else 'MISSED'}"
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
