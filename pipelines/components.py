# mypy: disable-error-code="valid-type, call-arg, arg-type, untyped-decorator"
# (KFP needs functional NamedTuple return annotations and its decorators are untyped.)
"""KFP components: thin wrappers that call ``pipelines.steps`` inside the task's process.

No ``from __future__ import annotations`` here: KFP reads these annotations at decoration time
and does not resolve string annotations (``int`` would become an artifact type named "int").

Every component runs in ``DEFAULT_IMAGE``, the pipelines' image (the Dockerfile with
``EXTRAS=pipelines``: this package, kfp, mlflow and scikit-learn; the bot's own image has no
mlflow or scikit-learn); ``python -m pipelines compile --image`` writes another one into the YAML.
Locally ``kfp.local.SubprocessRunner(use_venv=False)`` runs them in the current environment.
"""

from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

DEFAULT_IMAGE = "approval-bot-pipelines:0.1.0"


def _component(func: Any) -> Any:
    return dsl.component(func, base_image=DEFAULT_IMAGE, install_kfp_package=False)


@_component
def load_data(source_csv: str, dataset: Output[Dataset]) -> int:
    """Load iris (or the CSV at ``source_csv``) into ``dataset``; return the row count."""
    from pipelines.steps import data, runtime

    runtime.configure_logging()
    return data.load_source(source_csv, dataset.path)


@_component
def validate_data(dataset: Input[Dataset]) -> str:
    """Schema, nulls, value ranges, rows per class: fail the run naming the failed check."""
    import json

    from pipelines.steps import data, runtime

    runtime.configure_logging()
    results = data.validate_file(dataset.path)
    return json.dumps({r.name: r.detail for r in results})


@_component
def log_dataset(dataset: Input[Dataset], source_csv: str, experiment_name: str) -> str:
    """Log the validated dataset as an MLflow run (artifact, sha256, input); return its id."""
    from pipelines.steps import data, runtime

    runtime.configure_logging()
    return data.log_dataset(dataset.path, source=source_csv, experiment_name=experiment_name)


@_component
def train_candidates(data_run_id: str, experiment_name: str) -> NamedTuple(
    "Best", [("run_id", str), ("model_uri", str), ("accuracy", float)]
):
    """Train the three RandomForest configurations as MLflow runs; output the most accurate."""
    from collections import namedtuple

    from pipelines.steps import runtime, training

    runtime.configure_logging()
    best = training.best(training.train_candidates(data_run_id, experiment_name=experiment_name))
    return namedtuple("Best", ["run_id", "model_uri", "accuracy"])(
        best.run_id, best.model_uri, best.accuracy
    )


@_component
def register_challenger(
    model_name: str, data_run_id: str, run_id: str, model_uri: str, accuracy: float
) -> NamedTuple("Registered", [("model_version", str), ("accuracy", float)]):
    """Register the best candidate as a new version of ``model_name`` and set @challenger."""
    from collections import namedtuple

    from pipelines.steps import runtime, training

    runtime.configure_logging()
    candidate = training.Candidate(run_id=run_id, model_uri=model_uri, accuracy=accuracy, params={})
    registered = training.register_challenger(
        candidate, data_run_id=data_run_id, model_name=model_name
    )
    return namedtuple("Registered", ["model_version", "accuracy"])(
        registered.model_version, registered.accuracy
    )


@_component
def latency_test(model_name: str, data_run_id: str, iterations: int) -> NamedTuple(
    "Latency",
    [
        ("latency_p99_ms", float),
        ("model_version", str),
        ("challenger_run_id", str),
        ("latencies_ms", str),
    ],
):
    """p99 latency (ms) of single-row predictions of the version @challenger points at now;
    ``latencies_ms``: every timing, as JSON (the evidence picture's data)."""
    import json
    from collections import namedtuple

    from pipelines.steps import runtime, staging

    runtime.configure_logging()
    result = staging.latency_test(model_name, data_run_id, iterations)
    fields = ["latency_p99_ms", "model_version", "challenger_run_id", "latencies_ms"]
    return namedtuple("Latency", fields)(
        result.latency_p99_ms,
        result.model_version,
        result.challenger_run_id,
        json.dumps(list(result.latencies_ms)),
    )


@_component
def shadow_test(model_name: str, model_version: str, data_run_id: str) -> NamedTuple(
    "Shadow",
    [
        ("disagreement_rate", float),
        ("challenger_accuracy", float),
        ("champion_accuracy", float),
        ("champion_version", str),
        ("comparison", str),
    ],
):
    """Challenger vs @champion on the test split (no champion: accuracy -1.0, passes)."""
    from collections import namedtuple

    from pipelines.steps import runtime, staging

    runtime.configure_logging()
    result = staging.shadow_test(model_name, model_version, data_run_id)
    return namedtuple(
        "Shadow",
        [
            "disagreement_rate",
            "challenger_accuracy",
            "champion_accuracy",
            "champion_version",
            "comparison",
        ],
    )(
        result.disagreement_rate,
        result.challenger_accuracy,
        result.champion_accuracy,
        result.champion_version,
        result.comparison,
    )


@_component
def notify_approval_bot(
    model_name: str,
    model_version: str,
    challenger_run_id: str,
    data_run_id: str,
    staging_run_id: str,
    requested_by: str,
    latency_p99_ms: float,
    disagreement_rate: float,
    challenger_accuracy: float,
    champion_accuracy: float,
    inference_service: str,
    namespace: str,
    storage_uri_prefix: str,
    latencies_ms: str,
    comparison: str,
) -> NamedTuple("Notified", [("approval_request_id", str), ("gates_passed", bool)]):
    """Render the evidence pictures (logged to MLflow), then POST them with the gate results
    to the approval bot; a failure to reach the bot is logged and yields an empty id.

    ``inference_service``, ``namespace``, ``storage_uri_prefix``: the promotion target this
    request asks for ("" = the bot's configured one).
    """
    from collections import namedtuple

    from pipelines.steps import runtime, staging

    runtime.configure_logging()
    gates = staging.evaluate_gates(
        latency_p99_ms=latency_p99_ms,
        disagreement_rate=disagreement_rate,
        challenger_accuracy=challenger_accuracy,
        champion_accuracy=champion_accuracy,
    )
    body = staging.submission_body(
        model_name=model_name,
        model_version=model_version,
        challenger_run_id=challenger_run_id,
        data_run_id=data_run_id,
        staging_run_id=staging_run_id,
        requested_by=requested_by,
        gates=gates,
        links=staging.links(model_name, model_version, staging_run_id),
        promotion_target={
            "inference_service": inference_service,
            "namespace": namespace,
            "storage_uri_prefix": storage_uri_prefix,
        },
        evidence=staging.evidence(
            latencies_ms,
            comparison,
            latency_p99_ms=latency_p99_ms,
            staging_run_id=staging_run_id,
            model_name=model_name,
            model_version=model_version,
        ),
    )
    request_id = staging.notify(body)
    return namedtuple("Notified", ["approval_request_id", "gates_passed"])(
        request_id, all(g.passed for g in gates)
    )


@_component
def verify_approval(
    approval_request_id: str,
    model_name: str,
    model_version: str,
    data_run_id: str,
    deploy_target: str,
    divergence_id: str,
) -> str:
    """Stop unless the bot says this exact version is approved (or, with ``divergence_id``,
    that someone asked to deploy it as @champion); output the request state."""
    from pipelines.steps import promotion, runtime

    runtime.configure_logging()
    return promotion.verify_approval(
        approval_request_id,
        model_name=model_name,
        model_version=model_version,
        data_run_id=data_run_id,
        deploy_target=deploy_target,
        divergence_id=divergence_id,
    )


@_component
def promote(
    model_name: str,
    model_version: str,
    deploy_target: str,
    inference_service: str,
    namespace: str,
    storage_uri_prefix: str,
    ready_timeout_seconds: int,
    approval_request_id: str,
    canary_steps: str,
    canary_dwell_seconds: int,
    prometheus_url: str,
    canary_checks: str,
    divergence_id: str,
) -> NamedTuple(
    "Promoted", [("champion_version", str), ("archived_version", str), ("storage_uri", str)]
):
    """@champion → this version, then serve it and wait for Ready; on failure undo both.

    One task, so that the rollback knows exactly what the aliases and the InferenceService
    were before (see ``pipelines.steps.promotion.promote``). ``canary_steps`` (empty: none):
    serve in traffic steps, analysed on Prometheus, steered from chat through the bot's API
    (``pipelines.steps.canary``). ``divergence_id`` ("Deploy the champion"): @champion
    names this version already and stays; only serving changes.
    """
    from collections import namedtuple

    from pipelines.steps import canary, promotion, runtime
    from pipelines.steps.control import controls

    runtime.configure_logging()
    plan = canary.parse_plan(canary_steps, canary_dwell_seconds, prometheus_url, canary_checks)
    result = promotion.promote(
        model_name,
        model_version,
        deploy_target=deploy_target,
        inference_service=inference_service,
        namespace=namespace,
        storage_uri_prefix=storage_uri_prefix,
        ready_timeout_seconds=ready_timeout_seconds,
        canary_plan=plan,
        control=controls(approval_request_id) if plan else None,
        keep_champion=bool(divergence_id),
    )
    return namedtuple("Promoted", ["champion_version", "archived_version", "storage_uri"])(
        result.champion_version, result.archived_version, result.storage_uri
    )
