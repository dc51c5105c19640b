"""Wire the kfp adapter when its settings are present (called by the registry).

``APPROVAL_BOT_LAUNCHER``:
- ``kfp``: a remote KFP server (``KFP_HOST``; in a cluster it may be left unset). Needs the
  promotion target's namespace (``APPROVAL_BOT_PROMOTION_NAMESPACE``): without it the run would
  look for the InferenceService in its own namespace, the KFP profile's.
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
from typing import TYPE_CHECKING, Any

from bot.adapters.kfp.params import target_defaults
from bot.adapters.kfp.remote import CALLS_PER_LAUNCH, KfpLauncher
from bot.domain.effects import DEPLOY_CHAMPION, LAUNCH_PROMOTION
from bot.domain.errors import ConfigError
from bot.service.outbox import RetryPolicy

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


def target(settings: Settings) -> dict[str, Any]:
    """The configured promotion target, as the promotion pipeline's parameters."""
    return (
        target_defaults(
            namespace=settings.promotion_namespace,
            inference_service=settings.promotion_inference_service,
            storage_uri_prefix=settings.promotion_storage_uri_prefix,
        )
        | settings.canary_parameters()
    )


def _check_kfp(settings: Settings) -> None:
    if not settings.promotion_namespace and "namespace" not in settings.request_overrides():
        raise ConfigError(
            "APPROVAL_BOT_LAUNCHER=kfp needs APPROVAL_BOT_PROMOTION_NAMESPACE: the namespace of "
            "the InferenceService the promotion patches (where charts/approval-bot-serving is "
            "installed; README.md, Deploy on Kubernetes)"
        )
    budget = CALLS_PER_LAUNCH * settings.kfp_timeout_seconds
    limit = min(settings.outbox_lease_seconds, RetryPolicy().timeout_seconds)
    if budget >= limit:
        raise ConfigError(
            f"APPROVAL_BOT_KFP_TIMEOUT_SECONDS={settings.kfp_timeout_seconds:g}: a launch makes "
            f"up to {CALLS_PER_LAUNCH} KFP calls ({budget:g} s), which must end within "
            f"{limit:g} s, inside APPROVAL_BOT_OUTBOX_LEASE_SECONDS "
            f"({settings.outbox_lease_seconds:g}) and the {RetryPolicy().timeout_seconds:g} s "
            "a delivery may take (else another attempt could start beside it); lower it"
        )


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
        _check_kfp(settings)
        return KfpLauncher(
            host=settings.kfp_host,
            pipeline=pipeline_names(settings.kfp_pipeline),
            pipeline_version=settings.kfp_pipeline_version,
            experiment=settings.kfp_experiment,
            namespace=settings.kfp_namespace,
            token=settings.kfp_token.get_secret_value() if settings.kfp_token else None,
            token_path=settings.kfp_token_path,
            service_account=settings.kfp_service_account,
            defaults=target(settings),
            overridable=settings.request_overrides(),
            timeout_seconds=settings.kfp_timeout_seconds,
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
        defaults={**target(settings), "deploy_target": settings.local_deploy_target},
        overridable=settings.request_overrides(),
    )


def wire(wiring: Wiring) -> None:
    """Set the launcher and register the ``kfp.launch_promotion`` and
    ``kfp.deploy_champion`` handlers."""
    settings = wiring.settings
    launcher = make_launcher(settings)
    if launcher is None:
        kind = settings.launcher.strip().lower()
        why = "needs MLFLOW_TRACKING_URI" if kind == "local" else "is none"
        reason = f"promotion launcher not configured (APPROVAL_BOT_LAUNCHER={kind} {why})"
        wiring.effect_unavailable(LAUNCH_PROMOTION, reason)
        wiring.effect_unavailable(DEPLOY_CHAMPION, reason)
        wiring.services.watch.deploy_unavailable = reason
        if kind == "local":

            async def explain() -> None:
                log.warning(
                    "APPROVAL_BOT_LAUNCHER=local needs MLFLOW_TRACKING_URI for the promotion "
                    "pipeline: approved requests stay approved, their launches wait"
                )

            wiring.on_start(explain)
        return
    from bot.adapters.kfp.handler import DeployChampion, LaunchPromotion

    wiring.set_launcher(launcher)
    wiring.add_effect_handler(
        LAUNCH_PROMOTION,
        LaunchPromotion(launcher, wiring.services.commands),
    )
    wiring.add_effect_handler(
        DEPLOY_CHAMPION, DeployChampion(launcher, wiring.services.watch)
    )  # docs/watch.md
