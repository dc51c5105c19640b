"""The composition root: the one place that reads settings and picks adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import at_head, current_revision, head_revision
from bot.adapters.effects import ConsoleChannel, LoggingHandler, WebhookHandler
from bot.adapters.metrics import Metrics
from bot.domain.errors import DomainError
from bot.ports import EffectHandler, PromotionLauncher
from bot.service.approvals import ApprovalService
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from bot.settings import Settings

log = logging.getLogger("bot")


class NotMigrated(DomainError):
    code = "not_migrated"


@dataclass
class Container:
    """Everything one process needs, wired; `serve` adds the event-loop side."""

    settings: Settings
    engine: Engine
    service: ApprovalService
    dispatcher: OutboxDispatcher
    metrics: Metrics
    launcher: PromotionLauncher | None = None
    mounts: list[Callable[[Any], None]] = field(default_factory=list)
    startups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdowns: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    log: logging.Logger = log
    _delivering: bool = False
    _again: bool = False

    def close(self) -> None:
        self.engine.dispose()

    # -- delivery at once after a commit, from any thread ---------------------

    def kick(self) -> None:
        """Deliver due effects now (called after a commit that wrote outbox rows)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # not serving: the next sweep or `outbox deliver` picks them up
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn()
        else:
            loop.call_soon_threadsafe(self._spawn)

    def _spawn(self) -> None:
        # Coalesce: while a delivery pass runs, further kicks ask for one more pass
        # instead of starting passes that would only compete for the same rows.
        if self._delivering:
            self._again = True
            return
        self._delivering = True
        task = asyncio.get_running_loop().create_task(self._deliver_until_quiet())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver_until_quiet(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    await self.dispatcher.deliver_due()
                except Exception:
                    log.exception("delivery pass failed; the next sweep retries")
                if not self._again:
                    return
        finally:
            self._delivering = False

    async def drain(self, wait_seconds: float = 20.0) -> None:
        """Wait for deliveries in flight (at shutdown)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=wait_seconds)

    def readiness_problem(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
            if not at_head(self.engine):
                return "database is not at the migration head: run `approval-bot migrate`"
        except Exception as exc:  # any database error means not ready
            return f"database unreachable: {type(exc).__name__}"
        return None


def channels_for(settings: Settings) -> tuple[str, ...]:
    """Which chat channels get messages about requests; the console when none is set."""
    out = []
    if settings.slack_bot_token and settings.slack_channel:
        out.append("slack")
    if settings.telegram_bot_token and settings.telegram_chat_id:
        out.append("telegram")
    return tuple(out) or ("console",)


def check_migrated(engine: Engine) -> None:
    if not at_head(engine):
        current = current_revision(engine) or "empty"
        raise NotMigrated(
            f"the database is not at the migration head ({current} != {head_revision()}): "
            "run `approval-bot migrate`"
        )


def effect_handlers(settings: Settings) -> dict[str, EffectHandler]:
    """Effect kind → handler. Systems that are not configured are logged only."""
    fallback: EffectHandler = (
        WebhookHandler(settings.webhook_url) if settings.webhook_url else LoggingHandler()
    )
    handlers: dict[str, EffectHandler] = {"*": fallback}
    if not settings.webhook_url:
        handlers["chat:console"] = ConsoleChannel()
    return handlers


def build(
    settings: Settings | None = None, *, require_head: bool = True, adapters: bool = True
) -> Container:
    """Wire a process. ``adapters=False`` skips channels and effect systems: CLI
    commands that only read or decide need none of them (their effects are left in
    the outbox for the server), and start faster."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    if require_head:
        try:
            check_migrated(engine)
        except Exception:
            engine.dispose()
            raise
    uow = SqlUnitOfWorkFactory(engine)
    metrics = Metrics(uow)
    channels = channels_for(settings)
    service = ApprovalService(uow, channels=channels, on_decided=metrics.decided)
    dispatcher = OutboxDispatcher(
        uow,
        effect_handlers(settings),
        clock=service.clock,
        channels=channels,
        retry=RetryPolicy(
            max_attempts=settings.outbox_max_attempts,
            base_seconds=settings.outbox_base_seconds,
            cap_seconds=settings.outbox_cap_seconds,
            lease_seconds=settings.outbox_lease_seconds,
        ),
        on_outcome=metrics.effect,
    )
    container = Container(settings, engine, service, dispatcher, metrics)
    webhook = dispatcher.handlers.get("*")
    if isinstance(webhook, WebhookHandler):
        container.shutdowns.append(webhook.aclose)  # close its connection pool on stop
    if not adapters:
        return container
    if settings.console:

        def console(app: Any) -> None:
            from bot.adapters.console.pages import mount

            mount(app, service)

        container.mounts.append(console)
    # Each adapter registers its effect handlers, routes and start/stop hooks
    # when its settings are present.
    from bot.adapters.kfp import wiring as kfp_wiring
    from bot.adapters.mlflow import wiring as mlflow_wiring
    from bot.adapters.slack import wiring as slack_wiring

    try:
        for wiring in (mlflow_wiring, kfp_wiring, slack_wiring):
            wiring.wire(container)
    except Exception:
        engine.dispose()
        raise
    return container
