"""The composition root: the one place that reads settings and picks adapters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import at_head, current_revision, head_revision
from bot.domain.errors import DomainError
from bot.service.approvals import ApprovalService
from bot.settings import Settings


class NotMigrated(DomainError):
    code = "not_migrated"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    service: ApprovalService

    def close(self) -> None:
        self.engine.dispose()


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


def build(settings: Settings | None = None, *, require_head: bool = True) -> Container:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    if require_head:
        try:
            check_migrated(engine)
        except Exception:
            engine.dispose()
            raise
    service = ApprovalService(SqlUnitOfWorkFactory(engine), channels=channels_for(settings))
    return Container(settings, engine, service)
