"""`approval-bot demo`: the data, training and staging pipelines run locally (kfp.local),
then the challenger is submitted for approval, as the staging pipeline does on a cluster.

When a bot answers at ``APPROVAL_BOT_URL`` (with ``APPROVAL_BOT_API_TOKEN``), the staging
pipeline's own notify step submits to it; otherwise the notification is skipped and
the request is submitted to this database with the gate values the pipeline measured.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from bot.domain.errors import DomainError
from bot.service.commands import Commands
from bot.service.schemas import SubmissionIn


class DemoError(DomainError):
    code = "demo"


NEEDS_MLFLOW = (
    "the demo needs an MLflow tracking server: start one with `make mlflow` (or "
    "`mlflow server --backend-store-uri sqlite:///var/mlflow.db --artifacts-destination "
    "var/mlartifacts --port 5000`) and set MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
)


def run_demo(
    commands: Commands,
    *,
    tracking_uri: str | None,
    model_name: str,
    requested_by: str,
    latency_iterations: int,
    bot_url: str | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    if not tracking_uri:
        raise DemoError(NEEDS_MLFLOW)
    from pipelines.runner import run_local

    # Without a bot to talk to, the staging pipeline's notify step is told there is
    # none (it logs that and goes on); this command submits instead.
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    if not bot_url:
        env["APPROVAL_BOT_URL"] = ""

    def step(name: str, **params: Any) -> dict[str, Any]:
        say(f"→ {name} pipeline …")
        try:
            # kfp.local logs to stdout; this command's stdout is its result.
            with contextlib.redirect_stdout(sys.stderr):
                outputs = run_local(name, params, env=env)
        except RuntimeError as exc:
            raise DemoError(f"the {name} pipeline failed: {str(exc).splitlines()[0]}") from None
        say(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(outputs.items())))
        return outputs

    data = step("data")
    data_run_id = str(data["data_run_id"])
    step("training", data_run_id=data_run_id, model_name=model_name)
    staging = step(
        "staging",
        data_run_id=data_run_id,
        model_name=model_name,
        latency_iterations=latency_iterations,
        requested_by=requested_by,
    )
    request_id = str(staging.get("approval_request_id") or "")
    if request_id:
        say(f"the staging pipeline submitted request {request_id} to {bot_url}")
        return {"id": request_id, "submitted_by": "staging pipeline", **staging}

    return _submit_measured(
        commands,
        tracking_uri=tracking_uri,
        model_name=model_name,
        requested_by=requested_by,
        data_run_id=data_run_id,
        staging=staging,
    )


def _submit_measured(
    commands: Commands,
    *,
    tracking_uri: str,
    model_name: str,
    requested_by: str,
    data_run_id: str,
    staging: dict[str, Any],
) -> dict[str, Any]:
    """Submit the staged challenger with the gate values the staging pipeline measured."""
    from mlflow.tracking import MlflowClient

    from pipelines.steps.staging import evaluate_gates, submission_body

    version = str(staging["model_version"])
    run_id = MlflowClient(tracking_uri).get_model_version(model_name, version).run_id or ""
    gates = evaluate_gates(
        latency_p99_ms=float(staging["latency_p99_ms"]),
        disagreement_rate=float(staging["disagreement_rate"]),
        challenger_accuracy=float(staging["challenger_accuracy"]),
        champion_accuracy=float(staging["champion_accuracy"]),
    )
    body = submission_body(
        model_name=model_name,
        model_version=version,
        challenger_run_id=run_id,
        data_run_id=data_run_id,
        staging_run_id=f"demo-{data_run_id}",
        requested_by=requested_by,
        gates=gates,
        links={},
    )
    result = commands.submit(SubmissionIn.model_validate(body))
    return {"id": result.request.id, "submitted_by": "demo", **staging}
