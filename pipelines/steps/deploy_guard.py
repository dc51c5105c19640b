"""The guard of a "Deploy the champion" run (docs/watch.md): the promotion pipeline with
``divergence_id`` in place of an approval. It serves the version @champion names only while
the bot's divergence is open and someone asked for this deploy, and only while @champion still
names that version (no alias moves)."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.errors import ApprovalError, ConfigurationError
from pipelines.steps import registry
from pipelines.steps.approvals import BotClient, BotRequestError

log = logging.getLogger(__name__)


def check_divergence(
    divergence: dict[str, Any], *, divergence_id: str, model_name: str, model_version: str
) -> str:
    """Refuse unless the divergence is open, about this model, someone asked to deploy the
    champion, and the champion it saw is this version; return ``"deploy_champion"``."""
    what = f"divergence {divergence_id}"
    if divergence.get("model") != model_name:
        raise ApprovalError(
            f"{what} is about {divergence.get('model')!r}, not {model_name!r}: refusing to deploy"
        )
    if not divergence.get("open"):
        raise ApprovalError(
            f"{what} of {model_name} is resolved already ({divergence.get('resolution')}): "
            "nothing to deploy"
        )
    asked = divergence.get("asked") or {}
    if asked.get("action") != "deploy_champion":
        raise ApprovalError(
            f"nobody asked to deploy the champion for {what} of {model_name}: refusing to deploy"
        )
    if str(divergence.get("champion_version") or "") != model_version:
        raise ApprovalError(
            f"{what} saw @champion on v{divergence.get('champion_version')}, but this run "
            f"deploys v{model_version}: refusing to deploy"
        )
    return "deploy_champion"


def verify_divergence(divergence_id: str, *, model_name: str, model_version: str) -> str:
    """Ask the bot for the divergence and check it (``check_divergence``)."""
    try:
        divergence = BotClient.from_env().divergence(divergence_id)
    except ConfigurationError as error:
        raise ApprovalError(f"cannot verify the divergence: {error}") from error
    except BotRequestError as error:
        if error.status == 404:
            raise ApprovalError(f"divergence {divergence_id} does not exist") from error
        raise ApprovalError(f"cannot verify divergence {divergence_id}: {error}") from error
    asked = check_divergence(
        divergence, divergence_id=divergence_id, model_name=model_name, model_version=model_version
    )
    log.info(
        "divergence %s: %s asked to deploy %s v%s (@champion)",
        divergence_id,
        (divergence.get("asked") or {}).get("by"),
        model_name,
        model_version,
    )
    return asked


def require_champion(client: Any, model_name: str, model_version: str) -> None:
    """A deploy of @champion serves it only while @champion still names ``model_version``."""
    champion = registry.alias_version(client, model_name, registry.CHAMPION)
    if champion != model_version:
        raise ApprovalError(
            f"@champion of {model_name} names v{champion} now, not v{model_version}: someone "
            "moved it since the deploy was asked; refusing to deploy (the watch judges again)"
        )
