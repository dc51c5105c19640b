"""Wire the kfp adapter when its settings are present (called by the registry).

``APPROVAL_BOT_LAUNCHER``:
- ``kfp``: a remote KFP server (``KFP_HOST``; in a cluster it may be left unset).
- ``local`` (default): kfp.local in this process. The promotion pipeline needs MLflow, so
  without ``MLFLOW_TRACKING_URI`` no launcher is installed: approved requests stay
  ``approved`` and the launch effect waits, saying why, until a process with a launcher
  delivers it (a fresh install does not fail every approval).
- ``none``: no launcher; the launch effect waits the same way (or goes to the webhook).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.errors import ConfigError

if TYPE_CHECKING:
    from bot.adapters.plugin import Wiring
    from bot.ports.effects import PromotionLauncher
    from bot.settings import Settings

log = logging.getLogger("bot.kfp")

LAUNCHERS = ("local", "kfp", "none")


def pipeline_names(configured: str) -> list[str]:
    """The KFP display names to look for: as configured, and ``promotion`` → ``iris-promotion``.

    ``python -m pipelines submit promotion`` uploads the pipeline under its own name.
    """
    names = [configured]
    try:
        from pipelines.runner import UsageError, pipeline
    except ImportError:  # the pipelines package is not installed beside the bot
        return names
    with contextlib.suppress(UsageError):
        names.append(str(pipeline(configured).name))
    return list(dict.fromkeys(names))


def make_launcher(settings: Settings) -> PromotionLauncher | None:
    kind = settings.launcher.strip().lower()
    if kind not in LAUNCHERS:
        choices = ", ".join(LAUNCHERS)
        raise ConfigError(
            f"APPROVAL_BOT_LAUNCHER must be one of {choices}, got {settings.launcher!r}"
        )
    if kind == "none":
        return None
    if kind == "kfp":
        from bot.adapters.kfp.remote import KfpLauncher

        return KfpLauncher(
            host=settings.kfp_host,
            pipeline=pipeline_names(settings.kfp_pipeline),
            pipeline_version=settings.kfp_pipeline_version,
            experiment=settings.kfp_experiment,
            namespace=settings.kfp_namespace,
            token=settings.kfp_token.get_secret_value() if settings.kfp_token else None,
            token_path=settings.kfp_token_path,
            service_account=settings.kfp_service_account,
        )
    if not settings.mlflow_tracking_uri:
        return None  # see wire(): said once when the server starts
    from bot.adapters.kfp.local import LocalLauncher, require_pipeline_packages

    require_pipeline_packages()
    env = {
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "APPROVAL_BOT_URL": settings.approval_bot_url or settings.public_url,
    }
    if settings.api_token is not None:
        env["APPROVAL_BOT_API_TOKEN"] = settings.api_token.get_secret_value()
    return LocalLauncher(
        root=Path(settings.local_pipeline_root),
        env=env,
        defaults={"deploy_target": settings.local_deploy_target},
    )


def wire(wiring: Wiring) -> None:
    """Set the launcher and register the ``kfp.launch_promotion`` handler."""
    settings = wiring.settings
    launcher = make_launcher(settings)
    if launcher is None:
        kind = settings.launcher.strip().lower()
        why = "needs MLFLOW_TRACKING_URI" if kind == "local" else "is none"
        reason = f"promotion launcher not configured (APPROVAL_BOT_LAUNCHER={kind} {why})"
        wiring.effect_unavailable(LAUNCH_PROMOTION, reason)
        if kind == "local":

            async def explain() -> None:
                log.warning(
                    "APPROVAL_BOT_LAUNCHER=local needs MLFLOW_TRACKING_URI for the promotion "
                    "pipeline: approved requests stay approved, their launches wait"
                )

            wiring.on_start(explain)
        return
    from bot.adapters.kfp.handler import LaunchPromotion

    wiring.set_launcher(launcher)
    wiring.add_effect_handler(
        LAUNCH_PROMOTION,
        LaunchPromotion(launcher, wiring.services.commands),
    )
