"""The channel seam: a channel the settings ask for is served or the process does not start,
only wanted adapters are imported, and a chat effect never falls through to the log."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from bot.adapters import registry
from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db.migrate import upgrade
from bot.adapters.slack.settings import SlackSettings
from bot.adapters.telegram.settings import TelegramSettings
from bot.bootstrap import Container, build
from bot.domain.effects import CHAT_POST, Effect
from bot.domain.errors import ConfigError
from bot.domain.names import OutboxState
from bot.settings import Settings
from tests import builders


def built(db_url: str, **fields: Any) -> Container:
    """The process with these settings (``slack_…`` and ``telegram_…``: the channels')."""
    core: dict[str, Any] = {
        "database_url": db_url,
        "mlflow_tracking_uri": None,
        "webhook_url": None,
        "launcher": "none",
    }
    slack = {k[6:]: v for k, v in fields.items() if k.startswith("slack_")}
    telegram = {k[9:]: v for k, v in fields.items() if k.startswith("telegram_")}
    channels = {
        "slack": SlackSettings(**slack),
        "telegram": TelegramSettings(**telegram),
        "console": ConsoleSettings(),
    }
    return build(Settings(**core), channels=channels)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"telegram_bot_token": "123:abc", "telegram_webhook_secret": "s3cret"},
            "TELEGRAM_BOT_TOKEN is set but APPROVAL_BOT_TELEGRAM_CHAT_ID is not",
        ),
        (
            {"telegram_bot_token": "123:abc", "telegram_chat_id": "-100123"},
            "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET is not set",
        ),
        (
            {
                "telegram_bot_token": "123:abc",
                "telegram_chat_id": "approvals",
                "telegram_mode": "polling",
            },
            "APPROVAL_BOT_TELEGRAM_CHAT_ID: 'approvals' is not a chat id",
        ),
        (
            {
                "telegram_bot_token": "123:abc",
                "telegram_chat_id": "-100123",
                "telegram_webhook_secret": "has spaces",
            },
            "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET: use 1-256 characters",
        ),
        (
            {"slack_bot_token": "xoxb-1", "slack_channel": "C1"},
            "neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN",
        ),
        (
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s3cret"},
            "APPROVAL_BOT_SLACK_CHANNEL is not",
        ),
    ],
)
def test_a_configured_channel_that_cannot_be_served_stops_the_build(
    sqlite_url: str, fields: dict[str, Any], says: str
) -> None:
    upgrade(sqlite_url)
    with pytest.raises(ConfigError) as caught:
        built(sqlite_url, **fields)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value), "one line"


def test_a_channel_this_build_lacks_stops_the_build(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    with pytest.raises(ConfigError) as caught:
        registry.specs(("bot.adapters.slack", "bot.adapters.pigeon"))
    assert str(caught.value) == (
        "the channel bot.adapters.pigeon is registered (bot/adapters/registry.py) but this "
        "build of approval-bot does not have it: remove it from CHANNELS"
    )


def test_serve_refuses_with_one_line(sqlite_url: str, tmp_path) -> None:
    upgrade(sqlite_url)
    env = {
        "PATH": "/usr/bin:/bin",
        "APPROVAL_BOT_DATABASE_URL": sqlite_url,
        "TELEGRAM_BOT_TOKEN": "123:abc",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: TELEGRAM_BOT_TOKEN is set but APPROVAL_BOT_TELEGRAM_CHAT_ID is not: set the id "
        "of the chat to post requests to (README.md, Connect Telegram)"
    ]


def test_only_the_wanted_adapters_are_imported(sqlite_url: str, tmp_path) -> None:
    """A console-only server loads neither Slack nor MLflow nor KFP."""
    upgrade(sqlite_url)
    code = (
        "import json, sys\n"
        "from bot.bootstrap import build\n"
        "from bot.settings import Settings\n"
        f"c = build(Settings(database_url={sqlite_url!r}, launcher='none'))\n"
        "print(json.dumps({'channels': sorted(c.channels), "
        "'loaded': sorted(m for m in ('slack_bolt', 'mlflow', 'kfp', 'telegram') "
        "if m in sys.modules)}))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "", "MLFLOW_TRACKING_URI": ""}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "channels": ["console"],
        "loaded": [],
    }


def test_a_chat_effect_without_its_channel_waits_it_is_not_logged(sqlite_url: str) -> None:
    """Rows left for a channel this process does not serve are never marked delivered."""
    upgrade(sqlite_url)
    container = built(sqlite_url)
    try:
        services = container.services
        services.admin.apply(builders.directory())
        rid = services.commands.submit(builders.submission()).request.id
        with services.uow() as uow:  # as an earlier process with Telegram would have left it
            uow.outbox.add(
                [Effect(CHAT_POST, f"{rid}:post:telegram", rid, {"channel": "telegram"})],
                services.clock.now(),
            )
            uow.commit()
        asyncio.run(container.dispatcher.deliver_due())
        rows = {i.key: i for i in services.queries.outbox_items(limit=100)}
    finally:
        container.close()
    telegram = rows[f"{rid}:post:telegram"]
    assert telegram.state is OutboxState.WAITING
    assert telegram.last_error == "the telegram channel is not configured"
    assert rows[f"{rid}:post:console"].state is OutboxState.DELIVERED
