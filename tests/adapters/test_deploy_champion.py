"""The watch's "Deploy the champion" and "Move the alias back" (docs/watch.md), end to end.

A hand-patched InferenceService diverges from @champion (real MLflow server, the strict fake
Kubernetes API of tests/pipelines/kube_fake.py in both KServe modes). Someone in the policy's
rollback groups clicks Deploy the champion: the ``kfp.deploy_champion`` effect starts the
promotion pipeline's own steps through the local launcher, whose guard asks a real bot process
for the divergence (``GET /api/v1/divergences/{id}``) instead of an approval; serving goes
back to @champion's version, no alias moves, and the watch's next round resolves the alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.adapters.kfp.handler import DeployChampion
from bot.adapters.kfp.local import LocalLauncher
from bot.domain import errors
from bot.domain.effects import DEPLOY_CHAMPION
from bot.domain.names import EventKind
from bot.service.identity import Identity
from bot.service.promotions import poll_deploys
from bot.service.stages import as_stage
from pipelines.errors import ApprovalError
from pipelines.steps import deploy_guard, promotion
from tests.adapters.test_serving_watch import ISVC, NS, PREFIX, World, world  # noqa: F401
from tests.pipelines.kube_fake import FAILS
from tests.support.bot_server import BotServer, running_bot

TOKEN = "deploy-champion-test-token-0123456789"


def in_process(name: str, params: Mapping[str, Any], root: Path, env: Mapping[str, str]) -> dict:
    """The promotion pipeline's two tasks (pipelines/components.py), run in this process with
    the parameters the launcher gives kfp.local."""
    assert name == "promotion"
    promotion.verify_approval(
        params["approval_request_id"],
        model_name=params["model_name"],
        model_version=params["model_version"],
        data_run_id=params["data_run_id"],
        deploy_target=params.get("deploy_target", "kserve"),
        divergence_id=params["divergence_id"],
    )
    done = promotion.promote(
        params["model_name"],
        params["model_version"],
        inference_service=params["inference_service"],
        namespace=params["namespace"],
        storage_uri_prefix=params["storage_uri_prefix"],
        ready_timeout_seconds=30,
        poll_seconds=0.05,
        keep_champion=bool(params["divergence_id"]),
    )
    return {"champion_version": done.champion_version, "storage_uri": done.storage_uri}


@pytest.fixture
def bot(
    world: World,  # noqa: F811
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BotServer]:
    # The bot process only answers the guard's API call. Its own outbox runs on the real clock:
    # with the test's clock years ahead, the rows this test makes are never due there (and
    # this test's claims never look expired), so it leaves them to this test's deliverer.
    world.svc.clock.advance(seconds=10 * 365 * 86400)  # type: ignore[attr-defined]
    with running_bot(sqlite_url, tmp_path, env={"APPROVAL_BOT_API_TOKEN": TOKEN}) as server:
        monkeypatch.setenv("APPROVAL_BOT_URL", server.url)
        monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", TOKEN)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", world.client.tracking_uri)
        yield server


def launcher(world: World, tmp_path: Path, bot: BotServer) -> LocalLauncher:  # noqa: F811
    found = LocalLauncher(
        root=tmp_path / "kfp-local",
        env={
            "MLFLOW_TRACKING_URI": world.client.tracking_uri,
            "APPROVAL_BOT_URL": bot.url,
            "APPROVAL_BOT_API_TOKEN": TOKEN,
        },
        # the configured target names another service: the divergence's own one wins
        defaults={"inference_service": "elsewhere", "storage_uri_prefix": PREFIX},
        runner=in_process,
    )
    world.dispatcher.stages[DEPLOY_CHAMPION] = as_stage(DeployChampion(found, world.svc.watch))
    return found


def test_deploy_the_champion_serves_it_and_resolves_the_alert(
    world: World,  # noqa: F811
    bot: BotServer,
    tmp_path: Path,
) -> None:
    runs = launcher(world, tmp_path, bot)
    watch = world.watch()
    world.kubectl_patch(world.uris["2"])  # by hand: serving v2, @champion v1
    assert watch.check().outcomes == {world.name: "diverged"}
    world.deliver()
    [found] = world.svc.queries.open_divergences()
    shown = world.alerts()[0][-1]
    assert [b["action"] for b in shown["buttons"]] == ["deploy_champion", "alias_back"]

    api = httpx.get(
        f"{bot.url}/api/v1/divergences/{found.id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert api.status_code == 200 and api.json()["open"] and api.json()["asked"] is None

    with pytest.raises(errors.NotEligible, match="may not act"):
        world.svc.watch.deploy_champion(found.id, Identity("cli", "dave"))  # in no group
    world.svc.watch.deploy_champion(found.id, Identity("cli", "carol"))
    with pytest.raises(errors.Refused, match="carol asked already to deploy the champion"):
        world.svc.watch.move_alias_back(found.id, Identity("cli", "bob"))
    world.deliver()

    [run] = list((tmp_path / "kfp-local" / "runs").glob("*.json"))
    run_id = run.stem
    runs.join(run_id, timeout=60)
    status = runs.read(run_id)
    assert status.succeeded, status.detail
    assert world.kube.served_uri(NS, ISVC) == world.uris["1"], "serving is back on @champion"
    assert world.client.get_registered_model(world.name).aliases["champion"] == "1"
    [asked] = world.events(EventKind.SERVING_DEPLOY_CHAMPION)
    assert (asked["divergence"], asked["champion_version"]) == (found.id, "1")
    alert = world.alerts()[0][-1]
    assert "[b]carol[/b] asked to deploy the champion" in alert["text"] and not alert["buttons"]

    assert watch.check().outcomes == {world.name: "resolved"}
    world.deliver()
    assert "Resolved" in world.alerts()[0][-1]["text"]


def test_a_deploy_asked_before_someone_moved_the_alias_changes_nothing(
    world: World,  # noqa: F811
    bot: BotServer,
    tmp_path: Path,
) -> None:
    runs = launcher(world, tmp_path, bot)
    watch = world.watch()
    world.kubectl_patch(world.uris["2"])
    assert watch.check().outcomes == {world.name: "diverged"}
    [found] = world.svc.queries.open_divergences()
    world.svc.watch.deploy_champion(found.id, Identity("cli", "carol"))
    world.client.set_registered_model_alias(world.name, "champion", "2")  # meanwhile, by hand
    world.deliver()

    [run] = list((tmp_path / "kfp-local" / "runs").glob("*.json"))
    runs.join(run.stem, timeout=60)
    status = runs.read(run.stem)
    assert not status.succeeded
    assert "names v2 now, not v1" in status.detail
    assert world.kube.served_uri(NS, ISVC) == world.uris["2"], "serving left alone"
    assert world.client.get_registered_model(world.name).aliases["champion"] == "2"


def test_the_guard_refuses_a_run_nobody_asked_for(
    world: World,  # noqa: F811
    bot: BotServer,
) -> None:
    world.kubectl_patch(world.uris["2"])
    assert world.watch().check().outcomes == {world.name: "diverged"}
    [found] = world.svc.queries.open_divergences()
    with pytest.raises(ApprovalError, match="nobody asked to deploy the champion"):
        deploy_guard.verify_divergence(found.id, model_name=world.name, model_version="1")
    with pytest.raises(ApprovalError, match="does not exist"):
        deploy_guard.verify_divergence("0123456789ab", model_name=world.name, model_version="1")
    world.svc.watch.deploy_champion(found.id, Identity("cli", "carol"))
    with pytest.raises(ApprovalError, match="saw @champion on v1, but this run deploys v2"):
        deploy_guard.verify_divergence(found.id, model_name=world.name, model_version="2")
    assert deploy_guard.verify_divergence(found.id, model_name=world.name, model_version="1")


def test_a_failed_deploy_is_told_in_the_alert_and_its_buttons_come_back(
    world: World,  # noqa: F811
    bot: BotServer,
    tmp_path: Path,
) -> None:
    runs = launcher(world, tmp_path, bot)
    world.kubectl_patch(world.uris["2"])
    assert world.watch().check().outcomes == {world.name: "diverged"}
    [found] = world.svc.queries.open_divergences()
    world.kube.rollout_for[world.uris["1"]] = FAILS  # it no longer loads: serving is put back
    world.svc.watch.deploy_champion(found.id, Identity("cli", "carol"))
    world.deliver()
    assert not world.alerts()[0][-1]["buttons"]
    [run_id] = [d.deploying for d in world.svc.watch.deploying()]
    assert run_id is not None
    runs.join(run_id, timeout=60)
    assert not runs.read(run_id).succeeded

    assert asyncio.run(poll_deploys(world.svc, runs)) == 1
    assert asyncio.run(poll_deploys(world.svc, runs)) == 0, "told once"
    world.deliver()
    alert = world.alerts()[0][-1]
    assert "The deploy asked by [b]carol[/b] failed" in alert["text"]
    assert f"(run {run_id})" in alert["text"] and "rolled back" in alert["text"]
    assert [b["action"] for b in alert["buttons"]] == ["deploy_champion", "alias_back"]
    [failed] = world.events(EventKind.SERVING_DEPLOY_FAILED)
    assert failed["divergence"] == found.id
    assert world.kube.served_uri(NS, ISVC) == world.uris["2"], "serving put back"
    # Someone may try again: the failure's line goes with the new ask.
    world.svc.watch.move_alias_back(found.id, Identity("cli", "carol"))
    world.deliver()
    assert "failed" not in world.alerts()[0][-1]["text"]
