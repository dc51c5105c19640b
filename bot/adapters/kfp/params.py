"""The promotion pipeline's parameters for an approved request (both launchers use this).

Four layers, later ones winning: the configured defaults (the promotion target,
``APPROVAL_BOT_PROMOTION_*``, docs/configuration.md), then the submission's
``promotion.parameters`` **for the names ``APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES`` allows**,
then the canary the request's policy asked for when it was submitted (``canary_steps``,
``canary_dwell_seconds``: the approvers' rules win over the target and the submitter), then
the four fixed parameters that identify what was approved. A submission that sets any other
name is not launched: the launch fails for good, saying which name and which setting, rather
than promoting somewhere the configuration did not name; so is a policy canary without
``APPROVAL_BOT_PROMETHEUS_URL`` (a canary is judged on Prometheus).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from bot.domain.model import ApprovalRequest
from bot.domain.policy import CanarySpec
from bot.ports.effects import PermanentEffectError

FIXED = ("model_name", "model_version", "data_run_id", "approval_request_id")
PROMETHEUS_SETTING = "APPROVAL_BOT_PROMETHEUS_URL"
# The promotion pipeline's target parameters (pipelines/definitions.py) and their settings
TARGET = {
    "namespace": "APPROVAL_BOT_PROMOTION_NAMESPACE",
    "inference_service": "APPROVAL_BOT_PROMOTION_INFERENCE_SERVICE",
    "storage_uri_prefix": "APPROVAL_BOT_PROMOTION_STORAGE_URI_PREFIX",
}
OVERRIDES_SETTING = "APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # as the API accepts them (schemas.py)


def parse_overrides(text: str) -> frozenset[str]:
    """``"namespace, ready_timeout_seconds"`` → names; a ValueError names a bad one."""
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    for name in sorted(names):
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a pipeline parameter name")
        if name in FIXED:
            raise ValueError(
                f"{name!r} identifies what was approved and cannot be overridden by a request"
            )
    return names


def target_defaults(
    *, namespace: str | None, inference_service: str, storage_uri_prefix: str
) -> dict[str, Any]:
    """The configured promotion target as the promotion pipeline's parameters."""
    defaults: dict[str, Any] = {
        "inference_service": inference_service,
        "storage_uri_prefix": storage_uri_prefix,
    }
    if namespace:
        defaults["namespace"] = namespace
    return defaults


def promotion_params(
    request: ApprovalRequest,
    *,
    defaults: Mapping[str, Any] | None = None,
    overridable: Collection[str] = (),
    accepted: Collection[str] | None = None,
) -> dict[str, Any]:
    """``defaults`` < the submission's allowed ``promotion.parameters`` < the policy's
    canary < the fixed four.

    ``accepted`` (the pipeline's inputs, when known) drops defaults the pipeline does not take.
    Raises ``PermanentEffectError`` when the submission sets a name ``overridable`` lacks.
    """
    extra = request.promotion.get("parameters") or {}
    extra = dict(extra) if isinstance(extra, dict) else {}
    refused = sorted(name for name in extra if name not in overridable)
    if refused:
        allowed = ", ".join(sorted(overridable)) or "none"
        raise PermanentEffectError(
            f"the request sets promotion parameter(s) {', '.join(refused)}, which "
            f"{OVERRIDES_SETTING} does not allow (allowed: {allowed}); submit it again "
            f"without them, or allow them and `approval-bot outbox retry`"
        )
    params: dict[str, Any] = {**(defaults or {}), **extra}
    canary = CanarySpec.from_json(request.promotion.get("canary"))
    if canary is not None:
        if not str(params.get("prometheus_url") or "").strip():
            raise PermanentEffectError(
                f"the policy of request {request.id} asks for a canary, which needs "
                f"{PROMETHEUS_SETTING} (a canary is judged on Prometheus; docs/kserve.md, "
                '"Canary"): set it and `approval-bot outbox retry`'
            )
        params.update(canary.parameters())
    params.update(
        model_name=request.model_name,
        model_version=request.model_version,
        data_run_id=request.data_run_id or "",
        approval_request_id=request.id,
    )
    if accepted is not None:
        params = {k: v for k, v in params.items() if k in accepted or k in FIXED}
    return params


# A canary needs an approval to steer it from chat: a deploy of @champion serves at once.
NO_CANARY = {"canary_steps": ""}


def deploy_params(
    payload: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    accepted: Collection[str] | None = None,
) -> dict[str, Any]:
    """The promotion pipeline's parameters for "Deploy the champion" (a ``kfp.deploy_champion``
    row, docs/watch.md): the configured target, then the divergence's InferenceService
    (``namespace/name``; the local launcher's ``local`` keeps the target), and the version
    ``@champion`` names, with ``divergence_id`` in place of an approval for the run's guard.
    """
    params: dict[str, Any] = {**(defaults or {}), **NO_CANARY}
    service = str(payload.get("service") or "")
    if "/" in service:
        params["namespace"], params["inference_service"] = service.split("/", 1)
    version = payload.get("version")
    if not version:
        raise PermanentEffectError(
            f"divergence {payload.get('divergence')}: @champion named no version to deploy"
        )
    params.update(
        model_name=str(payload["model"]),
        model_version=str(version),
        data_run_id="",
        approval_request_id="",
        divergence_id=str(payload["divergence"]),
    )
    if accepted is not None:
        params = {k: v for k, v in params.items() if k in accepted or k in FIXED}
    return params
