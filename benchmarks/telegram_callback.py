"""How fast does the bot answer a Telegram button tap, next to a bare PTB app and a trivial one?

    .venv/bin/python -m benchmarks.telegram_callback [--requests 200] [--concurrency 1 16]

Runs, in one go and on this machine, three webhook servers (uvicorn subprocesses) against
one fake Telegram Bot API on 127.0.0.1 (the tests' fake, in this process):
- a trivial Starlette app: checks the secret header, reads the JSON and calls
  ``answerCallbackQuery`` with httpx: the floor of this measuring set-up;
- a bare python-telegram-bot ``Application`` behind the same kind of route
  (``process_update``), whose callback handler only answers;
- the bot (``approval-bot serve``, SQLite, the example config, one pending request), whose
  answer waits for the vote: the real mix after a decision (votes, refusals with a
  ``denied`` audit event, "already decided" notes).

Each tap is a webhook POST of a ``callback_query`` update; its latency runs from sending the
POST to the fake receiving ``answerCallbackQuery`` for that query (one clock: the fake runs
in this process). The machine may be shared: compare the rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import pct  # noqa: E402
from tests.adapters.telegram.fake_telegram import GROUP, TOKEN, FakeTelegram  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    http_responds,
    running_process,
    wait_for,
)

SECRET = "bench-webhook-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
# bob and carol approve, then: a stranger, the requester's colleague without Telegram, …
USERS = [1002, 1003, 9999, 1001, 4242]


def _secret_ok(request: Any) -> bool:
    return bool(request.headers.get(HEADER) == os.environ["APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET"])


def trivial_app() -> Any:
    """The floor: no framework between the webhook and the answer (uvicorn --factory)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    url = f"{os.environ['APPROVAL_BOT_TELEGRAM_API_URL']}{os.environ['TELEGRAM_BOT_TOKEN']}"
    client = httpx.AsyncClient(timeout=10)

    async def webhook(request: Request) -> Response:
        if not _secret_ok(request):
            return Response(status_code=403)
        update = await request.json()
        query = update["callback_query"]
        await client.post(f"{url}/answerCallbackQuery", data={"callback_query_id": query["id"]})
        return Response(status_code=200)

    return Starlette(routes=[Route("/telegram/webhook", webhook, methods=["POST"])])


def bare_app() -> Any:
    """A bare PTB Application in a webhook route, its callback handler only answering."""
    import contextlib

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler

    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["APPROVAL_BOT_TELEGRAM_API_URL"])
        .updater(None)
        .build()
    )

    async def answer(update: Update, _context: Any) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    application.add_handler(CallbackQueryHandler(answer))

    async def webhook(request: Request) -> Response:
        if not _secret_ok(request):
            return Response(status_code=403)
        await application.process_update(Update.de_json(await request.json(), application.bot))
        return Response(status_code=200)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        async with application:
            yield

    return Starlette(
        routes=[Route("/telegram/webhook", webhook, methods=["POST"])], lifespan=lifespan
    )


async def measure(
    url: str, fake: FakeTelegram, message: Any, request_id: str, total: int, concurrency: int
) -> list[float]:
    """Answer latencies (ms) of ``total`` taps with ``concurrency`` in flight."""
    sent: dict[str, float] = {}
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(n: int) -> None:
            update = fake.tap(USERS[n % len(USERS)], f"v1:a:{request_id}", message=message)
            query_id = update["callback_query"]["id"]
            body = json.dumps(update).encode()
            headers = {HEADER: SECRET, "Content-Type": "application/json"}
            async with sem:
                sent[query_id] = time.monotonic()
                response = await client.post(
                    f"{url}/telegram/webhook", content=body, headers=headers
                )
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(one(n) for n in range(total)))
    answered = {str(c.args.get("callback_query_id")): c.at for c in fake.log("answerCallbackQuery")}
    missing = [q for q in sent if q not in answered]
    if missing:
        raise RuntimeError(f"{url}: {len(missing)} taps were never answered")
    return [(answered[q] - t) * 1000 for q, t in sent.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="taps per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="telegram-callback-"))
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MLFLOW_", "TELEGRAM_", "APPROVAL_BOT_"))
    }
    with FakeTelegram(group_limit=(10_000, 1.0), bot_limit=(10_000, 1.0)) as fake:
        env = {
            **base_env,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "APPROVAL_BOT_TELEGRAM_API_URL": fake.api_url,
            "APPROVAL_BOT_TELEGRAM_CHAT_ID": str(GROUP),
            "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "APPROVAL_BOT_DATABASE_URL": f"sqlite:///{work}/bench.db",
            "APPROVAL_BOT_CONFIG": str(ROOT / "examples" / "config.yaml"),
            "APPROVAL_BOT_API_TOKEN": "bench-token",
            "APPROVAL_BOT_LAUNCHER": "none",
            "APPROVAL_BOT_LOG_LEVEL": "WARNING",
        }
        py = sys.executable
        subprocess.run([py, "-m", "bot", "migrate"], env=env, check=True, capture_output=True)
        ports = {name: free_port() for name in ("trivial", "bare", "bot")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

        def uvicorn(factory: str, port: int) -> list[str]:
            app = f"benchmarks.telegram_callback:{factory}"
            return [py, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"]  # fmt: skip

        def answers(url: str) -> Any:
            return lambda: http_responds(f"{url}/telegram/webhook", expect_status=None)

        with (
            running_process(
                [py, "-m", "bot", "serve", "--port", str(ports["bot"])],
                log_path=work / "bot.log",
                env=env,
                cwd=ROOT,
                ready=lambda: http_responds(f"{urls['bot']}/readyz"),
                description="the bot to be ready",
            ),
            running_process(
                uvicorn("bare_app", ports["bare"]),
                log_path=work / "bare.log",
                env=env,
                cwd=ROOT,
                ready=answers(urls["bare"]),
                description="the bare PTB app to answer",
            ),
            running_process(
                uvicorn("trivial_app", ports["trivial"]),
                log_path=work / "trivial.log",
                env=env,
                cwd=ROOT,
                ready=answers(urls["trivial"]),
                description="the trivial app to answer",
            ),
        ):
            request = json.loads((ROOT / "examples" / "request.json").read_text())
            request["requested_by"] = "dave"
            submitted = httpx.post(
                f"{urls['bot']}/api/v1/approvals",
                json=request,
                headers={"Authorization": "Bearer bench-token"},
                timeout=10,
            )
            submitted.raise_for_status()
            request_id = submitted.json()["id"]
            wait_for(
                lambda: bool(fake.calls("sendMessage")),
                timeout=30,
                description="the request message to be posted",
            )
            message = next(m for m in fake.messages.values() if m.chat_id == GROUP)
            targets = [
                ("trivial Starlette", urls["trivial"]),
                ("bare PTB Application", urls["bare"]),
                ("approval-bot", urls["bot"]),
            ]
            for _name, url in targets:  # warm up: getMe, connections, caches
                asyncio.run(measure(url, fake, message, request_id, 30, 4))
            results: dict[tuple[str, int], list[float]] = {}
            for conc in args.concurrency:
                for name, url in targets:
                    results[name, conc] = asyncio.run(
                        measure(url, fake, message, request_id, args.requests, conc)
                    )
    print(f"callback-answer latency, {args.requests} taps per row (ms, POST → answerCallbackQuery)")
    print(f"{'target':<22} {'conc':>4} {'p50':>8} {'p99':>8} {'max':>8}")
    for (name, conc), values in results.items():
        print(
            f"{name:<22} {conc:>4} {statistics.median(values):>8.1f} "
            f"{pct(values, 99):>8.1f} {max(values):>8.1f}"
        )
    for conc in args.concurrency:
        bot, bare = results["approval-bot", conc], results["bare PTB Application", conc]
        print(
            f"concurrency {conc:>2}: p99 bot/bare PTB = {pct(bot, 99) / pct(bare, 99):.2f}, "
            f"p50 bot/bare PTB = {statistics.median(bot) / statistics.median(bare):.2f}"
        )


if __name__ == "__main__":
    main()
