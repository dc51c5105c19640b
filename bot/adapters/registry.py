"""Which adapters exist, and when each is wanted: the one file to edit to add one.

``CHANNELS`` names the chat channels' packages; each package's ``SPEC`` (light: no SDK is
imported for it) says what the channel is called, how it identifies people, which settings
ask for it and which module wires it. That module is imported only when its settings ask
for the channel, so a Slack-only server never loads Telegram, MLflow or KFP. A channel whose
settings ask for it but cannot work stops ``serve`` with one line.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping, Sequence

from bot.adapters.plugin import ChannelSettings, ChannelSpec, Wiring
from bot.domain.errors import ConfigError
from bot.service.identity import IdentityKinds

CHANNELS: tuple[str, ...] = (
    "bot.adapters.slack",
    "bot.adapters.telegram",
    "bot.adapters.console",
)

# Effect systems: each module's ``wire(wiring)`` registers its handlers when configured
# (the serving watch: its periodic check, docs/watch.md).
EFFECT_SYSTEMS: tuple[str, ...] = (
    "bot.adapters.effects.wiring",
    "bot.adapters.mlflow.wiring",
    "bot.adapters.kfp.wiring",
    "bot.adapters.watch.wiring",
)


@functools.cache
def specs(packages: Sequence[str] = CHANNELS) -> tuple[ChannelSpec, ...]:
    """Each registered channel's ``SPEC``; ``ConfigError`` for one this build lacks."""
    out = []
    for package in packages:
        try:
            out.append(importlib.import_module(package).SPEC)
        except ModuleNotFoundError as exc:
            if exc.name is None or not package.startswith(exc.name):
                raise
            raise ConfigError(
                f"the channel {package} is registered (bot/adapters/registry.py) but this build "
                "of approval-bot does not have it: remove it from CHANNELS"
            ) from None
    return tuple(out)


def identity_kinds(channels: Sequence[ChannelSpec] | None = None) -> IdentityKinds:
    """The identity kinds (and group sources) the registered channels declare."""
    channels = specs() if channels is None else channels
    return IdentityKinds(
        {c.name: c.identity for c in channels},
        [c.group_source for c in channels if c.group_source is not None],
    )


def read_settings(channels: Sequence[ChannelSpec] | None = None) -> dict[str, ChannelSettings]:
    """Every registered channel's settings, from the environment (``ConfigError`` naming the
    variable for one that is malformed)."""
    from bot.settings import validated

    return {c.name: validated(c.settings) for c in (specs() if channels is None else channels)}


def wanted(
    settings: Mapping[str, ChannelSettings], channels: Sequence[ChannelSpec] | None = None
) -> list[ChannelSpec]:
    """The channels the settings ask for, checked: ``ConfigError`` for one that cannot work."""
    out = []
    for spec in specs() if channels is None else channels:
        mine = settings.get(spec.name)
        if mine is not None and mine.wanted():
            mine.check()
            out.append(spec)
    return out


def message_channels(
    settings: Mapping[str, ChannelSettings], channels: Sequence[ChannelSpec] | None = None
) -> tuple[str, ...]:
    """Where messages about requests go: the chat channels, or the console when none."""
    every = specs() if channels is None else channels
    chats = tuple(c.name for c in every if c.messages and c in wanted(settings, every))
    return chats or tuple(c.name for c in every if not c.messages)[:1]


def wire_all(wiring: Wiring, channels: Sequence[ChannelSpec]) -> None:
    """Wire the wanted channels and every effect system into ``wiring``."""
    for spec in channels:
        importlib.import_module(spec.module).wire(wiring)
    for module in EFFECT_SYSTEMS:
        importlib.import_module(module).wire(wiring)
