"""``mlflow.log_decision``: one MLflow run per decision in the audit experiment.

The run is the record ML people find next to their models: params are the short, immutable
decision record (MLflow params cannot change, and over-long values are silently cut, so
everything is bounded here), metrics are the gate values, tags are lookup keys. The model
version gets ``approval.*`` tags so the registry shows the outcome too.

Idempotent: the run is found by its ``idempotency_key`` tag before anything is created, and a
run left half-written by an interrupted delivery is completed rather than duplicated.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.adapters.mlflow.client import MlflowError, MlflowRest, Registry, is_missing, request_of
from bot.domain.effects import LOG_DECISION
from bot.domain.model import ApprovalRequest
from bot.domain.names import SYSTEM_AUTO
from bot.domain.outbox import OutboxItem

log = logging.getLogger("bot.mlflow")

REASON_MAX = 500
APPROVERS_MAX = 500
TAG_REQUEST_ID = "approval.request_id"
TAG_DECISION = "approval.decision"
TAG_KEY = "idempotency_key"
TAG_DECIDED_BY = "approval.decided_by"  # on a policy's own decision: system:auto
TAG_POLICY = "approval.policy"  # and the policy whose veto window approved
MV_TAG_STATE = "approval.state"
MV_TAG_REQUEST_ID = "approval.request_id"
MV_TAG_BY = "approval.by"
_METRIC_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at is not None else None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What one decision run holds."""

    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    model_version_tags: dict[str, str] = field(default_factory=dict)
    at_ms: int | None = None


def decision_record(request: ApprovalRequest, decision: str, key: str) -> DecisionRecord:
    """The run for ``decision`` (the payload's, not the request's current state)."""
    approvers = sorted(request.approvals())
    by = request.decided_by or ""
    params = {
        "model_name": request.model_name,
        "model_version": request.model_version,
        "decision": decision,
        "approvers": _short(",".join(approvers), APPROVERS_MAX),
        "decided_by": _short(by, APPROVERS_MAX),
        "reason": _short(request.reason, REASON_MAX),
        "decided_at": request.decided_at.isoformat() if request.decided_at else "",
        "request_id": request.id,
        "data_run_id": request.data_run_id or "",
        "challenger_run_id": request.challenger_run_id or "",
        "staging_run_id": request.staging_run_id or "",
        "requested_by": request.requested_by,
        "override_failed_gates": str(request.override).lower(),
    }
    if request.expiry_action is not None:
        params["expiry_action"] = request.expiry_action.value
    metrics = {_METRIC_NAME.sub("_", g.name): float(g.value) for g in request.gates}
    tags = {
        TAG_REQUEST_ID: request.id,
        TAG_DECISION: decision,
        TAG_KEY: key,
        "approval.model_name": request.model_name,
        "approval.model_version": request.model_version,
    }
    if by == SYSTEM_AUTO:  # a veto window's policy decided (bot/domain/window.py)
        params["policy"] = tags[TAG_POLICY] = request.auto_approve_policy or ""
        tags[TAG_DECIDED_BY] = by
    mv_tags = {MV_TAG_STATE: decision, MV_TAG_REQUEST_ID: request.id, MV_TAG_BY: _short(by, 250)}
    return DecisionRecord(
        run_name=f"{request.model_name} v{request.model_version} {decision} ({request.id})",
        params=params,
        metrics=metrics,
        tags=tags,
        model_version_tags=mv_tags,
        at_ms=_ms(request.decided_at),
    )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class DecisionLog:
    """Effect handler for ``mlflow.log_decision``."""

    def __init__(self, registry: Registry, *, experiment: str) -> None:
        self.registry = registry
        self.experiment = experiment

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        req = request_of(request, LOG_DECISION)
        decision = str(item.payload.get("decision") or req.decision or req.state.value)
        record = decision_record(req, decision, item.key)
        return await self.registry.run(
            lambda client: self._log(client, record, req.model_name, req.model_version)
        )

    # -- blocking (worker thread) ---------------------------------------------

    def experiment_id(self, client: MlflowRest) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                return client.create_experiment(self.experiment)
            except MlflowError as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = client.get_experiment_by_name(self.experiment)  # lost a race: use theirs
                if found is None:
                    raise
        if found.get("lifecycle_stage") == "deleted":
            client.restore_experiment(str(found["experiment_id"]))
        return str(found["experiment_id"])

    def find_run(self, client: MlflowRest, experiment_id: str, key: str) -> Any:
        runs = client.search_runs(
            experiment_id,
            f"tags.{TAG_KEY} = {_quote(key)}",
            max_results=2,
            order_by=["attributes.start_time ASC"],
        )
        return runs[0] if runs else None

    def _log(self, client: MlflowRest, record: DecisionRecord, model: str, version: str) -> str:
        experiment_id = self.experiment_id(client)
        run = self.find_run(client, experiment_id, record.tags[TAG_KEY])
        if run is not None and run["info"].get("status") == "FINISHED":
            note = f"decision run {run['info']['run_id']} already logged"
        else:
            if run is None:
                run = client.create_run(
                    experiment_id,
                    start_time=record.at_ms,
                    tags=record.tags,
                    run_name=record.run_name,
                )
                note = f"logged decision run {run['info']['run_id']} in {self.experiment}"
            else:
                note = f"completed decision run {run['info']['run_id']} left by an earlier attempt"
            run_id = str(run["info"]["run_id"])
            # Same values again are accepted by MLflow: an interrupted attempt is completed.
            client.log_batch(
                run_id,
                metrics=record.metrics,
                params=record.params,
                tags=record.tags,
                timestamp=record.at_ms or 0,
            )
            client.set_terminated(run_id, end_time=record.at_ms)
        try:
            for key, value in record.model_version_tags.items():
                client.set_model_version_tag(model, version, key, value)
        except MlflowError as exc:
            if not is_missing(exc):
                raise
            note += f"; {model} v{version} is not in the registry, no version tags"
        return note
