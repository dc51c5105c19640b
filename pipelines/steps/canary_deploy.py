"""The ``kserve`` part of a promotion with a canary: read, refuse RawDeployment, switch the
aliases, patch with the first step, walk the steps; on failure roll traffic, spec and aliases
back (pipelines/steps/canary.py)."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.errors import (
    PromotionRolledBackError,
    PromotionSupersededError,
    ServingReplacedError,
)
from pipelines.steps import canary, kube
from pipelines.steps.control import Control, NoControl

log = logging.getLogger(__name__)


def deploy(
    client: Any,
    model_name: str,
    model_version: str,
    uri: str,
    target: Any,
    *,
    plan: canary.Plan,
    control: Control | None,
    timeout_seconds: float,
    poll_seconds: float,
) -> Any:
    """Returns the ``AliasChange``; raises ``PromotionRolledBackError`` (what failed, the
    failing query's numbers, what was restored) or ``PromotionSupersededError``."""
    from pipelines.steps import promotion

    target = canary.Target(target.name, target.namespace)
    control = control or NoControl()
    before = kube.get_inference_service(target.name, target.namespace)
    canary.refuse_unless_serverless(before)  # before anything moves
    before_aliases = promotion.Aliases.read(client, model_name)
    ours = promotion.inference_service_patch(uri)
    ours["spec"]["predictor"][canary.FIELD] = plan.steps[0]
    try:
        change = promotion.switch_aliases(model_name, model_version)
        kube.patch_inference_service(target.name, target.namespace, ours)
        log.info("patched InferenceService %s to %s at %d%%", target, uri, plan.steps[0])
        canary.run(
            target,
            uri,
            plan,
            before,
            control,
            timeout_seconds=timeout_seconds,
            poll_seconds=poll_seconds,
        )
    except ServingReplacedError as error:
        aliases = promotion._restore_aliases(client, model_name, model_version, before_aliases)
        raise PromotionSupersededError(
            f"promotion of {model_name} v{model_version} stopped: {error}. Serving left as it "
            f"is; {aliases}."
        ) from error
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        # traffic first: it is what users see; the aliases only say what should be served
        served = _roll_back(target, before, ours, uri, timeout_seconds, poll_seconds)
        aliases = promotion._restore_aliases(client, model_name, model_version, before_aliases)
        control.report({"phase": "rolled back", "reason": reason, "restored": served})
        raise PromotionRolledBackError(
            f"promotion of {model_name} v{model_version} rolled back: {reason}. "
            f"{aliases}; {served}."
        ) from error
    return change


def _roll_back(
    target: canary.Target,
    before: dict[str, Any],
    ours: dict[str, Any],
    uri: str,
    timeout_seconds: float,
    poll_seconds: float,
) -> str:
    try:
        return canary.roll_back(
            target,
            before=before,
            ours=ours,
            uri=uri,
            timeout_seconds=timeout_seconds,
            poll_seconds=poll_seconds,
        )
    except Exception as error:
        log.exception("rolling back InferenceService %s failed", target)
        return f"ROLLING BACK InferenceService {target} FAILED ({error}); fix it by hand"
