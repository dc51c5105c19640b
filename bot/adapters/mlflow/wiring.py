"""Wire the mlflow adapter into a Container when its settings are present (called by bootstrap).

With ``MLFLOW_TRACKING_URI`` set, ``mlflow.log_decision`` and ``mlflow.archive_challenger`` go
to MLflow; without it they fall through to the ``*`` handler (logged only, or the webhook).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.effects import ARCHIVE_CHALLENGER, LOG_DECISION

if TYPE_CHECKING:
    from bot.bootstrap import Container


def wire(container: Container) -> None:
    """Register the decision log and the challenger archive."""
    settings = container.settings
    if not settings.mlflow_tracking_uri:
        return
    from bot.adapters.mlflow.archive import AliasNames, ChallengerArchive
    from bot.adapters.mlflow.client import Registry, apply_http_defaults
    from bot.adapters.mlflow.decisions import DecisionLog

    apply_http_defaults()
    registry = Registry(settings.mlflow_tracking_uri)
    service = container.service
    handlers = container.dispatcher.handlers
    handlers[LOG_DECISION] = DecisionLog(registry, experiment=settings.audit_experiment)
    handlers[ARCHIVE_CHALLENGER] = ChallengerArchive(
        registry,
        aliases=AliasNames(
            challenger=settings.alias_challenger,
            rejected=settings.alias_rejected,
            archived=settings.alias_archived,
        ),
        on_moved_on=lambda rid, data: service.record_event(rid, "challenger_moved_on", data),
    )
