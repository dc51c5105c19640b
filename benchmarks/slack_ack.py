"""Slack under load: the ack against bare Bolt, click → chat.update, decision → KFP run, RSS.

    .venv/bin/python -m benchmarks.slack_ack [--clicks 320] [--concurrency 1 32]

In one run, on this machine, with the servers pinned to core 0 and the load generator
(``benchmarks.loadgen``: raw HTTP/1.1, connections opened before the clock) to core 1:

- floors: the load generator against a trivial ASGI app, and against a bare Bolt
  ``AsyncApp`` (same signing secret, same fake Slack) whose listener only acks;
- the bot with Slack only, then with everything configured (Slack, a real MLflow server,
  the ``kfp`` launcher against a fake KFP API). Each click is a real vote: an approver
  approving one of many pending requests, so every click changes a message.

Printed per row: ack p50/p99 and the p99 ratio to bare Bolt (target ≤ 1.5 and < 100 ms);
click → ``chat.update`` of that message (target p99 < 1 s); deciding click → the KFP
``create run`` call (target p99 < 1 s), one decision at a time and as a burst at each
concurrency; the server's CPU time per click (what a burst on one core must wait for);
the server's RSS after the run (targets: Slack only < 100 MB, everything < 200 MB).
Every lane of the outbox is drained before the next row starts.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import load, pct, raw_request  # noqa: E402
from benchmarks.served import CpuMeter, profiling, rss_mb, serving  # noqa: E402
from tests.adapters.kfp_fake import FakeKfpRuns  # noqa: E402
from tests.adapters.slack.fake_slack import TEAM, FakeSlack, arguments  # noqa: E402
from tests.support.mlflow_server import mlflow_server  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    wait_for,
)

SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH01"
TOKEN = "bench-token-0123456789"
APPROVE = "approval:v1:approve"
ONE_AT_A_TIME = 40  # decisions measured in a closed loop, before the burst
FIRST, SECOND = ("U02BOB", "bob"), ("U03CAROL", "carol")  # ml-leads, then sre: decides
MARK = "*bob* approved"  # in a message's blocks once the first click's vote shows


def bare_app() -> Any:
    """The floor: Bolt + the Starlette adapter, a listener that only acks (uvicorn --factory)."""
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


# -- what Slack sends ---------------------------------------------------------------------


def signed_click(request_id: str, user: str, n: int, ts: str) -> tuple[bytes, dict[str, str]]:
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
    body = urlencode({"payload": json.dumps(payload)}).encode()
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
    }
    return body, headers


def click(request_id: str, user: str, n: int, port: int, ts: str) -> bytes:
    body, headers = signed_click(request_id, user, n, ts)
    return raw_request("POST", "/slack/events", f"127.0.0.1:{port}", body, headers)


def clicks(request_ids: list[str], user: str, port: int) -> list[bytes]:
    ts = str(int(time.time()))  # signed before the clock; valid for 5 minutes
    return [click(rid, user, n, port, ts) for n, rid in enumerate(request_ids)]


def submit(url: str, n: int, tag: str) -> list[str]:
    """``n`` pending requests for distinct models (not timed)."""
    body = json.loads((ROOT / "examples" / "request.json").read_text())
    ids = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for i in range(n):
            body.update(
                model_name=f"bench-{tag}-{i}",
                model_version="1",
                staging_run_id=f"{tag}-{i}",
                requested_by="dave",
            )
            r = http.post("/api/v1/approvals", json=body, timeout=30)
            r.raise_for_status()
            ids.append(r.json()["id"])
    return ids


# -- what the fakes saw ------------------------------------------------------------------------


def slack_updates(slack: FakeSlack) -> list[tuple[float, str]]:
    return [
        (r.at, json.dumps(arguments(r).get("blocks")))
        for r in slack.http.requests
        if r.path == "/api/chat.update"
    ]


def after_click(
    ids: list[str], sent_at: list[float], seen: list[tuple[float, str]], marker: str
) -> list[float]:
    """Per click: ms from sending it to the first message update that shows it."""
    out = []
    for rid, sent in zip(ids, sent_at, strict=True):
        times = [at for at, blocks in seen if at >= sent and rid in blocks and marker in blocks]
        out.append((min(times) - sent) * 1000 if times else float("inf"))
    return out


def drained(url: str) -> None:
    """Wait until the bot has nothing left to deliver (MLflow runs included)."""

    def idle() -> bool:
        for state in ("pending", "delivering"):
            r = httpx.get(
                f"{url}/api/v1/outbox",
                params={"state": state, "limit": 1},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            if r.json()["items"]:
                return False
        return True

    wait_for(idle, timeout=600, description="the outbox to drain", interval=0.2)


def one_decision_at_a_time(name: str, url: str, ids: list[str], kfp: FakeKfpRuns) -> str:
    """Deciding clicks in a closed loop: each sent once the previous one's run was created."""
    ts = str(int(time.time()))
    waits = []
    with httpx.Client(base_url=url) as client:
        for n, rid in enumerate(ids):
            body, headers = signed_click(rid, SECOND[0], n, ts)
            before = len(kfp.created)
            sent = time.time()
            client.post("/slack/events", content=body, headers=headers).raise_for_status()
            wait_for(
                lambda b=before: len(kfp.created) > b,
                timeout=60,
                description="the decision's KFP run",
                interval=0.002,
            )
            waits.append((kfp.created[before].at - sent) * 1000)
    return row(f"{name}: deciding click → KFP create, one at a time", waits)


def kfp_creates(kfp: FakeKfpRuns) -> list[tuple[float, str]]:
    return [(r.at, r.body.decode()) for r in kfp.created]


def row(name: str, values: list[float]) -> str:
    return f"{name:<44} p50 {statistics.median(values):8.1f}  p99 {pct(values, 99):8.1f} ms"


# -- the run -----------------------------------------------------------------------------------


def bot_env(base: dict[str, str], work: Path, slack: FakeSlack, tag: str) -> dict[str, str]:
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "APPROVAL_BOT_SLACK_API_URL": slack.api_url,
        "APPROVAL_BOT_SLACK_CHANNEL": CHANNEL,
        "APPROVAL_BOT_DATABASE_URL": f"sqlite:///{work}/{tag}.db",
        "APPROVAL_BOT_CONFIG": str(ROOT / "examples" / "config.yaml"),
        "APPROVAL_BOT_API_TOKEN": TOKEN,
        "APPROVAL_BOT_LAUNCHER": "none",
        "APPROVAL_BOT_LOG_LEVEL": "WARNING",
    }


def measure_bot(
    name: str, env: dict[str, str], args: Any, work: Path, slack: FakeSlack, kfp: FakeKfpRuns
) -> tuple[dict[int, list[float]], list[str], float]:
    """Acks per concurrency, the report lines, and the RSS after."""
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], env=env, check=True, capture_output=True
    )
    port = free_port()
    cmd = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
    acks: dict[int, list[float]] = {}
    lines = []
    url = f"http://127.0.0.1:{port}"
    with serving(name, cmd, env, f"{url}/readyz", work) as pid:
        total = args.clicks * len(args.concurrency)
        posted = slack.attempts("chat.postMessage")  # the fake is shared by both bots
        ids = submit(url, total + 8, name.split()[0])
        wait_for(
            lambda: slack.attempts("chat.postMessage") >= posted + len(ids),
            timeout=300,
            description="every request message to be posted",
        )
        load("127.0.0.1", port, clicks(ids[-8:], FIRST[0], port), 4, work)  # warm up
        for n, conc in enumerate(args.concurrency):
            chunk = ids[n * args.clicks : (n + 1) * args.clicks]
            spy = profiling(pid, f"{name} conc {conc}")
            cpu = CpuMeter(pid)
            result = load("127.0.0.1", port, clicks(chunk, FIRST[0], port), conc, work)
            acks[conc] = result["latencies_ms"]
            sent = result["sent_at"]

            def shown(c: list[str] = chunk, t: list[float] = sent) -> bool:
                return max(after_click(c, t, slack_updates(slack), MARK)) < float("inf")

            wait_for(shown, timeout=300, description="every vote to reach its message")
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                spy.wait(timeout=60)
            updates = after_click(chunk, sent, slack_updates(slack), MARK)
            lines.append(row(f"{name}: click → chat.update, conc {conc}", updates))
            lines.append(f"{name}: server CPU per voting click, conc {conc}: {cpu.per(len(chunk))}")
            if kfp is not None:
                if n == 0:
                    lines.append(one_decision_at_a_time(name, url, chunk[:ONE_AT_A_TIME], kfp))
                    chunk = chunk[ONE_AT_A_TIME:]
                    drained(url)
                before = len(kfp.created)
                spy = profiling(pid, f"{name} deciding conc {conc}")
                cpu = CpuMeter(pid)
                decided = load("127.0.0.1", port, clicks(chunk, SECOND[0], port), conc, work)
                wanted = before + len(chunk)
                wait_for(
                    lambda w=wanted: len(kfp.created) >= w,
                    timeout=300,
                    description="every approval to start its KFP run",
                )
                per_decision = cpu.per(len(chunk))
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
                starts = after_click(chunk, decided["sent_at"], kfp_creates(kfp), "")
                lines.append(row(f"{name}: deciding click → KFP create, conc {conc}", starts))
                lines.append(
                    f"{name}: server CPU per deciding click (up to its launch), conc {conc}: "
                    f"{per_decision}"
                )
            drained(url)  # the next row starts with every lane idle
        rss = rss_mb(pid)
    return acks, lines, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=320, help="clicks per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slack-bench-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MLFLOW_", "APP"))}
    results: dict[tuple[str, int], list[float]] = {}
    floor_cpu: list[str] = []
    report: list[str] = []
    with ExitStack() as stack:
        # Slack's rate limits off (limits={}): this measures the bot, not Slack's pacing.
        slack = stack.enter_context(FakeSlack(limits={}))
        kfp = stack.enter_context(FakeKfpRuns())
        mlflow = stack.enter_context(mlflow_server(work / "mlflow"))
        env = bot_env(base, work, slack, "floor")
        py = sys.executable
        for name, target in (
            ("trivial ASGI app", "benchmarks.floor:trivial_app"),
            ("bare Bolt AsyncApp", "benchmarks.slack_ack:bare_app"),
        ):
            port = free_port()
            cmd = [py, "-m", "uvicorn", target, "--factory", "--port", str(port)]
            cmd += ["--log-level", "warning"]
            ready = f"http://127.0.0.1:{port}/slack/events"
            with serving(name, cmd, env, ready, work) as pid:
                ids = [f"floor{n:05d}" for n in range(args.clicks)]
                load("127.0.0.1", port, clicks(ids[:40], FIRST[0], port), 4, work)
                for conc in args.concurrency:
                    reqs = clicks(ids, FIRST[0], port)
                    cpu = CpuMeter(pid)
                    results[name, conc] = load("127.0.0.1", port, reqs, conc, work)["latencies_ms"]
                    floor_cpu.append(
                        f"{name}: server CPU per click, conc {conc}: {cpu.per(len(ids))}"
                    )
        everything = {
            **bot_env(base, work, slack, "all"),
            "MLFLOW_TRACKING_URI": mlflow.url,
            "APPROVAL_BOT_LAUNCHER": "kfp",
            "KFP_HOST": kfp.url,
            "APPROVAL_BOT_PROMOTION_NAMESPACE": "models",
        }
        rss: dict[str, float] = {}
        for name, env_, fake_kfp in (
            ("bot, Slack only", bot_env(base, work, slack, "slack"), None),
            ("bot, Slack + MLflow + KFP", everything, kfp),
        ):
            acks, lines, rss[name] = measure_bot(name, env_, args, work, slack, fake_kfp)
            for conc, values in acks.items():
                results[name, conc] = values
            report += lines
    print(f"Slack block_actions, {args.clicks} signed clicks per row (ms)")
    for (name, conc), values in results.items():
        print(row(f"ack: {name}, conc {conc}", values))
    for conc in args.concurrency:
        bare = pct(results["bare Bolt AsyncApp", conc], 99)
        for name in ("bot, Slack only", "bot, Slack + MLflow + KFP"):
            bot = pct(results[name, conc], 99)
            ok = bot / bare <= 1.5 and bot < 100
            print(
                f"conc {conc:>2}: {name}: p99 ratio to bare Bolt {bot / bare:.2f} "
                f"(≤ 1.5), p99 {bot:.1f} ms (< 100)  {'ok' if ok else 'MISSED'}"
            )
    for line in floor_cpu + report:
        print(line)
    for name, mb in rss.items():
        limit = 100 if name == "bot, Slack only" else 200
        verdict = "ok" if mb < limit else "MISSED"
        print(f"RSS after the run, {name}: {mb:.0f} MB (< {limit})  {verdict}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
