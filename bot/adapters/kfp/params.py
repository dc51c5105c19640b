"""The promotion pipeline's parameters for an approved request (both launchers use this)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bot.domain.model import ApprovalRequest

FIXED = ("model_name", "model_version", "data_run_id", "approval_request_id")


def promotion_params(
    request: ApprovalRequest,
    *,
    defaults: dict[str, Any] | None = None,
    accepted: Collection[str] | None = None,
) -> dict[str, Any]:
    """``defaults`` < the submission's ``promotion.parameters`` < the four fixed parameters.

    The fixed ones identify what was approved and cannot be overridden by a submission.
    ``accepted`` (the pipeline's inputs, when known) drops extras the pipeline does not take.
    """
    extra = request.promotion.get("parameters") or {}
    params: dict[str, Any] = {**(defaults or {}), **(extra if isinstance(extra, dict) else {})}
    params.update(
        model_name=request.model_name,
        model_version=request.model_version,
        data_run_id=request.data_run_id or "",
        approval_request_id=request.id,
    )
    if accepted is not None:
        params = {k: v for k, v in params.items() if k in accepted or k in FIXED}
    return params
