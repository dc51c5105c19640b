"""``python -m pipelines``: compile, parameter handling, and run-local's output contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pipelines import cli, runner
from pipelines.errors import DataIntegrityError
from pipelines.steps import data, dataset
from tests.pipelines.conftest import Stack

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def data_runs(stack: Stack) -> list[str]:
    experiment = stack.client().get_experiment_by_name("iris-data")
    if experiment is None:
        return []
    return [r.info.run_id for r in stack.client().search_runs([experiment.experiment_id])]


def test_compile_writes_all_four_with_the_chosen_image(tmp_path: Path) -> None:
    result = run_cli("compile", "--output-dir", str(tmp_path), "--image", "registry.test/bot:1")

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.yaml",
        "promotion.yaml",
        "staging.yaml",
        "training.yaml",
    ]
    for path in tmp_path.iterdir():
        spec, _platform = yaml.safe_load_all(path.read_text())
        executors = spec["deploymentSpec"]["executors"].values()
        assert {e["container"]["image"] for e in executors} == {"registry.test/bot:1"}


def secret_env(platform: dict[str, Any], task: str) -> dict[str, bool]:
    """env var → optional, for the Secret mounts of one task."""
    config = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][f"exec-{task}"]
    return {
        item["envVar"]: bool(mount.get("optional"))
        for mount in config["secretAsEnv"]
        if mount["secretName"] == "mlops-pipeline-secrets"
        for item in mount["keyToEnv"]
    }


def test_tasks_read_their_settings_from_the_pipeline_secret(tmp_path: Path) -> None:
    path = runner.compile_pipeline("staging", tmp_path / "staging.yaml")
    spec, platform = yaml.safe_load_all(path.read_text())

    notify = secret_env(platform, "notify-approval-bot")
    assert notify["MLFLOW_TRACKING_URI"] is False
    assert notify["APPROVAL_BOT_URL"] is False
    assert notify["APPROVAL_BOT_API_TOKEN"] is False
    assert notify["MLFLOW_TRACKING_PASSWORD"] is True
    assert "APPROVAL_BOT_API_TOKEN" not in secret_env(platform, "latency-test")
    tasks = spec["root"]["dag"]["tasks"]
    assert all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks.values())


def test_promotion_guard_task_gets_the_bot_token(tmp_path: Path) -> None:
    path = runner.compile_pipeline("promotion", tmp_path / "promotion.yaml")
    _, platform = yaml.safe_load_all(path.read_text())

    assert secret_env(platform, "verify-approval")["APPROVAL_BOT_API_TOKEN"] is False


def test_params_are_typed_from_the_pipeline_signature() -> None:
    params = runner.parse_params(
        "staging", ["data_run_id=abc", "latency_iterations=7", "model_name=m"]
    )

    assert params == {"data_run_id": "abc", "latency_iterations": 7, "model_name": "m"}


@pytest.mark.parametrize(
    ("name", "pairs", "message"),
    [
        ("staging", ["data_run_id=a", "nope=1"], "has no parameter 'nope'"),
        ("staging", ["data_run_id=a", "latency_iterations=many"], "must be Integer"),
        ("staging", [], "needs --param for data_run_id"),
        ("promotion", ["model_name"], "expects KEY=VALUE"),
        ("deploy", [], "unknown pipeline 'deploy'"),
    ],
)
def test_bad_params_are_usage_errors(name: str, pairs: list[str], message: str) -> None:
    with pytest.raises(runner.UsageError, match=message):
        runner.parse_params(name, pairs)


def test_cli_reports_usage_errors_on_stderr_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run-local", "training"]) == 2
    assert "needs --param for data_run_id" in capsys.readouterr().err


def test_run_local_prints_the_outputs_as_json_on_the_last_line(local_stack: Stack) -> None:
    result = run_cli(
        "run-local", "data", "--pipeline-root", str(local_stack.pipeline_root), env=local_stack.env
    )

    assert result.returncode == 0, result.stderr[-2000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(outputs) == ["data_run_id"]
    assert outputs["data_run_id"] in data_runs(local_stack)


def test_a_failed_check_stops_the_data_pipeline_before_anything_is_logged(
    local_stack: Stack, tmp_path: Path
) -> None:
    bad = dataset.load_iris_frame()
    bad.loc[5, "petal_width_cm"] = None
    bad.to_csv(tmp_path / "bad.csv", index=False)
    runs_before = data_runs(local_stack)

    result = run_cli(
        "run-local",
        "data",
        "--param",
        f"source_csv={tmp_path / 'bad.csv'}",
        "--pipeline-root",
        str(local_stack.pipeline_root),
        env=local_stack.env,
    )

    assert result.returncode == 1
    assert "check 'nulls' failed: 1 null value(s): {'petal_width_cm': 1}" in result.stdout
    assert "Inner task failed: 'validate-data'" in result.stderr
    assert "{" not in result.stdout.strip().splitlines()[-1]  # no outputs printed
    assert data_runs(local_stack) == runs_before  # log-dataset never ran: nothing to train on


def test_training_refuses_a_data_run_that_was_not_validated(
    local_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_stack.mlflow.url)
    mlflow.set_tracking_uri(local_stack.mlflow.url)
    data.write_csv(dataset.load_iris_frame(), tmp_path / "iris.csv")
    with mlflow.start_run() as run:  # looks like a data run, but no data pipeline made it
        mlflow.log_artifact(str(tmp_path / "iris.csv"), artifact_path="dataset")
        mlflow.log_param("dataset_sha256", dataset.sha256_file(tmp_path / "iris.csv"))

    with pytest.raises(DataIntegrityError, match=r"no 'data\.validation=passed' tag"):
        data.load_data_run(run.info.run_id)


def test_training_refuses_a_data_artifact_that_changed(
    local_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_stack.mlflow.url)
    mlflow.set_tracking_uri(local_stack.mlflow.url)
    data.write_csv(dataset.load_iris_frame(), tmp_path / "iris.csv")
    run_id = data.log_dataset(tmp_path / "iris.csv", experiment_name="iris-data-tampered")
    changed = pd.read_csv(tmp_path / "iris.csv").iloc[:-1]
    changed.to_csv(tmp_path / "iris.csv", index=False)
    with mlflow.start_run(run_id=run_id):  # overwrite the artifact behind the recorded hash
        mlflow.log_artifact(str(tmp_path / "iris.csv"), artifact_path="dataset")

    with pytest.raises(DataIntegrityError, match="does not match the logged"):
        data.load_data_run(run_id)
