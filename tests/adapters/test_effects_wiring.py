"""bootstrap.build wires the MLflow handlers and the launcher from settings alone."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kfp.handler import LaunchPromotion
from bot.adapters.kfp.local import LocalLauncher
from bot.adapters.kfp.remote import KfpLauncher
from bot.adapters.mlflow.archive import ChallengerArchive
from bot.adapters.mlflow.decisions import DecisionLog
from bot.bootstrap import Container, build
from bot.domain.effects import ARCHIVE_CHALLENGER, LAUNCH_PROMOTION, LOG_DECISION
from bot.domain.errors import ConfigError
from bot.settings import Settings


@pytest.fixture
def make(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    built: list[Container] = []

    def _make(**fields: Any) -> Container:
        settings = Settings(database_url=sqlite_url, **fields)
        container = build(settings, require_head=False)
        built.append(container)
        return container

    yield _make
    for container in built:
        container.close()


def test_nothing_configured_logs_the_decision_effects(make: Any) -> None:
    container = make(launcher="local")

    assert container.launcher is None, "local needs MLflow for the promotion pipeline"
    for kind in (LOG_DECISION, ARCHIVE_CHALLENGER, LAUNCH_PROMOTION):
        assert kind not in container.dispatcher.stages  # the "*" handler logs them


def test_mlflow_and_a_remote_kfp(make: Any, tmp_path: Path) -> None:
    container = make(
        mlflow_tracking_uri="http://mlflow.test:5000",
        audit_experiment="audits",
        alias_rejected="refused",
        launcher="kfp",
        kfp_host="http://kfp.test",
        kfp_namespace="team-a",
        kfp_token_path=str(tmp_path / "token"),
        promotion_namespace="models",
    )

    handlers = {k: getattr(s, "handler", s) for k, s in container.dispatcher.stages.items()}
    assert isinstance(handlers[LOG_DECISION], DecisionLog)
    assert handlers[LOG_DECISION].experiment == "audits"
    assert isinstance(handlers[ARCHIVE_CHALLENGER], ChallengerArchive)
    assert handlers[ARCHIVE_CHALLENGER].aliases.rejected == "refused"
    launcher = container.launcher
    assert isinstance(launcher, KfpLauncher)
    assert launcher.pipelines == ("promotion", "iris-promotion")
    assert (launcher.host, launcher.namespace) == ("http://kfp.test", "team-a")
    assert launcher.defaults == {
        "namespace": "models",
        "inference_service": "iris-serving",
        "storage_uri_prefix": "s3://mlflow/artifacts",
    }
    assert launcher.timeout_seconds == 2.0
    assert isinstance(handlers[LAUNCH_PROMOTION], LaunchPromotion)


def test_local_launcher_with_mlflow_points_the_guard_at_this_bot(make: Any) -> None:
    container = make(
        mlflow_tracking_uri="http://mlflow.test:5000",
        public_url="http://bot.test:8080",
        api_token="abt_secret",
        local_pipeline_root="var/elsewhere",
    )

    launcher = container.launcher
    assert isinstance(launcher, LocalLauncher)
    assert launcher.env == {
        "MLFLOW_TRACKING_URI": "http://mlflow.test:5000",
        "APPROVAL_BOT_URL": "http://bot.test:8080",
        "APPROVAL_BOT_API_TOKEN": "abt_secret",
    }
    assert launcher.defaults == {
        "deploy_target": "none",
        "inference_service": "iris-serving",
        "storage_uri_prefix": "s3://mlflow/artifacts",
    }  # no namespace configured: the pipeline's own default
    assert launcher.root == Path("var/elsewhere")


def test_launcher_none_and_a_typo(make: Any) -> None:
    assert make(launcher="none", mlflow_tracking_uri="http://m.test").launcher is None
    with pytest.raises(ConfigError, match="APPROVAL_BOT_LAUNCHER must be one of"):
        make(launcher="kubeflow")


def test_mlflow_needs_a_tracking_server(make: Any) -> None:
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI must be an MLflow tracking server"):
        make(mlflow_tracking_uri="sqlite:///var/mlflow.db", launcher="none")


@pytest.mark.parametrize("module", ["mlflow", "sklearn"])
def test_the_local_launcher_refuses_to_start_without_the_pipelines_packages(
    make: Any, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """The bot's image leaves the pipelines' extra out: a local launcher there would fail
    every promotion, so the process refuses to start, saying what to do."""
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: find_spec is None

    with pytest.raises(ConfigError) as refused:
        make(mlflow_tracking_uri="http://mlflow.test:5000", api_token="abt_secret")

    message = str(refused.value)
    assert "APPROVAL_BOT_LAUNCHER=local" in message
    assert {"mlflow": "mlflow", "sklearn": "scikit-learn"}[module] in message
    assert "approval-bot-pipelines image" in message
    assert make(launcher="none", mlflow_tracking_uri="http://mlflow.test:5000").launcher is None
