"""A real MLflow tracking server on 127.0.0.1 for tests.

    with mlflow_server(tmp_path) as server:
        client = MlflowClient(tracking_uri=server.url)

The server uses a sqlite backend in ``workdir``, serves artifacts itself (``mlflow-artifacts:/``
URIs, as in production behind MinIO) and stores them in ``workdir/artifacts`` unless an
``artifacts_destination`` such as ``s3://mlflow/artifacts`` is given (then pass the S3
endpoint and credentials in ``env``, see ``tests.support.moto_s3``). Background job execution
is off and there is one worker, which keeps it at about 0.5 GB and ~6 s to healthy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, http_responds, running_process


@dataclass(frozen=True)
class MlflowServer:
    """Where a running test server listens and keeps its state."""

    url: str
    backend_store_uri: str
    artifacts_destination: str
    log_path: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment a client process needs to use this server."""
        return {"MLFLOW_TRACKING_URI": self.url}


@contextmanager
def mlflow_server(
    workdir: Path,
    *,
    artifacts_destination: str | None = None,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 90.0,
    port: int | None = None,
) -> Iterator[MlflowServer]:
    """Start ``mlflow server`` on a free port, wait for ``/health``, yield it, stop it.

    Pass ``port`` (and the same ``workdir``) to bring a stopped server back where it was.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    backend_store_uri = f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    destination = artifacts_destination or str((workdir / "artifacts").resolve())
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        destination,
    ]
    server_env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    log_path = workdir / "mlflow-server.log"
    with running_process(
        command,
        log_path=log_path,
        env=server_env,
        cwd=workdir,
        ready=lambda: http_responds(f"{url}/health"),
        description=f"MLflow server at {url} to become healthy",
        startup_timeout=startup_timeout,
    ):
        yield MlflowServer(
            url=url,
            backend_store_uri=backend_store_uri,
            artifacts_destination=destination,
            log_path=log_path,
        )
