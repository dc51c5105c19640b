"""The model the training pipeline logs loads and answers in the serving runtime we deploy.

The ServingRuntime of charts/approval-bot-serving runs MLServer + mlserver-mlflow from the
Dockerfile's ``serving`` target, i.e. requirements/serving.txt. This test installs exactly that
into its own virtualenv (cached outside the checkout, keyed by the pins; built when missing),
trains and registers a model with the real data and training pipelines (kfp.local) against a
real MLflow server, copies the version's artifacts to a folder as KServe's storage initializer
copies ``storageUri`` to /mnt/models, starts the rendered ServingRuntime's command with its
environment on 127.0.0.1, and checks that ``POST /v2/models/iris-serving/infer`` answers what
the pipeline's own evaluation (staging's ``mlflow.pyfunc`` predictions on the test split)
predicts: as a plain HTTP/1.1 client, and as Knative's queue-proxy would for the protocol the
runtime's port name declares. Before the first promotion there is no model: the same command
must then start and stay up instead of exiting (a crash-looping predictor).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.helm import MINIO_SECRETS, MINIO_VALUES, ROOT, SERVING_CHART, template
from tests.support.mlflow_server import mlflow_server
from tests.support.processes import free_port, http_responds, running_process

# The first test here to run sets up the serving venv when the cache has none (pip, up to 900 s)
# and trains the model: 6.5 minutes measured on four xdist workers of a busy two-core machine,
# near the suite's 600 s per test.
pytestmark = pytest.mark.timeout(1200)

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
    cache.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers (and a second checkout's run) share this cache: one builds, the
    # others wait for it, then find it complete. The lock goes with the process that holds it.
    with (cache / f"serving-venv-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            build_serving_venv(venv)
    return venv


def build_serving_venv(venv: Path) -> None:
    """Install requirements/serving.txt in a fresh venv, renamed to ``venv`` when complete."""
    building = venv.with_name(f"{venv.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
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


@pytest.fixture(scope="module")
def venv() -> Path:
    return serving_venv()


def test_the_serving_venv_is_built_under_a_lock_once(tmp_path, monkeypatch) -> None:
    """pytest-xdist workers share the cache: a second builder must wait, then reuse it."""
    monkeypatch.setenv("APPROVAL_BOT_SERVING_VENV_CACHE", str(tmp_path))
    builds: list[Path] = []

    def build(venv: Path) -> None:
        [lock] = tmp_path.glob("*.lock")
        with lock.open("w") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another worker would wait
        builds.append(venv)
        venv.mkdir()
        (venv / ".complete").touch()

    monkeypatch.setattr(sys.modules[__name__], "build_serving_venv", build)
    assert serving_venv() == serving_venv() == builds[0]
    assert len(builds) == 1


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
    rendered = template(SERVING_CHART, MINIO_VALUES, set_values=MINIO_SECRETS, namespace="models")
    [container] = rendered.one("ServingRuntime")["spec"]["containers"]
    return dict(container)


@contextmanager
def runtime(
    venv: Path, models: Path, workdir: Path, ready_path: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The rendered ServingRuntime's command and environment on 127.0.0.1, with ``models``
    where KServe mounts /mnt/models (the model's files, or nothing before a promotion)."""
    container = runtime_container()
    ports = {
        "MLSERVER_HTTP_PORT": free_port(),
        "MLSERVER_GRPC_PORT": free_port(),
        "MLSERVER_METRICS_PORT": free_port(),
    }
    env = {e["name"]: e["value"] for e in container["env"]}
    env = {
        k: v.replace("{{.Name}}", SERVICE).replace("/mnt/models", str(models))
        for k, v in env.items()
    }
    env.update({k: str(v) for k, v in ports.items()})
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"  # `mlserver` is the venv's
    command = [part.replace("/mnt/models", str(models)) for part in container["command"]]
    url = f"http://127.0.0.1:{ports['MLSERVER_HTTP_PORT']}"
    with running_process(
        command,
        log_path=workdir / "mlserver.log",
        env=env,
        cwd=workdir,
        ready=lambda: http_responds(f"{url}{ready_path}"),
        description=f"MLServer at {url} answering {ready_path}",
        startup_timeout=180,
    ) as process:
        yield url, process


@pytest.fixture(scope="module")
def served(
    venv: Path, trained: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The ServingRuntime's command and environment, run on 127.0.0.1 against the model."""
    workdir = tmp_path_factory.mktemp("mlserver")
    with runtime(venv, trained["models"], workdir, f"/v2/models/{SERVICE}/ready") as (url, _):
        yield url


def inference_body(frame: Any) -> dict[str, Any]:
    return {
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


def infer(url: str, frame: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/v2/models/{SERVICE}/infer",
        data=json.dumps(inference_body(frame)).encode(),
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


# How Knative's queue-proxy speaks to the user container, by the name of its port (Knative's
# runtime contract, knative/serving docs/runtime-contract.md, "Protocols and Ports"): `http1`
# is HTTP/1.1 with no attempt to upgrade to h2c; `h2c` is HTTP/2 "with prior knowledge" (the
# HTTP/2 spec's section 3.4 then, RFC 9113 section 3.3 now: the client's first bytes are the
# HTTP/2 preface, no Upgrade). Developers "MUST NOT set the name field to arbitrary values";
# KServe copies the ServingRuntime's container ports into the Knative revision unchanged.
KNATIVE_PROTOCOLS = {"http1": "HTTP/1.1", "h2c": "HTTP/2"}


def queue_proxy(port_name: str) -> httpx.Client:
    """An HTTP client that speaks what the queue-proxy would for ``port_name``."""
    assert port_name in KNATIVE_PROTOCOLS, f"Knative defines no port name {port_name!r}"
    if port_name == "h2c":  # httpx: HTTP/2 only over http:// is prior knowledge
        return httpx.Client(http1=False, http2=True, timeout=30)
    return httpx.Client(http1=True, http2=False, timeout=30)


def runtime_port_name() -> str:
    [port] = runtime_container()["ports"]
    return str(port["name"])


def test_the_runtime_answers_the_protocol_its_port_name_declares_to_knative(
    served: str, trained: dict[str, Any]
) -> None:
    name = runtime_port_name()
    with queue_proxy(name) as client:
        response = client.post(
            f"{served}/v2/models/{SERVICE}/infer", json=inference_body(trained["x_test"])
        )

    assert response.http_version == KNATIVE_PROTOCOLS[name]
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    assert output["data"] == trained["predictions"]


def test_an_h2c_declaration_would_fail_against_mlservers_http1_server(served: str) -> None:
    """What the queue-proxy would meet with the port named h2c (the old chart): MLServer's
    REST server (uvicorn) does not speak HTTP/2, so the port must not say it does."""
    with queue_proxy("h2c") as client, pytest.raises(httpx.HTTPError):
        client.get(f"{served}/v2/models/{SERVICE}/ready")


def test_before_the_first_promotion_the_runtime_starts_without_a_model(
    venv: Path, tmp_path: Path
) -> None:
    """The placeholder InferenceService has no storageUri, so KServe mounts no model at
    /mnt/models: MLServer, told to load one there, would exit and the predictor crash-loop."""
    nothing = tmp_path / "mnt" / "models"  # not even the folder: no storage initializer ran
    with runtime(venv, nothing, tmp_path, "/v2/health/ready") as (url, process):
        with queue_proxy(runtime_port_name()) as client:
            # The model the environment names is known but never loaded (told to load it,
            # MLServer lists it LOADING, fails on the missing folder and shuts down)
            index = client.post(f"{url}/v2/repository/index", json={})
            live = client.get(f"{url}/v2/health/live")
            model = client.get(f"{url}/v2/models/{SERVICE}/ready")
        log = (tmp_path / "mlserver.log").read_text(errors="replace")

        assert index.status_code == 200
        assert [(m["name"], m["state"]) for m in index.json()] == [(SERVICE, "UNAVAILABLE")]
        assert live.status_code == 200
        assert model.status_code != 200  # no model until a promotion sets storageUri
        assert process.poll() is None
        assert "failed to load" not in log
