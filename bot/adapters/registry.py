"""Which adapters exist, and when each is wanted: the one file to edit to add one.

Adapters are imported only when their settings ask for them, so a Slack-only server
never loads MLflow or KFP. A chat channel whose settings are present but that cannot be
served (no module in this build, or incomplete settings) stops ``serve`` with one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from bot.adapters.wiring import Registry
from bot.domain.errors import ConfigError
from bot.domain.names import Channel
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    name: Channel
    wanted: Callable[[Settings], bool]  # cheap: settings only, no imports
    module: str | None  # has ``wire(registry)``; None: not available in this build
    setting: str  # the setting that asks for it, for the error message
    messages: bool = True  # requests are posted to it (the console only shows them)


CHANNELS: tuple[ChannelEntry, ...] = (
    ChannelEntry(
        Channel.SLACK,
        lambda s: s.slack_bot_token is not None,
        "bot.adapters.slack.channel",
        "SLACK_BOT_TOKEN",
    ),
    ChannelEntry(
        Channel.TELEGRAM,
        lambda s: s.telegram_bot_token is not None,
        "bot.adapters.telegram.channel",
        "TELEGRAM_BOT_TOKEN",
    ),
    ChannelEntry(
        Channel.CONSOLE,
        lambda s: True,  # always: it is where requests are shown when no chat is set up
        "bot.adapters.console.channel",
        "APPROVAL_BOT_CONSOLE",
        messages=False,
    ),
)

# Effect systems: each module's ``wire(registry)`` registers its handlers when configured.
EFFECT_SYSTEMS: tuple[str, ...] = (
    "bot.adapters.effects.wiring",
    "bot.adapters.mlflow.wiring",
    "bot.adapters.kfp.wiring",
)


def wanted_channels(settings: Settings) -> list[ChannelEntry]:
    """The channels the settings ask for; ConfigError when one of them does not exist."""
    out = []
    for entry in CHANNELS:
        if not entry.wanted(settings):
            continue
        if entry.module is None:
            raise ConfigError(
                f"{entry.setting} is set, but this build of approval-bot has no "
                f"{entry.name.value} channel: unset it (see docs/configuration.md)"
            )
        out.append(entry)
    return out


def message_channels(settings: Settings) -> tuple[str, ...]:
    """Where messages about requests go: the chat channels, or the console when none."""
    chats = tuple(e.name.value for e in CHANNELS if e.messages and e.wanted(settings))
    return chats or (Channel.CONSOLE.value,)


def wire_all(registry: Registry) -> None:
    """Wire every wanted channel and every effect system into ``registry``."""
    for entry in wanted_channels(registry.settings):
        assert entry.module is not None
        importlib.import_module(entry.module).wire(registry)
    for module in EFFECT_SYSTEMS:
        importlib.import_module(module).wire(registry)
