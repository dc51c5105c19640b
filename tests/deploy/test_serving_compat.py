"""The model the training pipeline logs loads and answers in the serving runtime we deploy.

The ServingRuntime of charts/approval-bot-serving runs MLServer + mlserver-mlflow from the
Dockerfile's ``serving`` target, i.e. requirements/serving.txt. This test installs exactly that
into its own virtualenv (cached outside the checkout, keyed by the pins; built when missing),
trains and registers a model with the real data and training pipelines (kfp.local) against a
real MLflow server, copies the version's artifacts to a folder as KServe's storage initializer
copies ``storageUri`` to /mnt/models, starts the rendered ServingRuntime's command with its
environment on 127.0.0.1, and checks that ``POST /v2/models/iris-serving/infer`` answers what
the pipeline's own evaluation (staging's ``mlflow.pyfunc`` predictions on the test split)
predicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helm import MINIO_VALUES, ROOT, SERVING_CHART, template
from tests.support.mlflow_server import mlflow_server
from tests.support.processes import free_port, http_responds, running_process

SERVICE = "iris-serving"  # the InferenceService name KServe gives MLServer's model
REQUIREMENTS = [ROOT / "requirements" / "serving.txt", ROOT / "requirements" / "model.txt"]


def serving_venv() -> Path:
    """A virtualenv with requirements/serving.txt, built once per set of pins and Python."""
    key = hashlib.sha256(
        b"".join(p.read_bytes() for p in REQUIREMENTS) + sys.version.encode()
    ).hexdigest()[:16]
    cache = Path(
        os.environ.get("APPROVAL_BOT_SERVING_VENV_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "approval-bot"
    )
    venv = cache / f"serving-venv-{key}"
    if (venv / ".complete").exists():
        return venv
    building = cache / f"serving-venv-{key}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    install = subprocess.run(
        [*pip, "--requirement", str(REQUIREMENTS[0])],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"installing requirements/serving.txt failed:\n{install.stderr[-3000:]}")
    # The venv's scripts name their own path: rebuild them under the final name.
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)
    subprocess.run([sys.executable, "-m", "venv", "--upgrade", str(venv)], check=True, timeout=120)
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            if text.startswith(b"#!") and str(building).encode() in text:
                script.write_bytes(text.replace(str(building).encode(), str(venv).encode()))
    (venv / ".complete").touch()
    return venv


@pytest.fixture(scope="module")
def venv() -> Path:
    return serving_venv()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A model from the real data and training pipelines (kfp.local), and the pipeline's
    own predictions for it. The pipelines run as subprocesses, so MLflow's process-wide
    active experiment is left alone for the other tests."""
    import mlflow
    import numpy as np

    from pipelines.runner import run_local
    from pipelines.steps import data, dataset, registry, staging

    workdir = tmp_path_factory.mktemp("serving-compat")
    with mlflow_server(workdir / "mlflow") as server, pytest.MonkeyPatch.context() as patch:
        root = workdir / "kfp"
        data_run_id = run_local("data", {}, pipeline_root=root, env=server.env)["data_run_id"]
        training = run_local(
            "training",
            {"data_run_id": data_run_id, "model_name": "iris-classifier"},
            pipeline_root=root,
            env=server.env,
        )
        version = training["model_version"]
        patch.setenv("MLFLOW_TRACKING_URI", server.url)
        client = registry.client()
        # KServe's storage initializer copies what is under storageUri into /mnt/models.
        downloaded = mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_model_version_download_uri("iris-classifier", version),
            dst_path=str(workdir / "download"),
        )
        models = workdir / "mnt" / "models"
        shutil.copytree(downloaded, models)
        split = dataset.split(data.load_data_run(data_run_id))
        model = mlflow.pyfunc.load_model(registry.model_uri("iris-classifier", version))
        shadow = staging.shadow_test("iris-classifier", version, data_run_id)
        yield {
            "models": models,
            "x_test": split.x_test,
            "y_test": split.y_test.tolist(),
            "predictions": np.asarray(model.predict(split.x_test)).tolist(),
            "accuracy": shadow.challenger_accuracy,
            "trained_accuracy": training["accuracy"],
        }


def runtime_container() -> dict[str, Any]:
    runtime = template(SERVING_CHART, MINIO_VALUES, namespace="models").one("ServingRuntime")
    [container] = runtime["spec"]["containers"]
    return dict(container)


@pytest.fixture(scope="module")
def served(
    venv: Path, trained: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The ServingRuntime's command and environment, run on 127.0.0.1 against the model."""
    container = runtime_container()
    ports = {
        "MLSERVER_HTTP_PORT": free_port(),
        "MLSERVER_GRPC_PORT": free_port(),
        "MLSERVER_METRICS_PORT": free_port(),
    }
    models = str(trained["models"])
    env = {e["name"]: e["value"] for e in container["env"]}
    env = {
        k: v.replace("{{.Name}}", SERVICE).replace("/mnt/models", models) for k, v in env.items()
    }
    env.update({k: str(v) for k, v in ports.items()})
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    command = [part.replace("/mnt/models", models) for part in container["command"]]
    command[0] = str(venv / "bin" / command[0])
    url = f"http://127.0.0.1:{ports['MLSERVER_HTTP_PORT']}"
    workdir = tmp_path_factory.mktemp("mlserver")
    with running_process(
        command,
        log_path=workdir / "mlserver.log",
        env=env,
        cwd=workdir,
        ready=lambda: http_responds(f"{url}/v2/models/{SERVICE}/ready"),
        description=f"MLServer serving {SERVICE} at {url}",
        startup_timeout=180,
    ):
        yield url


def infer(url: str, frame: Any) -> dict[str, Any]:
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": column,
                "shape": [len(frame)],
                "datatype": "FP64",
                "data": frame[column].tolist(),
            }
            for column in frame.columns
        ],
    }
    request = urllib.request.Request(
        f"{url}/v2/models/{SERVICE}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.load(response))


def test_the_runtime_answers_what_the_pipeline_evaluated(
    served: str, trained: dict[str, Any]
) -> None:
    answer = infer(served, trained["x_test"])

    assert answer["model_name"] == SERVICE
    [output] = answer["outputs"]
    assert output["datatype"] == "INT64"
    assert output["data"] == trained["predictions"]
    served_accuracy = sum(
        p == y for p, y in zip(output["data"], trained["y_test"], strict=True)
    ) / len(trained["y_test"])
    assert served_accuracy == pytest.approx(trained["accuracy"])
    assert served_accuracy == pytest.approx(trained["trained_accuracy"])


def test_the_runtime_describes_the_model_by_its_signature(
    served: str, trained: dict[str, Any]
) -> None:
    with urllib.request.urlopen(f"{served}/v2/models/{SERVICE}", timeout=30) as response:
        metadata = json.load(response)

    assert [i["name"] for i in metadata["inputs"]] == list(trained["x_test"].columns)


def test_the_runtime_has_the_pins_the_model_was_trained_with(
    venv: Path, trained: dict[str, Any]
) -> None:
    logged = (trained["models"] / "requirements.txt").read_text().split()
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            str(ROOT / "scripts" / "check-pins.py"),
            str(trained["models"] / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "scikit-learn==1.7.2" in logged
    assert check.returncode == 0, check.stderr
