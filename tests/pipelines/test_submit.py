"""``submit`` uploads through ``kfp.Client`` to a fake KFP API on 127.0.0.1 and starts a run."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipelines import cli, kfp_client, runner
from tests.adapters.kfp_fake import FakeKfpApi


@pytest.fixture
def kfp_api() -> Iterator[FakeKfpApi]:
    with FakeKfpApi() as fake:
        yield fake


PARAMS = {
    "model_name": "iris-classifier",
    "model_version": "3",
    "data_run_id": "d1",
    "approval_request_id": "req1",
}


def test_submit_uploads_the_pipeline_and_starts_a_run_with_the_params(kfp_api: FakeKfpApi) -> None:
    submitted = runner.submit("promotion", PARAMS, host=kfp_api.url, experiment="approvals")

    [pipeline] = kfp_api.pipelines.values()
    assert pipeline["display_name"] == "iris-promotion"
    assert [e["display_name"] for e in kfp_api.experiments.values()] == ["approvals"]
    [run] = kfp_api.runs
    assert run["run_id"] == submitted.run_id
    assert run["pipeline_version_reference"] == {
        "pipeline_id": submitted.pipeline_id,
        "pipeline_version_id": submitted.version_id,
    }
    assert run["experiment_id"] == submitted.experiment_id
    assert run["runtime_config"]["parameters"] == PARAMS


def test_an_unchanged_pipeline_reuses_its_version(kfp_api: FakeKfpApi) -> None:
    first = runner.submit("promotion", PARAMS, host=kfp_api.url)
    second = runner.submit("promotion", PARAMS, host=kfp_api.url)
    third = runner.submit("promotion", PARAMS, host=kfp_api.url, image="registry.test/bot:2")

    assert second.version_id == first.version_id
    assert third.version_id != first.version_id  # another image is another version
    assert len(kfp_api.pipelines) == 1
    assert len(kfp_api.runs) == 3


def test_cli_submit_prints_the_run_as_json(
    kfp_api: FakeKfpApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["submit", "data", "--host", kfp_api.url, "--param", "source_csv=s3://bucket/iris.csv"]
    )

    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["run_id"] == kfp_api.runs[0]["run_id"]
    assert kfp_api.runs[0]["runtime_config"]["parameters"] == {"source_csv": "s3://bucket/iris.csv"}


def test_upload_puts_every_pipeline_on_kfp_once(
    kfp_api: FakeKfpApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFP_HOST", kfp_api.url)  # the bot's pod has it set by the chart

    assert cli.main(["upload"]) == 0
    versions = sum(len(v) for v in kfp_api.versions.values())
    assert cli.main(["upload"]) == 0

    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines()[-2:])
    assert [u["name"] for u in first] == [
        "iris-data",
        "iris-training",
        "iris-staging",
        "iris-promotion",
    ]
    assert second == first  # the same code and image: the same versions, nothing new
    assert len(kfp_api.pipelines) == 4
    assert sum(len(v) for v in kfp_api.versions.values()) == versions
    assert kfp_api.runs == []


def test_upload_compiles_for_the_image_the_chart_names(
    kfp_api: FakeKfpApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_PIPELINES_IMAGE", "registry.test/approval-bot:9")
    default = runner.upload_all(host=kfp_api.url, pipelines=["promotion"], image=None)
    assert cli.main(["upload", "promotion", "--host", kfp_api.url]) == 0
    version = kfp_api.versions[default[0].pipeline_id][-1]
    compiled = runner.compile_pipeline(
        "promotion", tmp_path / "p.yaml", image="registry.test/approval-bot:9"
    )

    executors = next(yaml.safe_load_all(compiled.read_text()))["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values()}
    assert images == {"registry.test/approval-bot:9"}
    assert b"image: registry.test/approval-bot:9" in kfp_api.uploads[version["pipeline_version_id"]]
    assert version["display_name"] != default[0].version_name  # another image, another version


SA = "system:serviceaccount:approvals:approval-bot"


@pytest.fixture
def multi_user_kfp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeKfpApi]:
    """Multi-user KFP and a pod with only the projected ServiceAccount token (as the chart
    mounts it): no KFP_TOKEN, no APPROVAL_BOT_KFP_TOKEN."""
    token = tmp_path / "token"
    token.write_text("sa-token-1")
    for name in ("KFP_TOKEN", "APPROVAL_BOT_KFP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    with FakeKfpApi(multi_user=True, tokens={"sa-token-1": SA}, grants={SA: {"team-a"}}) as fake:
        monkeypatch.setenv("KFP_HOST", fake.url)
        yield fake


def test_upload_sends_the_projected_service_account_token(multi_user_kfp: FakeKfpApi) -> None:
    assert cli.main(["upload", "promotion"]) == 0

    [pipeline] = multi_user_kfp.pipelines.values()
    assert pipeline["display_name"] == "iris-promotion"
    calls = [r for r in multi_user_kfp.requests if not r.path.endswith("/healthz")]
    assert calls and {r.headers.get("authorization") for r in calls} == {"Bearer sa-token-1"}


def test_submit_sends_the_projected_service_account_token(
    multi_user_kfp: FakeKfpApi, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["submit", "promotion", "--namespace", "team-a", "--experiment", "approvals"]
    params = [f"--param={k}={v}" for k, v in PARAMS.items()]

    assert cli.main(args + params) == 0, capsys.readouterr().err

    [run] = multi_user_kfp.runs
    assert run["namespace"] == "team-a"
    [create] = multi_user_kfp.created
    assert create.headers["authorization"] == "Bearer sa-token-1"


@pytest.mark.timeout(120)
def test_a_kfp_server_that_never_answers_fails_the_upload_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(kfp_client, "REQUEST_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:  # the kernel accepts connections; nothing ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host = f"http://127.0.0.1:{silent.getsockname()[1]}"

        code = cli.main(["upload", "promotion", "--host", host, "--namespace", "team-a"])

    assert code == 1
    assert "timed out" in capsys.readouterr().err
