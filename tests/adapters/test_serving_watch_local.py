"""`make run`'s loop: with the local launcher, the watch compares what its last promotion
run served with the local MLflow's @champion, so moving @champion by hand in MLflow raises
the alert (docs/watch.md). The run is the launcher's own (its run records, its thread); its
pipeline is the real promotion step (``pipelines.steps.promotion.promote``, deploy_target
none) called in-process instead of through kfp.local."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kfp.local import LocalLauncher
from bot.adapters.mlflow.client import MlflowRest
from bot.adapters.watch.local import LocalServing
from bot.adapters.watch.registry import RegistryChampions
from bot.domain.divergence import WatchTarget
from bot.domain.names import EventKind
from bot.service import Services
from bot.service.watch import Watch
from pipelines.steps.promotion import promote
from tests.adapters.conftest import add_version, model_name
from tests.support.mlflow_server import MlflowServer

PREFIX = "s3://mlflow/artifacts"


def promotion_step(
    name: str, params: Mapping[str, Any], root: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    done = promote(
        params["model_name"],
        params["model_version"],
        deploy_target=params["deploy_target"],
        storage_uri_prefix=params["storage_uri_prefix"],
    )
    return {
        "champion_version": done.champion_version,
        "archived_version": done.archived_version,
        "storage_uri": done.storage_uri,
    }


def test_moving_the_alias_by_hand_after_a_local_promotion_raises_the_alert(
    svc: Services, mlflow: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)
    client = MlflowClient(tracking_uri=mlflow.url)
    name = model_name()
    client.create_registered_model(name)
    add_version(client, name)
    add_version(client, name)
    launcher = LocalLauncher(root=tmp_path, env={}, runner=promotion_step)
    watch = Watch(
        svc.uow,
        svc.clock,
        svc.leases,
        LocalServing(tmp_path),
        RegistryChampions(MlflowRest(mlflow.url), prefix=PREFIX),
        [WatchTarget(name, "local")],
        holder="make-run",
        every=timedelta(seconds=30),
    )
    report = watch.check()
    assert report.outcomes == {} and "has not promoted" in report.unavailable[name]

    params = {"model_name": name, "model_version": "2", "deploy_target": "none"}
    run_id = launcher.start("r1:launch_promotion", {**params, "storage_uri_prefix": PREFIX})
    launcher.join(run_id, timeout=60)
    assert launcher.read(run_id).succeeded, launcher.read(run_id).detail
    assert watch.check().outcomes == {name: "agree"}

    client.set_registered_model_alias(name, "champion", "1")  # by hand, in the MLflow UI
    assert watch.check().outcomes == {name: "diverged"}
    with svc.uow(readonly=True) as uow:
        [seen] = [r.data for r in uow.audit.records(None) if r.kind == EventKind.SERVING_DIVERGED]
    assert (seen["served_version"], seen["champion_version"]) == ("2", "1")
    assert seen["served_changed_by"] == "the local launcher"
