# mypy: disable-error-code="untyped-decorator"
# (kfp.dsl.pipeline is untyped.)
"""The four KFP v2 pipelines of the iris example: data → training → staging → promotion.

No ``from __future__ import annotations`` (see ``pipelines.components``).

On a cluster every task reads its settings from the Secret ``mlops-pipeline-secrets`` through
kfp-kubernetes ``use_secret_as_env`` (required key ``MLFLOW_TRACKING_URI``; the bot-facing tasks
also ``APPROVAL_BOT_URL`` and ``APPROVAL_BOT_API_TOKEN``; optional keys are listed in
``OPTIONAL_SECRET_KEYS``). Locally that configuration is ignored and tasks inherit the environment.
Tasks with side effects never use KFP's cache: a cached staging run would not notify the bot.
"""

from typing import NamedTuple

from kfp import dsl, kubernetes

from pipelines import components
from pipelines.steps.canary import CANARY_DWELL_SECONDS
from pipelines.steps.data import DATA_EXPERIMENT
from pipelines.steps.promotion import READY_TIMEOUT_SECONDS, STORAGE_URI_PREFIX
from pipelines.steps.runtime import SECRET_NAME
from pipelines.steps.training import MODEL_NAME, TRAINING_EXPERIMENT

MLFLOW_SECRET_KEYS = ("MLFLOW_TRACKING_URI",)
BOT_SECRET_KEYS = ("APPROVAL_BOT_URL", "APPROVAL_BOT_API_TOKEN")
OPTIONAL_SECRET_KEYS = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_UI_URL",
    "KFP_UI_URL",
    # only when the MLflow server hands out s3:// URIs instead of proxying artifacts
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


def _configure(
    task: dsl.PipelineTask, *, bot: bool = False, cache: bool = False
) -> dsl.PipelineTask:
    required = MLFLOW_SECRET_KEYS + (BOT_SECRET_KEYS if bot else ())
    kubernetes.use_secret_as_env(
        task, secret_name=SECRET_NAME, secret_key_to_env={k: k for k in required}
    )
    kubernetes.use_secret_as_env(
        task,
        secret_name=SECRET_NAME,
        secret_key_to_env={k: k for k in OPTIONAL_SECRET_KEYS},
        optional=True,
    )
    task.set_caching_options(enable_caching=cache)
    return task


class DataOutputs(NamedTuple):
    data_run_id: str


class TrainingOutputs(NamedTuple):
    model_version: str
    accuracy: float


@dsl.pipeline(
    name="iris-data", description="Load iris, validate it, log it to MLflow as a data run."
)
def data_pipeline(source_csv: str = "", experiment_name: str = DATA_EXPERIMENT) -> DataOutputs:
    load = components.load_data(source_csv=source_csv)
    load.set_caching_options(enable_caching=False)
    validate = components.validate_data(dataset=load.outputs["dataset"])
    validate.set_caching_options(enable_caching=False)
    logged = _configure(
        components.log_dataset(
            dataset=load.outputs["dataset"], source_csv=source_csv, experiment_name=experiment_name
        ).after(validate)  # a failed validation stops the pipeline before anything is logged
    )
    return DataOutputs(data_run_id=logged.output)


@dsl.pipeline(
    name="iris-training", description="Train three RandomForests; register the best as @challenger."
)
def training_pipeline(
    data_run_id: str, model_name: str = MODEL_NAME, experiment_name: str = TRAINING_EXPERIMENT
) -> TrainingOutputs:
    train = _configure(
        components.train_candidates(data_run_id=data_run_id, experiment_name=experiment_name)
    )
    register = _configure(
        components.register_challenger(
            model_name=model_name,
            data_run_id=data_run_id,
            run_id=train.outputs["run_id"],
            model_uri=train.outputs["model_uri"],
            accuracy=train.outputs["accuracy"],
        )
    )
    return TrainingOutputs(
        model_version=register.outputs["model_version"], accuracy=register.outputs["accuracy"]
    )


class StagingOutputs(NamedTuple):
    model_version: str
    latency_p99_ms: float
    disagreement_rate: float
    challenger_accuracy: float
    champion_accuracy: float
    gates_passed: bool
    approval_request_id: str


class PromotionOutputs(NamedTuple):
    champion_version: str
    archived_version: str
    storage_uri: str


@dsl.pipeline(
    name="iris-staging",
    description="Latency and shadow gates for @challenger; ask the bot for approval.",
)
def staging_pipeline(
    data_run_id: str,
    model_name: str = MODEL_NAME,
    latency_iterations: int = 100,
    requested_by: str = "staging-pipeline",
    inference_service: str = "",
    namespace: str = "",
    storage_uri_prefix: str = "",
) -> StagingOutputs:
    """``inference_service``, ``namespace``, ``storage_uri_prefix``: the promotion target this
    request asks for, by the promotion pipeline's own parameter names; empty ones are not sent,
    so the bot's configured target applies (APPROVAL_BOT_PROMOTION_*). The bot launches a
    request that sets them only where APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES allows."""
    latency = _configure(
        components.latency_test(
            model_name=model_name, data_run_id=data_run_id, iterations=latency_iterations
        )
    )
    shadow = _configure(
        components.shadow_test(
            model_name=model_name,
            model_version=latency.outputs["model_version"],
            data_run_id=data_run_id,
        )
    )
    notify = _configure(
        components.notify_approval_bot(
            model_name=model_name,
            model_version=latency.outputs["model_version"],
            challenger_run_id=latency.outputs["challenger_run_id"],
            data_run_id=data_run_id,
            staging_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            requested_by=requested_by,
            latency_p99_ms=latency.outputs["latency_p99_ms"],
            disagreement_rate=shadow.outputs["disagreement_rate"],
            challenger_accuracy=shadow.outputs["challenger_accuracy"],
            champion_accuracy=shadow.outputs["champion_accuracy"],
            inference_service=inference_service,
            namespace=namespace,
            storage_uri_prefix=storage_uri_prefix,
            latencies_ms=latency.outputs["latencies_ms"],
            comparison=shadow.outputs["comparison"],
        ),
        bot=True,
    )
    return StagingOutputs(
        model_version=latency.outputs["model_version"],
        latency_p99_ms=latency.outputs["latency_p99_ms"],
        disagreement_rate=shadow.outputs["disagreement_rate"],
        challenger_accuracy=shadow.outputs["challenger_accuracy"],
        champion_accuracy=shadow.outputs["champion_accuracy"],
        gates_passed=notify.outputs["gates_passed"],
        approval_request_id=notify.outputs["approval_request_id"],
    )


@dsl.pipeline(
    name="iris-promotion",
    description=(
        "Verify the approval, move @champion, patch the KServe InferenceService and wait until "
        "it is Ready; on failure put aliases and InferenceService back and fail with the reason."
    ),
)
def promotion_pipeline(
    model_name: str,
    model_version: str,
    data_run_id: str,
    approval_request_id: str,
    deploy_target: str = "kserve",
    inference_service: str = "iris-serving",
    namespace: str = "",
    storage_uri_prefix: str = STORAGE_URI_PREFIX,
    ready_timeout_seconds: int = READY_TIMEOUT_SECONDS,
    canary_steps: str = "",
    canary_dwell_seconds: int = CANARY_DWELL_SECONDS,
    prometheus_url: str = "",
    canary_checks: str = "",
    divergence_id: str = "",
) -> PromotionOutputs:
    verify = _configure(
        components.verify_approval(
            approval_request_id=approval_request_id,
            model_name=model_name,
            model_version=model_version,
            data_run_id=data_run_id,
            deploy_target=deploy_target,
            divergence_id=divergence_id,
        ),
        bot=True,
    )
    promoted = _configure(
        components.promote(
            model_name=model_name,
            model_version=model_version,
            deploy_target=deploy_target,
            inference_service=inference_service,
            namespace=namespace,
            storage_uri_prefix=storage_uri_prefix,
            ready_timeout_seconds=ready_timeout_seconds,
            approval_request_id=approval_request_id,
            canary_steps=canary_steps,
            canary_dwell_seconds=canary_dwell_seconds,
            prometheus_url=prometheus_url,
            canary_checks=canary_checks,
            divergence_id=divergence_id,
        ).after(verify),
        bot=True,  # a canary reads its control signal and reports its steps to the bot
    )
    return PromotionOutputs(
        champion_version=promoted.outputs["champion_version"],
        archived_version=promoted.outputs["archived_version"],
        storage_uri=promoted.outputs["storage_uri"],
    )


PIPELINES = {
    "data": data_pipeline,
    "training": training_pipeline,
    "staging": staging_pipeline,
    "promotion": promotion_pipeline,
}
