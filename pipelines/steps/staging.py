"""Staging: latency and shadow gates for @challenger, and the submission to the approval bot."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.errors import ConfigurationError
from pipelines.steps import dataset, registry
from pipelines.steps.approvals import BotClient, BotRequestError
from pipelines.steps.data import load_data_run
from pipelines.steps.promotion import TARGET_PARAMETERS

log = logging.getLogger(__name__)

LATENCY_P99_MAX_MS = 100.0
DISAGREEMENT_MAX = 0.05
NO_CHAMPION = -1.0  # the explicit "no champion yet" sentinel for champion accuracy
WARMUP_PREDICTIONS = 3  # first calls pay for lazy imports and caches, not serving latency


@dataclass(frozen=True)
class LatencyResult:
    """p99 of single-row predictions of the challenger version."""

    latency_p99_ms: float
    model_version: str
    challenger_run_id: str
    latencies_ms: tuple[float, ...] = ()  # every timed prediction, for the evidence picture


@dataclass(frozen=True)
class ShadowResult:
    """Champion vs challenger on the test split (champion values are sentinels without one)."""

    disagreement_rate: float
    challenger_accuracy: float
    champion_accuracy: float
    champion_version: str
    comparison: str = "{}"  # JSON: confusion matrices, disagreement by class (evidence.render)


@dataclass(frozen=True)
class Gate:
    """One gate as the bot's API expects it."""

    name: str
    value: float
    threshold: float
    op: str
    passed: bool


_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
}


def gate(name: str, value: float, op: str, threshold: float) -> Gate:
    """Evaluate ``value op threshold``."""
    return Gate(
        name=name, value=value, threshold=threshold, op=op, passed=bool(_OPS[op](value, threshold))
    )


def evaluate_gates(
    *,
    latency_p99_ms: float,
    disagreement_rate: float,
    challenger_accuracy: float,
    champion_accuracy: float,
) -> list[Gate]:
    """The three staging gates. Values are rounded first so ``passed`` agrees with what is shown.

    Without a champion ``champion_accuracy`` is -1.0 and the accuracy gate passes by construction.
    """
    return [
        gate("latency_p99_ms", round(latency_p99_ms, 3), "<=", LATENCY_P99_MAX_MS),
        gate("disagreement_rate", round(disagreement_rate, 4), "<", DISAGREEMENT_MAX),
        gate(
            "challenger_accuracy", round(challenger_accuracy, 4), ">=", round(champion_accuracy, 4)
        ),
    ]


def _test_split(data_run_id: str) -> dataset.Split:
    return dataset.split(load_data_run(data_run_id))


def latency_test(model_name: str, data_run_id: str, iterations: int = 100) -> LatencyResult:
    """Resolve @challenger once and time ``iterations`` single-row predictions of that version."""
    import mlflow
    import numpy as np

    if iterations < 1:
        raise ConfigurationError(f"latency_iterations must be >= 1, got {iterations}")
    client = registry.client()
    version = registry.require_alias(client, model_name, registry.CHALLENGER)
    run_id = str(client.get_model_version(model_name, version).run_id or "")
    model = mlflow.pyfunc.load_model(registry.model_uri(model_name, version))
    rows = _test_split(data_run_id).x_test
    single_rows = [rows.iloc[[i]] for i in range(len(rows))]
    for i in range(WARMUP_PREDICTIONS):
        model.predict(single_rows[i % len(single_rows)])
    latencies_ms = []
    for i in range(iterations):
        row = single_rows[i % len(single_rows)]
        started = time.perf_counter()
        model.predict(row)
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
    p99 = float(np.percentile(latencies_ms, 99))
    log.info(
        "%s v%s: p99 %.3f ms over %d single-row predictions", model_name, version, p99, iterations
    )
    return LatencyResult(
        latency_p99_ms=p99,
        model_version=version,
        challenger_run_id=run_id,
        latencies_ms=tuple(round(v, 4) for v in latencies_ms),
    )


def confusion_matrix(y_true: Any, y_pred: Any) -> list[list[int]]:
    """Rows: the true class; columns: the predicted one (``dataset.CLASSES``)."""
    return [
        [int(((y_true == t) & (y_pred == p)).sum()) for p in dataset.CLASSES]
        for t in dataset.CLASSES
    ]


def comparison(y_true: Any, challenger: Any, champion: Any | None) -> str:
    """What the evidence pictures show of the shadow test, as JSON (a KFP output)."""
    shown: dict[str, Any] = {"challenger": confusion_matrix(y_true, challenger), "champion": None}
    if champion is not None:
        differ = champion != challenger
        shown["champion"] = confusion_matrix(y_true, champion)
        shown["per_class"] = [
            float(differ[y_true == c].mean()) if (y_true == c).any() else 0.0
            for c in dataset.CLASSES
        ]
        shown["rate"] = float(differ.mean())
    return json.dumps(shown)


def shadow_test(model_name: str, model_version: str, data_run_id: str) -> ShadowResult:
    """Compare the challenger version with the current @champion on the test split."""
    import mlflow
    import numpy as np

    client = registry.client()
    parts = _test_split(data_run_id)
    y_true = np.asarray(parts.y_test)
    challenger = mlflow.pyfunc.load_model(registry.model_uri(model_name, model_version))
    challenger_pred = np.asarray(challenger.predict(parts.x_test))
    challenger_accuracy = float((challenger_pred == y_true).mean())
    champion_version = registry.alias_version(client, model_name, registry.CHAMPION)
    if champion_version is None:
        log.info("no @champion yet: shadow test passes with champion accuracy %s", NO_CHAMPION)
        shown = comparison(y_true, challenger_pred, None)
        return ShadowResult(0.0, challenger_accuracy, NO_CHAMPION, "", shown)
    champion = mlflow.pyfunc.load_model(registry.model_uri(model_name, champion_version))
    champion_pred = np.asarray(champion.predict(parts.x_test))
    result = ShadowResult(
        disagreement_rate=float((champion_pred != challenger_pred).mean()),
        challenger_accuracy=challenger_accuracy,
        champion_accuracy=float((champion_pred == y_true).mean()),
        champion_version=champion_version,
        comparison=comparison(y_true, challenger_pred, champion_pred),
    )
    log.info("shadow test v%s vs champion v%s: %s", model_version, champion_version, result)
    return result


def links(model_name: str, model_version: str, staging_run_id: str) -> dict[str, str]:
    """Where a human looks at the version and the run (``MLFLOW_UI_URL``, ``KFP_UI_URL``)."""
    mlflow_ui = os.environ.get("MLFLOW_UI_URL") or os.environ.get("MLFLOW_TRACKING_URI", "")
    kfp_ui = os.environ.get("KFP_UI_URL", "")
    return {
        "mlflow": f"{mlflow_ui.rstrip('/')}/#/models/{model_name}/versions/{model_version}"
        if mlflow_ui.startswith(("http://", "https://"))
        else "",
        "kfp": f"{kfp_ui.rstrip('/')}/#/runs/details/{staging_run_id}" if kfp_ui else "",
    }


def submission_body(
    *,
    model_name: str,
    model_version: str,
    challenger_run_id: str,
    data_run_id: str,
    staging_run_id: str,
    requested_by: str,
    gates: list[Gate],
    links: dict[str, str],
    promotion_target: Mapping[str, str] | None = None,
    evidence: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The ``POST /api/v1/approvals`` body (README.md, "HTTP API"; e.g. examples/request.json).

    ``promotion_target``: the promotion parameters (``TARGET_PARAMETERS``) this run asks for;
    empty ones are left out, so the bot's configured target applies. The bot launches a request
    that sets them only where ``APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES`` allows.
    """
    target = {k: v for k, v in (promotion_target or {}).items() if v}
    unknown = sorted(set(target) - set(TARGET_PARAMETERS))
    if unknown:
        raise ConfigurationError(
            f"not a promotion target parameter: {', '.join(unknown)} "
            f"(one of {', '.join(TARGET_PARAMETERS)})"
        )
    return {
        "model_name": model_name,
        "model_version": model_version,
        "challenger_run_id": challenger_run_id,
        "data_run_id": data_run_id,
        "staging_run_id": staging_run_id,
        "requested_by": requested_by,
        "gates": [asdict(g) for g in gates],
        "links": links,
        "promotion": {"parameters": target},
        **({"evidence": list(evidence)} if evidence else {}),
    }


def evidence(
    latencies_ms: str,
    comparison: str,
    *,
    latency_p99_ms: float,
    staging_run_id: str,
    model_name: str,
    model_version: str,
) -> list[dict[str, str]]:
    """The evidence pictures (``pipelines/steps/evidence.py``), logged as artifacts of an
    MLflow run of the staging experiment, as the submission carries them."""
    from pipelines.steps import evidence as pictures

    rendered = pictures.render(
        latencies_ms,
        comparison,
        p99=latency_p99_ms,
        p99_max=LATENCY_P99_MAX_MS,
        disagreement_max=DISAGREEMENT_MAX,
    )
    run_id = pictures.log_to_mlflow(
        rendered, staging_run_id=staging_run_id, model_name=model_name, model_version=model_version
    )
    log.info(
        "evidence: %s in MLflow run %s",
        ", ".join(f"{p.name} ({len(p.png)} bytes)" for p in rendered),
        run_id,
    )
    return [p.as_evidence() for p in rendered]


def notify(body: dict[str, Any]) -> str:
    """Submit the request to the bot; return its id, or "" when that failed (logged, not raised).

    A staging run whose notification failed still has its gate values as outputs; the request
    can be submitted again later (``approval-bot submit``) and the bot deduplicates by staging run.
    """
    try:
        bot = BotClient.from_env()
        response = bot.submit(body)
    except (ConfigurationError, BotRequestError, ValueError) as error:
        log.error("could not notify the approval bot, no approval request was created: %s", error)
        return ""
    request_id = str(response.get("id") or "")
    if not request_id:
        log.error("the approval bot answered without a request id: %.500s", response)
    else:
        log.info("approval request %s (state %s)", request_id, response.get("state"))
    return request_id
