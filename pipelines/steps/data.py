"""Data runs in MLflow: log a validated dataset, and load it back (verified) for later steps."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pipelines.errors import DataIntegrityError
from pipelines.steps import dataset
from pipelines.steps.runtime import tracking_uri

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DATA_EXPERIMENT = "iris-data"
ARTIFACT_DIR = "dataset"
ARTIFACT_FILE = "iris.csv"
SHA256_PARAM = "dataset_sha256"
VALIDATION_TAG = "data.validation"
DATASET_NAME = "iris"


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """The canonical on-disk form of a dataset (its bytes are what the sha256 covers)."""
    dataset.normalise(frame).to_csv(path, index=False)


def load_source(source: str, out_path: str | Path) -> int:
    """Load iris (or the CSV at ``source``) and write it to ``out_path`` unchanged; return rows."""
    frame = dataset.load_frame(source)
    frame.to_csv(out_path, index=False)
    log.info("loaded %d rows from %s", len(frame), source or "sklearn.datasets.load_iris")
    return len(frame)


def validate_file(path: str | Path) -> list[dataset.CheckResult]:
    """Validate a CSV; raises ``DataValidationError`` naming the failed checks."""
    import pandas as pd

    results = dataset.validate(pd.read_csv(path))
    for result in results:
        log.info("check %s passed: %s", result.name, result.detail)
    return results


def log_dataset(
    path: str | Path, *, source: str = "", experiment_name: str = DATA_EXPERIMENT
) -> str:
    """Validate the CSV at ``path`` again and log it as a new data run; return the run id.

    The run holds the canonical CSV as an artifact, its sha256 as a param, the check results,
    an MLflow dataset input, and the tag ``data.validation=passed`` that training requires.
    """
    import mlflow
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas

    mlflow.set_tracking_uri(tracking_uri())
    frame = pd.read_csv(path)
    checks = dataset.validate(frame)  # never log data that does not pass, whoever calls this
    frame = dataset.normalise(frame)
    mlflow.set_experiment(experiment_name)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="iris-data") as run:
        csv_path = Path(tmp) / ARTIFACT_FILE
        write_csv(frame, csv_path)
        digest = dataset.sha256_file(csv_path)
        mlflow.log_artifact(str(csv_path), artifact_path=ARTIFACT_DIR)
        mlflow.log_params(
            {
                SHA256_PARAM: digest,
                "source": source or "sklearn.datasets.load_iris",
                "rows": len(frame),
                "features": ",".join(dataset.FEATURES),
                "target": dataset.TARGET,
            }
        )
        mlflow.log_dict(
            {"checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks]},
            f"{ARTIFACT_DIR}/validation.json",
        )
        mlflow.log_input(
            from_pandas(
                frame,
                source=dataset_source(f"{run.info.artifact_uri}/{ARTIFACT_DIR}/{ARTIFACT_FILE}"),
                targets=dataset.TARGET,
                name=DATASET_NAME,
                digest=digest[:36],
            ),
            context="validated",
        )
        mlflow.set_tags({VALIDATION_TAG: "passed", "dataset.sha256": digest})
        log.info(
            "logged dataset (%d rows, sha256 %s) as data run %s",
            len(frame),
            digest,
            run.info.run_id,
        )
        return str(run.info.run_id)


def dataset_source(artifact_uri: str) -> Any:
    """An MLflow dataset source for a logged artifact.

    MLflow has no resolver for ``mlflow-artifacts:/`` URIs, so those become the HTTP URL the
    tracking server serves the artifact at; anything unresolvable falls back to the code source.
    """
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.exceptions import MlflowException

    parsed = urlparse(artifact_uri)
    server = tracking_uri()
    if parsed.scheme == "mlflow-artifacts" and server.startswith(("http://", "https://")):
        path = parsed.path.lstrip("/")
        return HTTPDatasetSource(  # type: ignore[no-untyped-call]
            f"{server.rstrip('/')}/api/2.0/mlflow-artifacts/artifacts/{path}"
        )
    try:
        return resolve_dataset_source(artifact_uri)
    except MlflowException:
        return None


def load_data_run(data_run_id: str) -> pd.DataFrame:
    """The dataset of a data run, after checking it was validated and is byte-for-byte unchanged."""
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    try:
        run = client.get_run(data_run_id)
    except MlflowException as error:
        raise DataIntegrityError(f"data run {data_run_id!r} not found: {error.message}") from error
    if run.data.tags.get(VALIDATION_TAG) != "passed":
        raise DataIntegrityError(
            f"data run {data_run_id!r} has no '{VALIDATION_TAG}=passed' tag: it was not produced "
            "by a successful data pipeline, so nothing may train on it"
        )
    expected = run.data.params.get(SHA256_PARAM)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=data_run_id, artifact_path=f"{ARTIFACT_DIR}/{ARTIFACT_FILE}", dst_path=tmp
        )
        actual = dataset.sha256_file(local)
        if actual != expected:
            raise DataIntegrityError(
                f"data run {data_run_id!r}: artifact sha256 {actual} "
                f"does not match the logged {expected}"
            )
        frame = pd.read_csv(local)
    dataset.validate(frame)
    return dataset.normalise(frame)
