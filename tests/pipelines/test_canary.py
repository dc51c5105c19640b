"""Canary promotion on the test cluster (Serverless revisions and traffic as KServe reports
them, tests/pipelines/knative_fake.py) with the analysis on a real Prometheus scraping an
exporter whose queue-proxy series the test sets (tests/support/prometheus.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pipelines.errors import ConfigurationError, PromotionRolledBackError
from pipelines.steps import canary, promotion
from pipelines.steps.control import Signal
from tests.pipelines.conftest import Stack
from tests.pipelines.kube_fake import NEVER_READY, RAW, SERVERLESS, FakeKubernetesApi
from tests.pipelines.test_rollback import NAMESPACE, Case
from tests.support.processes import wait_for
from tests.support.prometheus import (
    QueueProxyExporter,
    prometheus_server,
    query,
    require_prometheus,
    serve_exporter,
)

DWELL = 2.0


class RecordingControl:
    """The bot's side of the control API as the pipeline sees it (tests/pipelines/fakes.py
    serves the same over HTTP); ``on_report`` lets a test act at a given step."""

    def __init__(self) -> None:
        self.action = Signal()
        self.progress: list[dict[str, Any]] = []
        self.on_report: Callable[[dict[str, Any]], None] | None = None

    def signal(self) -> Signal:
        return self.action

    def report(self, progress: dict[str, Any]) -> None:
        self.progress.append(progress)
        if self.on_report is not None:
            self.on_report(progress)


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[QueueProxyExporter, str]]:
    require_prometheus()
    exporter = QueueProxyExporter(NAMESPACE)
    with ExitStack() as stack:
        target = stack.enter_context(serve_exporter(exporter))
        workdir = tmp_path_factory.mktemp("prometheus")
        url = stack.enter_context(prometheus_server(workdir, target))
        exporter.set("warm-up")
        wait_for(
            lambda: bool(query(url, 'revision_request_count{revision_name="warm-up"}')),
            timeout=30,
            description="Prometheus scraping the exporter",
        )
        yield exporter, url


@pytest.fixture
def stack(local_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for key, value in local_stack.env.items():
        monkeypatch.setenv(key, value)
    return local_stack


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubernetesApi]:
    with FakeKubernetesApi(mode=SERVERLESS) as fake:
        monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
        yield fake


def revision(case: Case, n: int) -> str:
    return f"{case.service}-predictor-{n:05d}"


def run_canary(
    case: Case,
    url: str,
    control: RecordingControl,
    steps: str = "10,25,50,100",
    ready_timeout_seconds: float = 30,
) -> promotion.Promoted:
    plan = canary.parse_plan(steps, DWELL, url)
    return promotion.promote(
        case.model,
        "2",
        inference_service=case.service,
        namespace=NAMESPACE,
        ready_timeout_seconds=ready_timeout_seconds,
        poll_seconds=0.01,
        canary_plan=plan,
        control=control,
    )


def percents(kube: FakeKubernetesApi) -> list[Any]:
    return [
        p.json().get("spec", {}).get("predictor", {}).get("canaryTrafficPercent", "absent")
        for p in kube.patches
    ]


def test_a_canary_that_passes_every_step_ends_on_100_percent(
    stack: Stack, kube: FakeKubernetesApi, metrics: tuple[QueueProxyExporter, str]
) -> None:
    exporter, url = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1), latency_ms=20)
    exporter.set(revision(case, 2), latency_ms=20)
    control = RecordingControl()

    result = run_canary(case, url, control)

    assert result.champion_version == "2"
    assert case.aliases() == {"champion": "2", "archived": "1"}
    served = case.served()
    assert "canaryTrafficPercent" not in served["spec"]["predictor"]
    predictor = served["status"]["components"]["predictor"]
    assert predictor["traffic"] == [
        {"revisionName": revision(case, 2), "latestRevision": True, "percent": 100}
    ]
    assert predictor["latestRolledoutRevision"] == revision(case, 2)
    assert predictor["previousRolledoutRevision"] == revision(case, 1)
    assert percents(kube) == [10, 25, 50, None]
    analysed = [p for p in control.progress if p["phase"] == "analysed"]
    assert [(p["step"], p["passed"]) for p in analysed] == [(10, True), (25, True), (50, True)]
    split = next(p for p in control.progress if p["phase"] == "dwelling" and p["step"] == 25)
    assert split["traffic"] == {revision(case, 2): 25, revision(case, 1): 75}
    assert control.progress[-1]["phase"] == "promoted"


def test_a_canary_failing_at_25_percent_rolls_back_traffic_uri_and_aliases(
    stack: Stack, kube: FakeKubernetesApi, metrics: tuple[QueueProxyExporter, str]
) -> None:
    exporter, url = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1))
    exporter.set(revision(case, 2))
    control = RecordingControl()

    def break_at_25(progress: dict[str, Any]) -> None:
        if progress["phase"] == "dwelling" and progress["step"] == 25:
            exporter.set(revision(case, 2), error_ratio=0.5)

    control.on_report = break_at_25

    with pytest.raises(PromotionRolledBackError) as failed:
        run_canary(case, url, control)

    message = str(failed.value)
    assert "canary analysis failed at 25%" in message
    assert "error_ratio: canary 0.5" in message and "limit 0.05" in message, message
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    served = case.served()
    before_uri = case.before["spec"]["predictor"]["model"]["storageUri"]
    assert served["spec"]["predictor"]["model"]["storageUri"] == before_uri
    assert "canaryTrafficPercent" not in served["spec"]["predictor"]
    assert percents(kube)[:3] == [10, 25, 0]  # traffic back first, then the spec
    assert kube.steps_left(NAMESPACE, case.service) == 0
    predictor = case.served()["status"]["components"]["predictor"]
    assert predictor["latestReadyRevision"] == revision(case, 3)  # the old model, again
    assert predictor["traffic"] == [
        {"revisionName": revision(case, 3), "latestRevision": True, "percent": 100}
    ]
    assert control.progress[-1]["phase"] == "rolled back"


def test_no_data_for_the_canary_is_a_failure(
    stack: Stack, kube: FakeKubernetesApi, metrics: tuple[QueueProxyExporter, str]
) -> None:
    exporter, url = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1))  # the canary revision gets no requests: no series at all

    with pytest.raises(PromotionRolledBackError, match=r"failed at 10%.*no data for the canary"):
        run_canary(case, url, RecordingControl())

    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert percents(kube)[:2] == [10, 0]


def test_a_rollback_from_chat_puts_traffic_back_within_seconds(
    stack: Stack, kube: FakeKubernetesApi, metrics: tuple[QueueProxyExporter, str]
) -> None:
    exporter, url = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1))
    exporter.set(revision(case, 2))
    control = RecordingControl()
    clicked: list[float] = []
    back: list[float] = []

    def click_at_25(progress: dict[str, Any]) -> None:
        if progress["phase"] == "dwelling" and progress["step"] == 25 and not clicked:
            clicked.append(time.monotonic())
            control.action = Signal("rollback", "alice")

    def watch(fake: FakeKubernetesApi, namespace: str, name: str) -> None:
        traffic = fake.objects[(namespace, name)]["status"]["components"]["predictor"]["traffic"]
        on_previous = any(
            t["revisionName"] == revision(case, 1) and t["percent"] == 100 for t in traffic
        )
        if clicked and on_previous and not back:
            back.append(time.monotonic())

    control.on_report = click_at_25
    kube.on_get = watch

    with pytest.raises(PromotionRolledBackError, match="rolled back from chat by alice at 25%"):
        run_canary(case, url, control)

    assert case.aliases() == {"champion": "1", "challenger": "2"}
    assert back, "traffic never went back to the previous revision"
    print(f"rollback signal → 100% on the previous revision: {back[0] - clicked[0]:.3f}s")
    assert back[0] - clicked[0] < 5.0


def test_a_rollback_clicked_before_the_canary_is_ready_is_heeded_at_once(
    stack: Stack, kube: FakeKubernetesApi, metrics: tuple[QueueProxyExporter, str]
) -> None:
    """The canary revision never becomes Ready (its model is still loading): a Roll back
    click puts the traffic back within a control poll, not after the ready timeout."""
    exporter, url = metrics
    case = Case(stack, kube)
    exporter.set(revision(case, 1))
    kube.rollout_for[case.uri("2")] = NEVER_READY
    control = RecordingControl()
    clicked: list[float] = []
    back: list[float] = []

    def watch(fake: FakeKubernetesApi, namespace: str, name: str) -> None:
        service = fake.objects[(namespace, name)]
        predictor = service["status"]["components"]["predictor"]
        created = predictor["latestCreatedRevision"] == revision(case, 2)
        not_ready = predictor["latestReadyRevision"] == revision(case, 1)
        if created and not_ready and not clicked:
            clicked.append(time.monotonic())  # what the bot answers from now on
            control.action = Signal("rollback", "alice")
        # back: the canary's share set to 0 (it can never get traffic, Ready or not) and
        # the route reporting 100% on the previous revision
        zero = service["spec"]["predictor"].get("canaryTrafficPercent") == 0
        on_previous = any(
            t["revisionName"] == revision(case, 1) and t["percent"] == 100
            for t in predictor["traffic"]
        )
        if clicked and zero and on_previous and not back:
            back.append(time.monotonic())

    kube.on_get = watch
    started = time.monotonic()

    with pytest.raises(PromotionRolledBackError) as rolled:
        run_canary(case, url, control, ready_timeout_seconds=600)

    assert "rolled back from chat by alice while moving to 10%" in str(rolled.value)
    assert clicked and back, "no rollback seen"
    print(f"rollback before Ready → 100% on the previous revision: {back[0] - clicked[0]:.3f}s")
    assert back[0] - clicked[0] < 5.0
    assert time.monotonic() - started < 600  # it did not wait for the ready timeout
    assert percents(kube)[:2] == [10, 0]  # traffic back first, then the spec
    assert case.aliases() == {"champion": "1", "challenger": "2"}
    served = case.served()
    before_uri = case.before["spec"]["predictor"]["model"]["storageUri"]
    assert served["spec"]["predictor"]["model"]["storageUri"] == before_uri
    predictor = served["status"]["components"]["predictor"]
    assert predictor["traffic"] == [
        {"revisionName": revision(case, 3), "latestRevision": True, "percent": 100}
    ]
    phases = [p["phase"] for p in control.progress]
    assert phases[0] == "rolling out" and phases[-1] == "rolled back"
    assert "dwelling" not in phases


def test_a_canary_in_raw_deployment_mode_is_refused_before_anything_moves(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeKubernetesApi(mode=RAW) as kube:
        monkeypatch.setenv("KUBERNETES_API_URL", kube.url)
        case = Case(stack, kube)
        with pytest.raises(ConfigurationError, match="KServe Serverless mode") as refused:
            run_canary(case, "http://127.0.0.1:9", RecordingControl())
        assert "\n" not in str(refused.value)
        assert kube.patches == []
        assert case.aliases() == {"champion": "1", "challenger": "2"}


@pytest.mark.parametrize("steps", ["10,50", "50,25,100", "0,100", "ten", "10,25,50,100,110"])
def test_bad_canary_steps_are_refused(steps: str) -> None:
    with pytest.raises(ConfigurationError, match="canary_steps"):
        canary.parse_plan(steps, DWELL, "http://prometheus")


def test_default_steps() -> None:
    plan = canary.parse_plan("default", 60, "http://prometheus")
    assert plan is not None and plan.steps == (10, 25, 50, 100)
    assert canary.parse_plan("", 60) is None
