"""The walk of one click: worker-thread hops and transactions from a Slack click (or a
Telegram tap) to the updated message, counted on the real app against the fakes.

    .venv/bin/python -m benchmarks.walk [--clicks 20]

Counts ``asyncio.to_thread`` calls and units of work entered (read-only and read-write) by
the bot (not by the measurement) between the click and the message update, averaged over
``--clicks`` votes (each on its own pending request, after its message was posted and
everything else delivered); and the same for posting a request's message. The same
script runs on an older tree (it only uses the tests' fakes and ``running_bot``), so two
trees can be compared on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.adapters.db import SqlUnitOfWork  # noqa: E402

# The scheduler sweeps once, at start: only the click is counted.
QUIET = {"sweep_seconds": 3600.0, "poll_seconds": 3600.0}
COUNTS: Counter[str] = Counter()
_LOCK = threading.Lock()


def _count(name: str) -> None:
    if threading.current_thread() is threading.main_thread():
        return  # the measurement's own reads (what it waits for), not the bot's
    with _LOCK:
        COUNTS[name] += 1


@contextmanager
def counting() -> Any:
    """Count thread hops and units of work while the block runs."""
    to_thread = asyncio.to_thread
    enter = SqlUnitOfWork.__enter__

    async def counted_to_thread(func: Callable[..., Any], /, *args: Any, **kw: Any) -> Any:
        _count("to_thread")
        return await to_thread(func, *args, **kw)

    def counted_enter(self: Any) -> Any:
        _count("readonly transactions" if self.readonly else "read-write transactions")
        return enter(self)

    asyncio.to_thread = counted_to_thread  # type: ignore[assignment]
    SqlUnitOfWork.__enter__ = counted_enter  # type: ignore[method-assign]
    try:
        yield
    finally:
        asyncio.to_thread = to_thread  # type: ignore[assignment]
        SqlUnitOfWork.__enter__ = enter  # type: ignore[method-assign]


def wait(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def settle(bot: Any) -> None:
    """Everything due delivered, and nothing in flight."""
    wait(lambda: not bot.container.delivery.tasks, "deliveries in flight to end")
    wait(
        lambda: all(i.state.value not in ("pending", "delivering") for i in outbox(bot)),
        "the outbox to be drained",
    )


def submit(bot: Any, n: int) -> str:
    """A submission, delivered the way the API's is: its commit kicks delivery itself where
    the unit of work records events (else the route kicked every lane)."""
    from tests.builders import submission

    services = bot.container.services
    rid = services.commands.submit(submission(model_name=f"walk-{n}", requested_by="dave"))
    if not hasattr(services, "recorder"):
        bot.container.kick()
    return str(rid.request.id)


def outbox(bot: Any) -> list[Any]:
    return bot.container.services.queries.outbox_items(limit=10_000)


def slack_walk(db_url: str, clicks: int) -> tuple[Counter[str], Counter[str]]:
    from tests.adapters.slack.conftest import BOB, running_bot
    from tests.adapters.slack.fake_slack import FakeSlack

    total: Counter[str] = Counter()
    posts: Counter[str] = Counter()
    # Slack's rate limits off (limits={}): this measures the bot, not Slack's pacing.
    with FakeSlack(limits={}) as slack, running_bot(db_url, slack, **QUIET) as bot:
        for n in range(clicks):
            COUNTS.clear()
            with counting():
                rid = submit(bot, n)
                ref = bot.message(rid)
                settle(bot)
            posts.update(COUNTS)
            COUNTS.clear()
            with counting():
                from bot.adapters.slack.ids import Action

                bot.click(Action.APPROVE, rid, BOB)
                bot.wait_update(ref, lambda b: "1/1 (bob)" in b, "the update")
                settle(bot)
            total.update(COUNTS)
    return total, posts


def telegram_walk(db_url: str, clicks: int) -> tuple[Counter[str], Counter[str]]:
    from bot.adapters.telegram.ids import Button
    from tests.adapters.telegram.conftest import BOB, running_bot
    from tests.adapters.telegram.fake_telegram import FakeTelegram

    total: Counter[str] = Counter()
    posts: Counter[str] = Counter()
    with (
        FakeTelegram(group_limit=(1000, 1.0)) as telegram,
        running_bot(db_url, telegram, **QUIET) as bot,
    ):
        for n in range(clicks):
            COUNTS.clear()
            with counting():
                rid = submit(bot, n)
                bot.message(rid)
                settle(bot)
            posts.update(COUNTS)
            COUNTS.clear()
            with counting():
                bot.answer(bot.tap(BOB, Button.APPROVE, rid))
                bot.wait_message(rid, lambda m: "1/1 (bob)" in m.text, "the edit")
                settle(bot)
            total.update(COUNTS)
    return total, posts


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    from bot.adapters.db.migrate import upgrade

    for name, walk in (("Slack", slack_walk), ("Telegram", telegram_walk)):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/walk.db"
            upgrade(url)
            clicked, posted = walk(url, args.clicks)
        for what, total in (
            ("submission → message posted", posted),
            ("click → message updated", clicked),
        ):
            per = ", ".join(f"{k} {v / args.clicks:.1f}" for k, v in sorted(total.items()))
            print(f"{name}, {what}, each: {per}")


if __name__ == "__main__":
    main()
