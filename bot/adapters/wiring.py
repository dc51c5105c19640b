"""The seam between the composition root and the adapters.

An adapter module has a ``wire(registry)`` function; it reads ``registry.settings``, builds
its objects over ``registry.services`` and hands them back through this narrow interface.
It never imports the composition root (``bot.bootstrap``), which implements ``Registry``.

A chat channel (Slack, Telegram, the console) is one ``ChatChannel``: how it identifies a
person, the handler for its chat effects, the routes it mounts, its start and stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.domain.names import Channel, IdentityKind
from bot.ports import EffectHandler, PromotionLauncher
from bot.service import Services
from bot.settings import Settings

Hook = Callable[[], Awaitable[None]]


class ChatChannel(Protocol):
    """One chat channel, as bootstrap sees it."""

    @property
    def name(self) -> Channel: ...
    @property
    def identity(self) -> IdentityKind:
        """How a click or command in this channel names the person (a channel user id)."""
        ...

    @property
    def handler(self) -> EffectHandler | None:
        """Delivers this channel's ``chat.*`` effects (post, update, remind, notice); None
        leaves them to a ``*`` handler (the webhook)."""
        ...

    def mount(self, app: Any) -> None:
        """Add its routes to the ASGI app (nothing for a channel that connects out)."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Registry(Protocol):
    """What ``wire(registry)`` may use and register."""

    @property
    def settings(self) -> Settings: ...
    @property
    def services(self) -> Services: ...

    def kick(self) -> None:
        """Deliver due effects now (after a commit that wrote outbox rows)."""
        ...

    def add_channel(self, channel: ChatChannel) -> None: ...
    def add_effect_handler(self, key: str, handler: EffectHandler) -> None:
        """Deliver effects matching ``key`` (see ``bot.service.outbox.handler_key``)."""
        ...

    def effect_unavailable(self, key: str, reason: str) -> None:
        """Effects matching ``key`` cannot be delivered here (their system is not configured):
        they wait, showing ``reason``, until a process that has it delivers them."""
        ...

    def set_launcher(self, launcher: PromotionLauncher) -> None: ...
    def on_start(self, hook: Hook) -> None: ...
    def on_stop(self, hook: Hook) -> None: ...


class ChannelBase:
    """Defaults for a ``ChatChannel`` with no routes and nothing to start or stop."""

    def mount(self, app: Any) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
