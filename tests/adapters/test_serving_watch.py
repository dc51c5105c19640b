"""The registry ↔ serving watch (docs/watch.md) against a real MLflow server and the strict
fake Kubernetes API (tests/pipelines/kube_fake.py: KServe's InferenceService as the API
server keeps it, managedFields included), in both KServe modes, on SQLite.

A hand-moved @champion and a hand-patched InferenceService each raise one alert, posted to
the chats once and updated when resolved; nothing is raised while the bot promotes the
model; two replicas raise one alert between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import upgrade
from bot.adapters.metrics import Metrics
from bot.adapters.mlflow.alias_back import AliasBack
from bot.adapters.mlflow.client import MlflowRest, Registry
from bot.adapters.registry import identity_kinds
from bot.adapters.watch.kube import KubeServing
from bot.adapters.watch.registry import RegistryChampions
from bot.domain import errors
from bot.domain.divergence import WatchTarget
from bot.domain.effects import ALIAS_BACK
from bot.domain.model import State
from bot.domain.names import EventKind
from bot.service import Services, build_services
from bot.service.chat.publisher import Publisher
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from bot.service.watch import Watch
from pipelines.steps.promotion import storage_uri
from tests import builders
from tests.adapters.conftest import add_version, approve, model_name
from tests.fakes import FakeClock, NotedHandler
from tests.pipelines.kube_fake import RAW, SERVERLESS, FakeKubernetesApi
from tests.support.mlflow_server import MlflowServer
from tests.toy.markup import ToyMarkup
from tests.toy.transport import SENT, ToyTransport

PREFIX = "s3://mlflow/artifacts"
NS, ISVC = "models", "iris-serving"
EVERY = timedelta(seconds=30)
KUBECTL = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"  # kubectl's User-Agent


@dataclass
class World:
    svc: Services
    kube: FakeKubernetesApi
    client: Any  # MlflowClient: a person's hand in the registry
    name: str
    uris: dict[str, str]  # version -> storage URI, as a promotion serves it
    dispatcher: OutboxDispatcher
    toy: ToyTransport

    def watch(self, holder: str = "replica-a") -> Watch:
        return Watch(
            self.svc.uow,
            self.svc.clock,
            self.svc.leases,
            KubeServing(),
            RegistryChampions(MlflowRest(self.client.tracking_uri), prefix=PREFIX),
            [WatchTarget(self.name, f"{NS}/{ISVC}")],
            holder=holder,
            every=EVERY,
        )

    def deliver(self) -> None:
        asyncio.run(self.dispatcher.deliver_due())

    def kubectl_patch(self, uri: str) -> None:
        """``kubectl patch isvc … --type merge``: as kubectl sends it (fieldManager)."""
        response = httpx.patch(
            f"{self.kube.url}/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/"
            f"{ISVC}?fieldManager=kubectl-patch",
            json={"spec": {"predictor": {"model": {"storageUri": uri}}}},
            headers={"Content-Type": "application/merge-patch+json", "User-Agent": KUBECTL},
        )
        assert response.status_code == 200, response.text

    def events(self, kind: EventKind) -> list[dict[str, Any]]:
        with self.svc.uow(readonly=True) as uow:
            return [r.data for r in uow.audit.records(None) if r.kind == kind]

    def alerts(self) -> list[list[dict[str, Any]]]:
        """Each alert the toy channel shows, with what it showed, oldest first."""
        return [shown for shown in SENT.values() if "Serving and the registry" in str(shown)]

    def diverged_metric(self) -> dict[str, bool]:
        return self.svc.queries.counts().diverged


@pytest.fixture(params=[SERVERLESS, RAW])
def world(
    request: pytest.FixtureRequest,
    mlflow: MlflowServer,
    sqlite_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    from mlflow import MlflowClient

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    svc = build_services(
        SqlUnitOfWorkFactory(engine),
        clock=clock,
        channels=("toy", "console"),
        identities=identity_kinds(),
    )
    svc.admin.apply(builders.directory())
    client = MlflowClient(tracking_uri=mlflow.url)
    name = model_name()
    client.create_registered_model(name)
    uris = {}
    for _ in range(2):
        version = add_version(client, name)
        uris[version] = storage_uri(client.get_model_version_download_uri(name, version), PREFIX)
    client.set_registered_model_alias(name, "champion", "1")
    toy = ToyTransport()
    dispatcher = OutboxDispatcher(
        svc.uow,
        {
            "chat:toy": Publisher("toy", ToyMarkup(), toy, svc.uow),
            ALIAS_BACK: AliasBack(Registry(mlflow.url)),
            "*": NotedHandler(),
        },
        clock=clock,
        retry=RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=60),
        jitter=lambda: 0.0,
    )
    SENT.clear()
    with FakeKubernetesApi(mode=request.param) as kube:
        kube.add_inference_service(NS, ISVC, uris["1"])
        monkeypatch.setenv("KUBERNETES_API_URL", kube.url)
        try:
            yield World(svc, kube, client, name, uris, dispatcher, toy)
        finally:
            engine.dispose()


def test_a_hand_moved_alias_is_one_alert_updated_when_moved_back(world: World) -> None:
    watch = world.watch()
    assert watch.check().outcomes == {world.name: "agree"}
    world.client.set_registered_model_alias(world.name, "champion", "2")  # by hand

    assert watch.check().outcomes == {world.name: "diverged"}
    started = time.perf_counter()
    assert watch.check().outcomes == {world.name: "told"}, "told once, not every round"
    round_seconds = time.perf_counter() - started
    world.deliver()
    world.deliver()

    [alert] = world.alerts()
    assert len(alert) == 1, "posted once"
    text = alert[0]["text"]
    assert world.name in text and world.uris["1"] in text and "(v1)" in text
    assert "@champion: v2" in text and world.uris["2"] in text
    [seen] = world.events(EventKind.SERVING_DIVERGED)
    assert (seen["served_version"], seen["champion_version"]) == ("1", "2")
    assert world.diverged_metric() == {world.name: True}

    world.client.set_registered_model_alias(world.name, "champion", "1")  # by hand, back
    assert watch.check().outcomes == {world.name: "resolved"}
    world.deliver()
    [alert] = world.alerts()
    assert len(alert) == 2 and "Resolved" in alert[-1]["text"], "the same post, updated"
    [over] = world.events(EventKind.SERVING_CONVERGED)
    assert over["divergence"] == seen["divergence"]
    assert world.diverged_metric() == {world.name: False}
    assert watch.check().outcomes == {world.name: "agree"}
    print(f"\nwatch round (one model, told already): {round_seconds * 1000:.1f} ms")
    assert round_seconds < 2.0


def test_a_hand_patched_inference_service_is_one_alert_naming_who(world: World) -> None:
    watch = world.watch()
    world.kubectl_patch(world.uris["2"])

    assert watch.check().outcomes == {world.name: "diverged"}
    assert watch.check().outcomes == {world.name: "told"}
    world.deliver()
    [alert] = world.alerts()
    text = alert[-1]["text"]
    assert "(v2)" in text and "@champion: v1" in text
    assert "Serving last changed by kubectl-patch" in text  # managedFields
    [seen] = world.events(EventKind.SERVING_DIVERGED)
    assert seen["served_changed_by"] == "kubectl-patch"

    world.kubectl_patch(world.uris["1"])
    assert watch.check().outcomes == {world.name: "resolved"}
    world.deliver()
    assert "Resolved" in world.alerts()[0][-1]["text"]


def test_no_alert_while_the_bot_promotes_the_model(world: World) -> None:
    watch = world.watch()
    rid = approve(world.svc, world.name, "2")  # approved: the launch is on its way
    # The promotion moves @champion first, then patches the InferenceService.
    world.client.set_registered_model_alias(world.name, "champion", "2")
    assert watch.check().outcomes == {world.name: "promoting"}
    world.svc.commands.promotion_started(rid, "run-1")
    assert watch.check().outcomes == {world.name: "promoting"}
    world.kube.apply(NS, ISVC, {"spec": {"predictor": {"model": {"storageUri": world.uris["2"]}}}})
    world.svc.commands.promotion_finished(rid, succeeded=True, detail="served v2")
    assert world.svc.queries.get(rid).state is State.PROMOTED
    assert watch.check().outcomes == {world.name: "agree"}
    assert world.events(EventKind.SERVING_DIVERGED) == []
    world.deliver()
    assert world.alerts() == []


def test_two_replicas_raise_one_alert(world: World) -> None:
    a, b = world.watch("replica-a"), world.watch("replica-b")
    world.client.set_registered_model_alias(world.name, "champion", "2")

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda w: w.check(), [a, b]))
    assert sorted(bool(r.held_by) for r in reports) == [False, True], "one round ran"
    assert [r.outcomes for r in reports if not r.held_by] == [{world.name: "diverged"}]
    # The holder stops; after its lease ran out the other takes over and says nothing new.
    world.svc.clock.advance(seconds=EVERY.total_seconds() * 3 + 1)  # type: ignore[attr-defined]
    ran = next(w for w, r in zip((a, b), reports, strict=True) if r.held_by)
    assert ran.check().outcomes == {world.name: "told"}
    world.deliver()
    assert len(world.events(EventKind.SERVING_DIVERGED)) == 1
    assert len(world.alerts()) == 1


def test_the_metric_reads_the_divergences(world: World) -> None:
    world.client.set_registered_model_alias(world.name, "champion", "2")
    world.watch().check()
    metrics = Metrics(world.svc.queries.counts)
    value = metrics.registry.get_sample_value(
        "approval_bot_serving_diverged", {"model": world.name}
    )
    assert value == 1.0


def test_moving_the_alias_back_is_authorized_like_a_rollback_and_resolves_the_alert(
    world: World,
) -> None:
    watch = world.watch()
    world.client.set_registered_model_alias(world.name, "champion", "2")  # by hand
    assert watch.check().outcomes == {world.name: "diverged"}
    [found] = world.svc.queries.open_divergences()
    actions = world.svc.watch
    with pytest.raises(errors.NotEligible, match=r"ml-leads, sre \(the policy's approver"):
        actions.move_alias_back(found.id, Identity("cli", "dave"))  # in no group
    # Rollback is for the on-call group only: an approver may not, the on-call may.
    policy = builders.policy_patch(rollback_groups=["sre"])
    world.svc.admin.apply(builders.directory(policies=policy))
    with pytest.raises(errors.NotEligible, match="rollback_groups"):
        actions.move_alias_back(found.id, Identity("cli", "bob"))
    actions.move_alias_back(found.id, Identity("cli", "carol"))
    world.deliver()

    assert world.client.get_registered_model(world.name).aliases["champion"] == "1"
    [asked] = world.events(EventKind.SERVING_ALIAS_BACK)
    assert (asked["divergence"], asked["served_version"]) == (found.id, "1")
    assert watch.check().outcomes == {world.name: "resolved"}
    world.deliver()
    assert "Resolved" in world.alerts()[0][-1]["text"]
    with pytest.raises(errors.Refused, match="resolved already"):
        actions.move_alias_back(found.id, Identity("cli", "carol"))
