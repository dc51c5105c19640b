"""The real app, served by uvicorn on 127.0.0.1, wired to a fake Telegram Bot API.

Updates reach the bot the two ways Telegram sends them: as webhook POSTs carrying the
secret header (``mode="webhook"``), or from the fake's ``getUpdates`` (``mode="polling"``).
Flood limits are scaled down (20 writes per 2 s per group, on both sides) so tests
that send a burst finish in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db.migrate import upgrade
from bot.adapters.slack.settings import SlackSettings
from bot.adapters.telegram import channel as telegram_channel
from bot.adapters.telegram.ids import OFFSET_KEY, Button, callback_data
from bot.adapters.telegram.pacing import Limits, Rate
from bot.adapters.telegram.settings import TelegramSettings
from bot.bootstrap import Container
from tests.adapters.slack.conftest import (
    DEADLINE,
    Setup,
    core_settings,
    eventually,
    serving,
    split,
)
from tests.adapters.telegram.fake_telegram import GROUP, TOKEN, FakeTelegram, Stored
from tests.builders import directory, submission
from tests.fakes import FakeClock

SECRET = "tg-webhook-secret_0123456789"
ALICE, BOB, CAROL, STRANGER = 1001, 1002, 1003, 9999  # dave has no Telegram id
GROUP_LIMIT = (20, 2.0)
TEST_LIMITS = Limits(group=Rate(*GROUP_LIMIT, burst=3), wait=1.0)


def telegram_settings(db_url: str, telegram: FakeTelegram, **extra: Any) -> Setup:
    mine, rest = split(extra, TelegramSettings, "telegram_")
    slack, core = split(rest, SlackSettings, "slack_")
    fields: dict[str, Any] = {
        "bot_token": TOKEN,
        "chat_id": str(GROUP),
        "mode": "webhook",
        "webhook_secret": SECRET,
        "api_url": telegram.api_url,
        **mine,
    }
    channels: dict[str, Any] = {
        "telegram": TelegramSettings(**fields),
        "console": ConsoleSettings(),
    }
    if slack:  # Slack too, against its own fake
        channels["slack"] = SlackSettings(**slack)
    return Setup(core_settings(db_url, **core), channels)


@dataclass
class TelegramBot:
    """The running bot and what Telegram would send it."""

    container: Container
    url: str
    telegram: FakeTelegram
    http: httpx.Client
    mode: str

    # -- requests --------------------------------------------------------------------

    def submit(self, **fields: Any) -> str:
        result = self.container.services.commands.submit(submission(**fields))
        self.container.kick()
        return result.request.id

    def ref(self, request_id: str) -> dict[str, Any]:
        eventually(
            lambda: self.container.services.chat.ref(request_id, "telegram"),
            f"the Telegram message of request {request_id} to be posted",
        )
        ref = self.container.services.chat.ref(request_id, "telegram")
        assert ref is not None
        return ref

    def message(self, request_id: str) -> Stored:
        """The request's message as the fake Telegram holds it now."""
        ref = self.ref(request_id)
        return self.telegram.message(ref["chat_id"], ref["message_id"])

    def wait_message(self, request_id: str, matches: Callable[[Stored], bool], what: str) -> Stored:
        eventually(lambda: matches(self.message(request_id)), what)
        return self.message(request_id)

    def state(self, request_id: str) -> str:
        return self.container.services.queries.get(request_id).state.value

    def replies(self, to: int) -> list[Stored]:
        """The bot's messages replying to message ``to``, oldest first."""
        with self.telegram._lock:
            found = [m for m in self.telegram.messages.values() if m.reply_to == to]
        return sorted(found, key=lambda m: m.message_id)

    # -- what Telegram sends -------------------------------------------------------------

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return self.http.post(f"{self.url}/telegram/webhook", json=update, headers=headers)

    def deliver(self, update: dict[str, Any]) -> None:
        """Hand the update over the way this bot receives them; return once processed."""
        if self.mode == "webhook":
            response = self.post(update)
            assert response.status_code == 200, response.text
            return
        self.telegram.push(update)
        state = self.container.services.chat.state("telegram")
        eventually(
            lambda: (state.get(OFFSET_KEY) or 0) > update["update_id"],
            f"update {update['update_id']} to be processed",
        )

    def tap(self, user: int, button: Button, request_id: str, first_name: str = "") -> str:
        """``user`` taps a button on the request's message; the callback query's id."""
        update = self.telegram.tap(
            user,
            callback_data(button, request_id),
            message=self.message(request_id),
            first_name=first_name,
        )
        self.deliver(update)
        return str(update["callback_query"]["id"])

    def answer(self, query_id: str) -> dict[str, Any]:
        eventually(lambda: self.telegram.answers(query_id), f"an answer to {query_id}")
        [answer] = self.telegram.answers(query_id)
        return answer

    def say(
        self, user: int, text: str, *, chat_id: int | str = GROUP, reply_to: Stored | None = None
    ) -> int:
        """``user`` writes ``text``; the message id, once the bot has processed it."""
        update = self.telegram.text(user, text, chat_id=chat_id, reply_to=reply_to)
        self.deliver(update)
        return int(update["message"]["message_id"])

    def answer_to(self, message_id: int) -> Stored:
        """The bot's one reply to message ``message_id``."""
        eventually(lambda: self.replies(message_id), f"a reply to message {message_id}")
        [reply] = self.replies(message_id)
        return reply


def ready(container: Container, telegram: FakeTelegram, mode: str) -> Callable[[], bool]:
    if mode == "polling":
        return lambda: telegram.received("getUpdates") > 0
    return lambda: telegram.attempts("getMe") > 0 and container.channels["telegram"].api.initialized  # type: ignore[attr-defined]


@contextmanager
def running_bot(
    db_url: str,
    telegram: FakeTelegram,
    *,
    mode: str = "webhook",
    clock: FakeClock | None = None,
    limits: Limits = TEST_LIMITS,
    **settings: Any,
) -> Iterator[TelegramBot]:
    """The bot serving on a free port; with ``clock``, the service's time is the test's."""
    upgrade(db_url)
    saved = telegram_channel.LIMITS
    telegram_channel.LIMITS = limits
    try:
        container = telegram_settings(db_url, telegram, mode=mode, **settings).build(clock=clock)
    finally:
        telegram_channel.LIMITS = saved
    container.services.admin.apply(directory())
    try:
        with serving(container) as url, httpx.Client(timeout=DEADLINE) as http:
            eventually(ready(container, telegram, mode), "the Telegram channel to connect")
            yield TelegramBot(container, url, telegram, http, mode)
    finally:
        container.close()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(group_limit=GROUP_LIMIT) as fake:
        yield fake


@pytest.fixture(params=["webhook", "polling"])
def bot(
    request: pytest.FixtureRequest, sqlite_url: str, telegram: FakeTelegram
) -> Iterator[TelegramBot]:
    """The bot in each mode: updates as webhook POSTs, and through getUpdates."""
    with running_bot(sqlite_url, telegram, mode=request.param) as running:
        yield running


@pytest.fixture
def webhook_bot(sqlite_url: str, telegram: FakeTelegram) -> Iterator[TelegramBot]:
    with running_bot(sqlite_url, telegram) as running:
        yield running
