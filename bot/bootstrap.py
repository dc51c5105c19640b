"""The composition root: the one place that reads settings and picks adapters.

``build`` makes the process's ``Container``: the database, the use cases, the outbox
dispatcher, the metrics; then (for the server and ``outbox deliver``) every adapter the
settings ask for, through ``bot.adapters.registry``. The container is the ``Registry``
the adapters' ``wire`` functions register into.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import (
    SCHEMA_HEAD,
    current_revision,
    readiness_problem,
    schema_problem,
    schema_state,
)
from bot.adapters.metrics import Metrics
from bot.adapters.registry import message_channels, wanted_channels, wire_all
from bot.adapters.wiring import ChatChannel, Hook
from bot.domain.errors import DomainError
from bot.ports import Clock, EffectHandler, PromotionLauncher
from bot.service import Services, build_services
from bot.service.delivery import Delivery
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from bot.service.queries import Queries
from bot.settings import Settings

log = logging.getLogger("bot")


class NotMigrated(DomainError):
    code = "not_migrated"


@dataclass
class Container:
    """Everything one process needs, wired; `serve` adds the event-loop side."""

    settings: Settings
    engine: Engine
    services: Services
    dispatcher: OutboxDispatcher
    delivery: Delivery
    metrics: Metrics
    launcher: PromotionLauncher | None = None
    channels: dict[str, ChatChannel] = field(default_factory=dict)
    mounts: list[Callable[[Any], None]] = field(default_factory=list)
    startups: list[Hook] = field(default_factory=list)
    shutdowns: list[Hook] = field(default_factory=list)

    def close(self) -> None:
        self.engine.dispose()

    def kick(self) -> None:
        """Deliver due effects now (called after a commit that wrote outbox rows)."""
        self.delivery.kick()

    def readiness_problem(self) -> str | None:
        return readiness_problem(self.engine)

    # -- bot.adapters.wiring.Registry ----------------------------------------------

    def add_channel(self, channel: ChatChannel) -> None:
        self.channels[channel.name] = channel
        if channel.handler is not None:
            self.add_effect_handler(f"chat:{channel.name}", channel.handler)
        self.mounts.append(channel.mount)
        self.on_start(channel.start)
        self.on_stop(channel.stop)

    def add_effect_handler(self, key: str, handler: EffectHandler) -> None:
        self.dispatcher.handlers[key] = handler

    def effect_unavailable(self, key: str, reason: str) -> None:
        self.dispatcher.unavailable[key] = reason

    def set_launcher(self, launcher: PromotionLauncher) -> None:
        self.launcher = launcher

    def on_start(self, hook: Hook) -> None:
        self.startups.append(hook)

    def on_stop(self, hook: Hook) -> None:
        self.shutdowns.append(hook)


def check_migrated(engine: Engine) -> None:
    """Refuse a database this code cannot serve: empty, older than its head, or not ours. A
    newer release's schema is served (migrations are additive: rolling upgrades, rollbacks)."""
    current = current_revision(engine)
    problem = schema_problem(current)
    if problem is not None:
        where = engine.url.render_as_string(hide_password=True)
        raise NotMigrated(f"the database {where} {problem} (or set APPROVAL_BOT_DATABASE_URL)")
    if schema_state(current) == "newer":
        log.info(
            "the database is at %s, a newer release's migration (this release's head is %s): "
            "serving it, since migrations only add (docs/architecture.md)",
            current,
            SCHEMA_HEAD,
        )


def build(
    settings: Settings | None = None,
    *,
    require_head: bool = True,
    adapters: bool = True,
    clock: Clock | None = None,
) -> Container:
    """Wire a process. ``adapters=False`` skips channels and effect systems: CLI
    commands that only read or decide need none of them (their effects are left in
    the outbox for the server), and start faster."""
    settings = settings or Settings()
    wanted_channels(settings)  # a channel that cannot exist stops every command
    engine = make_engine(settings.database_url)
    try:
        if require_head:
            check_migrated(engine)
        container = _container(settings, engine, clock)
        if adapters:
            wire_all(container)
    except Exception:
        engine.dispose()
        raise
    return container


def _container(settings: Settings, engine: Engine, clock: Clock | None) -> Container:
    uow = SqlUnitOfWorkFactory(engine)
    channels = message_channels(settings)
    metrics = Metrics(Queries(uow).counts)
    services = build_services(
        uow,
        clock=clock,
        channels=channels,
        on_decided=metrics.decided,
        read_access=settings.readers(),
    )
    dispatcher = OutboxDispatcher(
        uow,
        {},
        clock=services.clock,
        channels=channels,
        retry=RetryPolicy(
            max_attempts=settings.outbox_max_attempts,
            base_seconds=settings.outbox_base_seconds,
            cap_seconds=settings.outbox_cap_seconds,
            lease_seconds=settings.outbox_lease_seconds,
        ),
        on_outcome=metrics.effect,
    )
    return Container(settings, engine, services, dispatcher, Delivery(dispatcher), metrics)
