"""A divergence's alert through the real Slack and Telegram channels, against their strict
fakes (tests/adapters/slack/fake_slack.py, tests/adapters/telegram/fake_telegram.py): posted
once in the channel, and that post updated when the divergence is resolved (docs/watch.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.bootstrap import Container
from bot.domain.divergence import Champion, Divergence, Observation, Served, WatchTarget
from tests.adapters.slack import conftest as slack_side
from tests.adapters.slack.conftest import SlackBot, eventually
from tests.adapters.slack.fake_slack import FakeSlack
from tests.adapters.telegram import conftest as telegram_side
from tests.adapters.telegram.conftest import TelegramBot
from tests.adapters.telegram.fake_telegram import FakeTelegram

SERVED = "s3://mlflow/artifacts/1/models/m-a/artifacts"
CHAMPION = "s3://mlflow/artifacts/1/models/m-c/artifacts"


@pytest.fixture
def bot(sqlite_url: str) -> Iterator[SlackBot]:
    with FakeSlack() as fake, slack_side.running_bot(sqlite_url, fake) as running:
        yield running


@pytest.fixture
def webhook_bot(sqlite_url: str) -> Iterator[TelegramBot]:
    with FakeTelegram() as fake, telegram_side.running_bot(sqlite_url, fake) as running:
        yield running


def diverge(container: Container) -> Divergence:
    seen = Observation(
        WatchTarget("iris-classifier", "models/iris-serving"),
        Served(SERVED, "kubectl-patch", "2026-12-07T04:00:00Z"),
        Champion("3", CHAMPION),
        served_version="2",
    )
    found = Divergence.detect(seen, container.services.clock.now())
    with container.services.uow() as uow:
        assert uow.divergences.add(found)
        uow.commit()
    container.kick()
    return found


def resolve(container: Container, found: Divergence) -> None:
    with container.services.uow() as uow:
        again = uow.divergences.get(found.id)
        assert again is not None
        again.resolve(container.services.clock.now(), "serving and @champion agree again")
        uow.divergences.save(again)
        uow.commit()
    container.kick()


def alert_refs(container: Container, found: Divergence) -> dict[str, object]:
    with container.services.uow(readonly=True) as uow:
        again = uow.divergences.get(found.id)
    return dict(again.refs) if again is not None else {}


def test_slack_posts_the_alert_once_and_updates_it_when_resolved(bot: SlackBot) -> None:
    found = diverge(bot.container)
    eventually(lambda: "slack" in alert_refs(bot.container, found), "the alert to be posted")
    [post] = [c for c in bot.slack.calls("chat.postMessage") if "disagree" in str(c)]
    text = str(post["blocks"])
    assert "iris-classifier" in text and SERVED in text and "@champion: v3" in text
    assert "Serving last changed by kubectl-patch" in text
    ref = alert_refs(bot.container, found)["slack"]

    resolve(bot.container, found)
    eventually(lambda: bot.updates(ref), "the alert to be updated")  # type: ignore[arg-type]
    [update] = bot.updates(ref)  # type: ignore[arg-type]
    assert "Resolved" in str(update["blocks"])
    assert len([c for c in bot.slack.calls("chat.postMessage") if "disagree" in str(c)]) == 1


def test_telegram_posts_the_alert_once_and_edits_it_when_resolved(
    webhook_bot: TelegramBot,
) -> None:
    bot = webhook_bot
    found = diverge(bot.container)
    eventually(lambda: "telegram" in alert_refs(bot.container, found), "the alert to be posted")
    ref = alert_refs(bot.container, found)["telegram"]
    assert isinstance(ref, dict)
    message = bot.telegram.message(ref["chat_id"], ref["message_id"])
    assert "iris-classifier" in message.text and "@champion: v3" in message.text

    resolve(bot.container, found)
    eventually(
        lambda: "Resolved" in bot.telegram.message(ref["chat_id"], ref["message_id"]).text,
        "the alert to be edited",
    )
    sent = [c for c in bot.telegram.calls("sendMessage") if "disagree" in str(c)]
    assert len(sent) == 1
