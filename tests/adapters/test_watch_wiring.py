"""The watch is wired from settings alone, and a watch that cannot work refuses to start
with one line saying why (docs/watch.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.watch.kube import KubeServing
from bot.adapters.watch.local import LocalServing
from bot.adapters.watch.settings import WatchSettings
from bot.adapters.watch.wiring import WatchLoop
from bot.bootstrap import Container, build
from bot.domain.divergence import WatchTarget
from bot.domain.errors import ConfigError
from bot.settings import Settings, validated

MLFLOW = "http://mlflow.test:5000"


@pytest.fixture
def make(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    monkeypatch.setenv("APPROVAL_BOT_WATCH", "on")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_API_URL", raising=False)
    built: list[Container] = []

    def _make(**fields: Any) -> Container:
        settings = Settings(database_url=sqlite_url, **fields)
        container = build(settings, require_head=False)
        built.append(container)
        return container

    yield _make
    for container in built:
        container.close()


def loop_of(container: Container) -> WatchLoop:
    [loop] = [h.__self__ for h in container.startups if isinstance(h.__self__, WatchLoop)]  # type: ignore[attr-defined]
    return loop


def refusal(make: Any, **fields: Any) -> str:
    with pytest.raises(ConfigError) as refused:
        make(**fields)
    message = str(refused.value)
    assert "\n" not in message, "one line"
    return message


def test_off_by_default(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPROVAL_BOT_WATCH")
    container = make(launcher="none", mlflow_tracking_uri=MLFLOW)
    assert not any(isinstance(getattr(h, "__self__", None), WatchLoop) for h in container.startups)


def test_without_mlflow_it_refuses_to_start(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVAL_BOT_WATCH_MODELS", "iris")
    assert "needs MLFLOW_TRACKING_URI" in refusal(make, launcher="none")


def test_without_models_it_refuses_to_start(make: Any) -> None:
    message = refusal(make, launcher="none", mlflow_tracking_uri=MLFLOW)
    assert "needs APPROVAL_BOT_WATCH_MODELS" in message


def test_without_kubernetes_credentials_it_refuses_to_start(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_WATCH_MODELS", "iris")
    message = refusal(make, launcher="none", mlflow_tracking_uri=MLFLOW)
    assert "no credentials were found" in message and "docs/watch.md" in message


def test_models_default_to_the_promotion_target(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_API_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("APPROVAL_BOT_WATCH_MODELS", "iris, wine=ml/wine-serving")
    monkeypatch.setenv("APPROVAL_BOT_WATCH_SECONDS", "15")
    container = make(
        launcher="none",
        mlflow_tracking_uri=MLFLOW,
        promotion_namespace="models",
        promotion_inference_service="iris-prod",
    )
    loop = loop_of(container)
    assert loop.seconds == 15
    assert isinstance(loop.watch.served, KubeServing)
    assert loop.watch.targets == (
        WatchTarget("iris", "models/iris-prod"),
        WatchTarget("wine", "ml/wine-serving"),
    )


def test_the_local_launcher_is_watched_through_its_runs(
    make: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_WATCH_MODELS", "iris")
    container = make(
        mlflow_tracking_uri=MLFLOW, api_token="abt_secret", local_pipeline_root=str(tmp_path)
    )
    loop = loop_of(container)
    assert isinstance(loop.watch.served, LocalServing)
    assert loop.watch.served.runs == tmp_path / "runs"
    assert loop.watch.targets == (WatchTarget("iris", "local"),)


@pytest.mark.parametrize(
    ("models", "said"),
    [
        ("iris=models", "is not model or model=namespace/name"),
        ("iris=models/Iris", "is not an InferenceService name"),
        ("iris, iris=ml/x", "listed twice"),
    ],
)
def test_a_malformed_model_list_names_the_entry(
    monkeypatch: pytest.MonkeyPatch, models: str, said: str
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_WATCH_MODELS", models)
    with pytest.raises(ConfigError, match=said):
        validated(WatchSettings)
