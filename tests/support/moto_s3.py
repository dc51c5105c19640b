"""moto's S3 server on 127.0.0.1 for tests that need real ``s3://`` URIs (MinIO stand-in).

    with moto_s3_server(tmp_path, buckets=["mlflow"]) as s3:
        with mlflow_server(tmp_path, artifacts_destination="s3://mlflow/artifacts", env=s3.env):
            ...
        s3.client().list_objects_v2(Bucket="mlflow")

Credentials are dummies; ``env`` carries them together with ``MLFLOW_S3_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_S3`` so that both MLflow and plain boto3 talk to this server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import free_port, http_responds, running_process

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
REGION = "us-east-1"


@dataclass(frozen=True)
class MotoS3:
    """A running moto S3 endpoint."""

    endpoint_url: str
    log_path: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for processes (MLflow server, boto3) that should use this endpoint."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client bound to this endpoint."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All object keys in ``bucket`` under ``prefix``."""
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]


@contextmanager
def moto_s3_server(
    workdir: Path,
    *,
    buckets: Iterable[str] = (),
    startup_timeout: float = 30.0,
) -> Iterator[MotoS3]:
    """Start ``moto.server`` on a free port, create ``buckets``, yield the endpoint, stop it."""
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "moto-server.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running_process(
        command,
        log_path=log_path,
        ready=lambda: http_responds(f"{endpoint_url}/moto-api/", expect_status=None),
        description=f"moto S3 server at {endpoint_url} to answer",
        startup_timeout=startup_timeout,
    ):
        s3 = MotoS3(endpoint_url=endpoint_url, log_path=log_path)
        client = s3.client()
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield s3
