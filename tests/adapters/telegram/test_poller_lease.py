"""Two replicas in polling mode: one polls (it holds the database lease), the other stands
by and takes over when the first stops. Telegram ends a waiting ``getUpdates`` with 409
when a second one comes (the fake does too): without the lease they take turns failing."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest

from bot.adapters.telegram import poller
from tests.adapters.slack.conftest import eventually
from tests.adapters.telegram.conftest import BOB, GROUP_LIMIT, TelegramBot, running_bot
from tests.adapters.telegram.fake_telegram import FakeTelegram


def _poller(bot: TelegramBot) -> Any:
    return bot.container.channels["telegram"].poller  # type: ignore[attr-defined]


def _conflicts(telegram: FakeTelegram) -> list[Any]:
    return [c for c in telegram.log("getUpdates") if c.status == 409]


def test_one_replica_polls_the_other_stands_by_and_takes_over(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller, "STANDBY", 0.1)
    with (
        FakeTelegram(group_limit=GROUP_LIMIT, poll_cap=0.3) as telegram,
        ExitStack() as first,
        ExitStack() as second,
    ):
        one = first.enter_context(running_bot(sqlite_url, telegram, mode="polling"))
        eventually(lambda: _poller(one).leading, "the first replica to poll")
        two = second.enter_context(running_bot(sqlite_url, telegram, mode="polling"))
        polls = telegram.received("getUpdates")
        eventually(lambda: telegram.received("getUpdates") >= polls + 6, "six more polls")
        assert _poller(one).leading and not _poller(two).leading
        assert _conflicts(telegram) == []
        one.answer_to(one.say(BOB, "/pending"))  # one answer: processed once
        assert _conflicts(telegram) == []

        first.close()  # the leader stops and gives the lease up: the other polls now
        eventually(lambda: _poller(two).leading, "the standby to take over")
        asked = two.say(BOB, "/pending")
        two.answer_to(asked)
