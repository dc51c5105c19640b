"""Wire the mlflow adapter when its settings are present (called by the registry).

With ``MLFLOW_TRACKING_URI`` set, ``mlflow.log_decision``, ``mlflow.archive_challenger`` and
``mlflow.alias_back`` (docs/watch.md) go to MLflow; without it they wait (visibly, in ``show``
and the API) until a process with MLflow configured delivers them, or go to the webhook when
one is set.
"""

from __future__ import annotations

from bot.adapters.plugin import Wiring
from bot.domain.effects import ALIAS_BACK, ARCHIVE_CHALLENGER, LOG_DECISION
from bot.domain.errors import ConfigError
from bot.domain.names import EventKind


def wire(wiring: Wiring) -> None:
    """Register the decision log and the challenger archive."""
    settings = wiring.settings
    if not settings.mlflow_tracking_uri:
        wiring.effect_unavailable("mlflow", "MLflow is not configured (MLFLOW_TRACKING_URI)")
        return
    from bot.adapters.mlflow.archive import AliasNames, ChallengerArchive
    from bot.adapters.mlflow.client import Registry

    if not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        raise ConfigError(
            "MLFLOW_TRACKING_URI must be an MLflow tracking server's http(s):// URL for the "
            f"bot, not {settings.mlflow_tracking_uri.split(':', 1)[0]}: (README.md, MLflow "
            "and KFP effects)"
        )
    from bot.adapters.mlflow.decisions import DecisionLog

    mlflow = Registry(settings.mlflow_tracking_uri)
    commands = wiring.services.commands
    wiring.add_effect_handler(
        LOG_DECISION, DecisionLog(mlflow, experiment=settings.audit_experiment)
    )
    archive = ChallengerArchive(
        mlflow,
        aliases=AliasNames(
            challenger=settings.alias_challenger,
            rejected=settings.alias_rejected,
            archived=settings.alias_archived,
        ),
        on_moved_on=lambda rid, data: commands.observed(rid, EventKind.CHALLENGER_MOVED_ON, data),
    )
    wiring.add_effect_handler(ARCHIVE_CHALLENGER, archive)
    from bot.adapters.mlflow.alias_back import AliasBack

    wiring.add_effect_handler(ALIAS_BACK, AliasBack(mlflow))  # docs/watch.md
