"""The composition root: the one place that reads settings and picks adapters.

``build`` makes the process's ``Container``: the database, the use cases, the outbox
dispatcher, the metrics; then (for the server and ``outbox deliver``) every adapter the
settings ask for, through ``bot.adapters.registry``. The container is the ``Wiring`` the
adapters' ``wire`` functions register into.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.adapters import registry
from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import (
    SCHEMA_HEAD,
    current_revision,
    readiness_problem,
    schema_problem,
    schema_state,
)
from bot.adapters.metrics import Metrics
from bot.adapters.plugin import ChannelSettings, ChannelSpec, ChatChannel, Hook
from bot.domain.audit_keys import AuditKeyMissing
from bot.domain.errors import DomainError
from bot.ports.clock import Clock
from bot.ports.effects import EffectHandler, PromotionLauncher
from bot.service import Services, build_services
from bot.service.delivery import Delivery
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from bot.service.queries import Queries
from bot.service.stages import Stage
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
    specs: tuple[ChannelSpec, ...] = ()  # the registered channels
    settings_of: dict[str, ChannelSettings] = field(default_factory=dict)  # by channel
    launcher: PromotionLauncher | None = None
    channels: dict[str, ChatChannel] = field(default_factory=dict)
    mounts: list[Callable[[Any], None]] = field(default_factory=list)
    startups: list[Hook] = field(default_factory=list)
    shutdowns: list[Hook] = field(default_factory=list)

    def close(self) -> None:
        self.engine.dispose()

    def kick(self) -> None:
        """Deliver every due effect now (commits kick the lanes they wrote to themselves)."""
        self.delivery.kick()

    def readiness_problem(self) -> str | None:
        return readiness_problem(self.engine)

    def warnings(self) -> list[str]:
        """The channels' warnings: what works but needs the operator (a stale setting)."""
        found: list[str] = []
        for channel in self.channels.values():
            warnings = getattr(channel, "warnings", None)
            found += warnings() if callable(warnings) else []
        return found

    def secrets(self) -> list[str]:
        """Every configured secret, the channels' too (for log redaction)."""
        channels = [v for c in self.settings_of.values() for v in c.secrets()]
        return [*self.settings.secrets(), *channels]

    # -- bot.adapters.plugin.Wiring ----------------------------------------------------

    def channel_settings(self, name: str) -> ChannelSettings:
        return self.settings_of[name]

    def add_channel(self, channel: ChatChannel) -> None:
        self.channels[channel.name] = channel
        if channel.stage is not None:
            self.add_effect_handler(f"chat:{channel.name}", channel.stage)
        self.mounts.append(channel.mount)
        self.on_start(channel.start)
        self.on_stop(channel.stop)

    def add_effect_handler(self, key: str, handler: EffectHandler | Stage) -> None:
        self.dispatcher.add(key, handler)

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
    channels: Mapping[str, ChannelSettings] | None = None,
    specs: Sequence[ChannelSpec] | None = None,
    require_head: bool = True,
    adapters: bool = True,
    clock: Clock | None = None,
) -> Container:
    """Wire a process. ``channels``: each channel's settings (read from the environment when
    None; a channel left out is not configured); ``specs``: the registered channels
    (``bot.adapters.registry``'s by default). ``adapters=False`` skips channels and effect
    systems: CLI commands that only read or decide need none of them (their effects are left
    in the outbox for the server), and start faster."""
    settings = settings or Settings()
    specs = tuple(registry.specs() if specs is None else specs)
    settings_of = dict(registry.read_settings(specs) if channels is None else channels)
    wanted = registry.wanted(settings_of, specs)  # a channel that cannot work stops every command
    engine = make_engine(settings.database_url)
    try:
        if require_head:
            check_migrated(engine)
        container = _container(settings, engine, clock, specs, settings_of)
        if adapters:
            registry.wire_all(container, wanted)
    except Exception:
        engine.dispose()
        raise
    return container


def check_audit_key(container: Container) -> None:
    """At the start of `serve`: a log signed before cannot go on unsigned (``AuditKeyMissing``,
    one line); an unsigned one is allowed (`make run`) and warned about. Where signing began
    goes to the process log, outside the database (docs/audit-log.md)."""
    key = container.settings.audit_keyring().current
    signed_from = container.services.audit.signed_from()
    if key is not None:
        log.info(
            "audit log: new events are signed with audit key %r; %s",
            key.id,
            f"signed from event #{signed_from} on" if signed_from else "none is signed yet",
        )
        return
    if signed_from is not None:
        raise AuditKeyMissing(signed_from)
    log.warning(
        "APPROVAL_BOT_AUDIT_KEY is not set: the audit log is not signed, so anyone who can "
        "write the database can rewrite it undetected (docs/audit-log.md)"
    )


def _container(
    settings: Settings,
    engine: Engine,
    clock: Clock | None,
    specs: tuple[ChannelSpec, ...],
    settings_of: dict[str, ChannelSettings],
) -> Container:
    keys = settings.audit_keyring()
    uow = SqlUnitOfWorkFactory(engine, audit_keys=keys)
    metrics = Metrics(Queries(uow).counts)
    services = build_services(
        uow,
        clock=clock,
        channels=registry.message_channels(settings_of, specs),
        identities=registry.identity_kinds(specs),
        on_decided=metrics.decided,
        read_access=settings.readers(),
        audit_keys=keys,
        canary_analysis=bool(settings.prometheus_url.strip()),
    )
    dispatcher = OutboxDispatcher(
        uow,
        {},
        clock=services.clock,
        retry=RetryPolicy(
            max_attempts=settings.outbox_max_attempts,
            base_seconds=settings.outbox_base_seconds,
            cap_seconds=settings.outbox_cap_seconds,
            lease_seconds=settings.outbox_lease_seconds,
            give_up_after_seconds=settings.outbox_give_up_after_seconds,
        ),
        on_outcome=metrics.effect,
    )
    delivery = Delivery(dispatcher)
    services.recorder.on_commit = delivery.kick  # a commit delivers what it wrote, at once
    return Container(settings, engine, services, dispatcher, delivery, metrics, specs, settings_of)
