"""Training: three RandomForest configurations, one MLflow run each; the best is @challenger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipelines.steps import dataset, registry
from pipelines.steps.data import load_data_run
from pipelines.steps.runtime import tracking_uri

log = logging.getLogger(__name__)

TRAINING_EXPERIMENT = "iris-training"
MODEL_NAME = "iris-classifier"
MODEL_ARTIFACT = "model"
MODEL_PACKAGES = ("scikit-learn", "cloudpickle", "numpy", "pandas", "scipy")
# Ordered from the cheapest to the largest model: on equal accuracy the first one wins.
CONFIGS: tuple[dict[str, int], ...] = (
    {"n_estimators": 50, "max_depth": 3},
    {"n_estimators": 100, "max_depth": 5},
    {"n_estimators": 200, "max_depth": 7},
)


@dataclass(frozen=True)
class Candidate:
    """One trained configuration as logged in MLflow."""

    run_id: str
    model_uri: str
    accuracy: float
    params: dict[str, int]


@dataclass(frozen=True)
class Registered:
    """The registered challenger."""

    model_version: str
    accuracy: float
    run_id: str


def build_model(n_estimators: int, max_depth: int) -> Any:
    """StandardScaler + RandomForest, seeded."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scaler", StandardScaler()),
            (
                "classifier",
                RandomForestClassifier(
                    n_estimators=n_estimators,
                    max_depth=max_depth,
                    random_state=dataset.RANDOM_STATE,
                ),
            ),
        ]
    )


def model_requirements() -> list[str]:
    """What the model needs at serving time, pinned to the versions that trained it.

    Stated instead of inferred: MLflow's inference imports the model in a subprocess (~6 s
    per model) and would find the same packages (it adds mlflow itself).
    """
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_PACKAGES]


def best(candidates: list[Candidate]) -> Candidate:
    """Highest accuracy; ties go to the earlier (cheaper) configuration."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    return max(enumerate(candidates), key=lambda item: (item[1].accuracy, -item[0]))[1]


def train_candidates(
    data_run_id: str, *, experiment_name: str = TRAINING_EXPERIMENT
) -> list[Candidate]:
    """Train and log every configuration on the data run's training split."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature
    from sklearn.metrics import accuracy_score

    frame = load_data_run(data_run_id)
    parts = dataset.split(frame)
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment_name)
    data_input = from_pandas(frame, targets=dataset.TARGET, name="iris")
    candidates: list[Candidate] = []
    for config in CONFIGS:
        run_name = f"rf-{config['n_estimators']}-{config['max_depth']}"
        with mlflow.start_run(run_name=run_name) as run:
            model = build_model(**config)
            model.fit(parts.x_train, parts.y_train)
            accuracy = float(accuracy_score(parts.y_test, model.predict(parts.x_test)))
            mlflow.log_params(
                {**config, "random_state": dataset.RANDOM_STATE, "test_size": dataset.TEST_SIZE}
            )
            mlflow.log_metric("accuracy", accuracy)
            mlflow.set_tags({"data_run_id": data_run_id})
            mlflow.log_input(data_input, context="training")
            info = mlflow.sklearn.log_model(
                model,
                name=MODEL_ARTIFACT,
                signature=infer_signature(parts.x_train, model.predict(parts.x_train)),
                input_example=parts.x_train.head(2),
                pip_requirements=model_requirements(),
                # skops (MLflow >= 3.14 default) refuses RandomForest; MLServer reads cloudpickle
                serialization_format="cloudpickle",
            )
            log.info("%s: accuracy %.4f (run %s)", run_name, accuracy, run.info.run_id)
            candidates.append(
                Candidate(
                    run_id=run.info.run_id,
                    model_uri=info.model_uri,
                    accuracy=accuracy,
                    params=dict(config),
                )
            )
    return candidates


def register_challenger(
    candidate: Candidate, *, data_run_id: str, model_name: str = MODEL_NAME
) -> Registered:
    """Register ``candidate`` as a new version of ``model_name`` and point @challenger at it.

    A retried task finds the version it registered before (same run id) instead of adding one.
    """
    import mlflow

    client = registry.client()
    existing = [
        v
        for v in client.search_model_versions(f"name = '{model_name}'")
        if v.run_id == candidate.run_id
    ]
    if existing:
        version = str(existing[0].version)
        log.info("run %s is already version %s of %s", candidate.run_id, version, model_name)
    else:
        registered = mlflow.register_model(
            candidate.model_uri,
            model_name,
            tags={"data_run_id": data_run_id, "accuracy": f"{candidate.accuracy:.4f}"},
        )
        version = str(registered.version)
        log.info(
            "registered %s version %s (accuracy %.4f)", model_name, version, candidate.accuracy
        )
    client.set_registered_model_alias(model_name, registry.CHALLENGER, version)
    return Registered(model_version=version, accuracy=candidate.accuracy, run_id=candidate.run_id)


def train_and_register(
    data_run_id: str, *, model_name: str = MODEL_NAME, experiment_name: str = TRAINING_EXPERIMENT
) -> Registered:
    """The whole training step: train every configuration, register the best as @challenger."""
    candidates = train_candidates(data_run_id, experiment_name=experiment_name)
    return register_challenger(best(candidates), data_run_id=data_run_id, model_name=model_name)
