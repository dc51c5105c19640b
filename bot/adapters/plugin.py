"""What an adapter plugs into: the seam between the composition root and the adapters.

An adapter module has a ``wire(wiring)`` function; it reads its settings, builds its objects
over ``wiring.services`` and hands them back through this narrow interface (``Wiring``). It
never imports the composition root (``bot.bootstrap``), which implements ``Wiring``.

A chat channel is a package with a ``SPEC`` (``ChannelSpec``: its name, how it identifies
people, its settings, the module that wires it) and, once wired, one ``ChatChannel``: the
stage for its chat effects, the routes it mounts, its start and stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.ports.effects import EffectHandler, PromotionLauncher
from bot.service import Services
from bot.service.identity import IdentityKind
from bot.service.stages import Stage
from bot.settings import Settings

Hook = Callable[[], Awaitable[None]]


class ChannelSettings(BaseSettings):
    """A channel's own settings, read from the environment (and ``.env``) like the core's.
    An empty variable means "not set"."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    def wanted(self) -> bool:
        """Do these settings ask for the channel? (Cheap: no imports.)"""
        return False

    def check(self) -> None:
        """Refuse settings that ask for the channel but cannot work (``ConfigError``, one
        line naming the variable to set)."""

    def secrets(self) -> list[str]:
        """Every secret value that is set, for log redaction."""
        return []


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as the registry knows it, before anything is imported for it: its package
    (``bot.adapters.<name>``: the last part is its name, and its ``channel`` module
    has ``wire(wiring)``)."""

    package: str
    settings: type[ChannelSettings]
    identity: IdentityKind  # how its clicks and commands name a person
    group_source: IdentityKind | None = None  # where else group members come from
    messages: bool = True  # requests are posted to it (the console only shows them)
    secret_shapes: tuple[str, ...] = ()  # regexes of its tokens, redacted even when unset

    @property
    def name(self) -> str:
        return self.package.rsplit(".", 1)[-1]

    @property
    def module(self) -> str:
        return f"{self.package}.channel"


class ChatChannel(Protocol):
    """One chat channel, as bootstrap sees it."""

    @property
    def name(self) -> str: ...
    @property
    def stage(self) -> Stage | EffectHandler | None:
        """Delivers this channel's ``chat.*`` effects (post, update, remind, notice); None
        leaves them to a ``*`` handler (the webhook)."""
        ...

    def mount(self, app: Any) -> None:
        """Add its routes to the ASGI app (nothing for a channel that connects out)."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Wiring(Protocol):
    """What ``wire(wiring)`` may use and register."""

    @property
    def settings(self) -> Settings: ...
    @property
    def services(self) -> Services: ...

    def channel_settings(self, name: str) -> ChannelSettings:
        """The settings of the channel ``name`` (read once, at start)."""
        ...

    def add_channel(self, channel: ChatChannel) -> None: ...
    def add_effect_handler(self, key: str, handler: EffectHandler | Stage) -> None:
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

    def warnings(self) -> list[str]:
        """What works but needs the operator's attention (``/readyz`` lists it)."""
        return []
