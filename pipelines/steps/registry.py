"""Small helpers over the MLflow model registry (aliases are read with
``get_registered_model``: ``search_model_versions`` returns them empty)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.errors import ModelNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHALLENGER = "challenger"
CHAMPION = "champion"
ARCHIVED = "archived"


def client() -> MlflowClient:
    """An MlflowClient on ``MLFLOW_TRACKING_URI`` (required); points ``mlflow.*`` there too."""
    import mlflow

    from pipelines.steps.runtime import tracking_uri

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def alias_version(mlflow_client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version holding ``alias`` or None (``get_model_version_by_alias`` would raise)."""
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow_client.get_registered_model(model_name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = model.aliases.get(alias)
    return None if version is None else str(version)


def require_alias(mlflow_client: MlflowClient, model_name: str, alias: str) -> str:
    """The version holding ``alias``; ``ModelNotFoundError`` when nobody holds it."""
    version = alias_version(mlflow_client, model_name, alias)
    if version is None:
        raise ModelNotFoundError(f"registered model {model_name!r} has no @{alias} alias")
    return version


def require_version(mlflow_client: MlflowClient, model_name: str, version: str) -> None:
    """``ModelNotFoundError`` (a message for the run's error) unless the version exists."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_model_version(model_name, version)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise ModelNotFoundError(
            f"registered model {model_name!r} has no version {version!r}: nothing to promote"
        ) from error


def model_uri(model_name: str, version: str) -> str:
    """The ``models:/`` URI of one version (pinned, unlike an alias URI)."""
    return f"models:/{model_name}/{version}"
