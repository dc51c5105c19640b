"""What every step needs from its environment: logging and the MLflow tracking URI."""

from __future__ import annotations

import logging
import os

from pipelines.errors import ConfigurationError

SECRET_NAME = "mlops-pipeline-secrets"  # noqa: S105 - a Secret's name, not a secret


def configure_logging() -> None:
    """INFO logs from our modules to the task's output (KFP shows them in the run's logs)."""
    logger = logging.getLogger("pipelines")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    quiet_integer_schema_hint()


def quiet_integer_schema_hint() -> None:
    """Silence MLflow's hint on integer columns: our integers (class labels) are never missing."""
    import warnings

    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")


def require_env(name: str) -> str:
    """The value of a required environment variable, or an error that says where it comes from."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set; on a cluster it comes from the Secret {SECRET_NAME!r}, "
            "locally from the environment"
        )
    return value


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, required: without it MLflow would silently write to ./mlruns."""
    return require_env("MLFLOW_TRACKING_URI")
