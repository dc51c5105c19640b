"""Pipeline test fixtures: real MLflow (+ moto S3), a fake approval bot, a fake Kubernetes API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.pipelines.fakes import FakeApprovalBot
from tests.pipelines.kube_fake import FakeKubernetesApi
from tests.support.mlflow_server import MlflowServer, mlflow_server
from tests.support.moto_s3 import MotoS3, moto_s3_server

NAMESPACE = "models"
INFERENCE_SERVICE = "iris-serving"


@dataclass
class Stack:
    """Everything a local pipeline run talks to, and the environment that points tasks at it."""

    name: str
    mlflow: MlflowServer
    bot: FakeApprovalBot
    kube: FakeKubernetesApi
    pipeline_root: Path
    s3: MotoS3 | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.mlflow.url)

    def run(self, pipeline: str, **params: Any) -> dict[str, Any]:
        from pipelines.runner import run_local

        return run_local(pipeline, params, pipeline_root=self.pipeline_root, env=self.env)


def start_stack(name: str, workdir: Path, resources: ExitStack) -> Stack:
    """MLflow with a local artifact store (``local``) or on moto's S3 (``s3``), plus fresh fakes."""
    bot = resources.enter_context(FakeApprovalBot())
    kube = resources.enter_context(FakeKubernetesApi())
    kube.add_inference_service(NAMESPACE, INFERENCE_SERVICE)
    s3 = None
    server_env: dict[str, str] = {}
    destination = None
    if name == "s3":
        s3 = resources.enter_context(moto_s3_server(workdir, buckets=["mlflow"]))
        server_env = s3.env
        destination = "s3://mlflow/artifacts"
    server = resources.enter_context(
        mlflow_server(workdir / "mlflow", artifacts_destination=destination, env=server_env)
    )
    env = {**server.env, **bot.env, **kube.env}
    return Stack(
        name=name, mlflow=server, bot=bot, kube=kube, pipeline_root=workdir / "kfp", s3=s3, env=env
    )


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One MLflow server with a local artifact store (and fresh fakes), shared by a test module."""
    with ExitStack() as resources:
        yield start_stack("local", tmp_path_factory.mktemp("local-stack"), resources)
