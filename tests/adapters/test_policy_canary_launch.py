"""A request whose policy asks for a canary is launched with the canary's parameters
(bot/adapters/kfp/params.py): by the ``kfp`` launcher (its runs checked against the pipeline's
inputs by tests/adapters/kfp_fake.py) and the ``local`` one (which drops what the pipeline
does not take). The policy wins over the promotion target's canary and over the request."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kfp.handler import LaunchPromotion
from bot.adapters.kfp.local import LocalLauncher
from bot.adapters.kfp.remote import KfpLauncher
from bot.adapters.kfp.wiring import make_launcher
from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.model import State
from bot.ports.effects import PromotionLauncher
from bot.service import Services
from bot.settings import Settings
from tests import builders
from tests.adapters.conftest import approve, deliver, dispatcher, model_name, outbox
from tests.adapters.kfp_fake import FakeKfpRuns
from tests.builders import parse_config

PROMETHEUS = "http://prometheus.monitoring:9090"
POLICY_CANARY = {"steps": [5, 50, 100], "dwell_seconds": 120}


@pytest.fixture
def kfp_api() -> Iterator[FakeKfpRuns]:
    with FakeKfpRuns() as fake:
        yield fake


def canary_policy(svc: Services) -> None:
    svc.admin.canary_analysis = True
    svc.admin.apply(
        parse_config(builders.config_dict(policies=builders.policy_patch(canary=POLICY_CANARY)))
    )


def kfp(kfp_api: FakeKfpRuns, **settings: Any) -> KfpLauncher:
    made = make_launcher(
        Settings(
            launcher="kfp",
            kfp_host=kfp_api.url,
            promotion_namespace="models",
            promotion_inference_service="iris-prod",
            **settings,
        )
    )
    assert isinstance(made, KfpLauncher)
    return made


def launch(svc: Services, launcher: PromotionLauncher) -> None:
    deliver(dispatcher(svc, {LAUNCH_PROMOTION: LaunchPromotion(launcher, svc.commands)}))


def test_the_policy_canary_arrives_as_the_runs_parameters(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    canary_policy(svc)
    rid = approve(svc, "iris-classifier", "3")

    launch(svc, kfp(kfp_api, prometheus_url=PROMETHEUS))

    assert svc.queries.get(rid).state is State.PROMOTING
    [run] = kfp_api.runs
    parameters = run["runtime_config"]["parameters"]
    assert {k: v for k, v in parameters.items() if k.startswith("canary_")} == {
        "canary_steps": "5,50,100",
        "canary_dwell_seconds": 120,
        "canary_checks": "",
    }
    assert parameters["prometheus_url"] == PROMETHEUS


def test_the_policy_canary_wins_over_the_target_and_the_request(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    canary_policy(svc)
    asked = {"parameters": {"canary_steps": "50,100", "canary_dwell_seconds": 5}}
    approve(svc, "iris-classifier", "3", promotion=asked)
    launcher = kfp(
        kfp_api,
        prometheus_url=PROMETHEUS,
        promotion_canary_steps="default",
        promotion_canary_dwell_seconds=600,
        promotion_request_overrides="canary_steps, canary_dwell_seconds",
    )

    launch(svc, launcher)

    [run] = kfp_api.runs
    parameters = run["runtime_config"]["parameters"]
    assert (parameters["canary_steps"], parameters["canary_dwell_seconds"]) == ("5,50,100", 120)


def test_without_a_policy_canary_the_target_decides(svc: Services, kfp_api: FakeKfpRuns) -> None:
    approve(svc, "iris-classifier", "3")  # the default policy: no canary
    approve(svc, "other-model", "1")

    launch(svc, kfp(kfp_api, prometheus_url=PROMETHEUS, promotion_canary_steps="default"))

    for run in kfp_api.runs:
        parameters = run["runtime_config"]["parameters"]
        assert (parameters["canary_steps"], parameters["canary_dwell_seconds"]) == ("default", 300)


def test_a_policy_canary_without_prometheus_is_not_launched(
    svc: Services, kfp_api: FakeKfpRuns
) -> None:
    canary_policy(svc)  # applied by a process with Prometheus; this one has none
    rid = approve(svc, "iris-classifier", "3")

    launch(svc, kfp(kfp_api))

    [item] = outbox(svc, LAUNCH_PROMOTION)
    assert item.state == "dead"
    assert "asks for a canary, which needs APPROVAL_BOT_PROMETHEUS_URL" in (item.last_error or "")
    assert kfp_api.created == []
    assert svc.queries.get(rid).state is State.APPROVED


def test_the_local_launcher_passes_the_policy_canary_to_the_pipeline(
    svc: Services, tmp_path: Path
) -> None:
    canary_policy(svc)
    rid = approve(svc, model_name(), "1")
    made = make_launcher(
        Settings(
            launcher="local",
            mlflow_tracking_uri="http://127.0.0.1:9",
            approval_bot_url="http://127.0.0.1:9",
            api_token="pipeline-token",
            local_pipeline_root=str(tmp_path),
            prometheus_url=PROMETHEUS,
        )
    )
    assert isinstance(made, LocalLauncher)
    ran: list[Mapping[str, Any]] = []

    def runner(_pipeline: str, params: Mapping[str, Any], *_: Any) -> dict[str, Any]:
        ran.append(params)
        return {}

    made.runner = runner
    launch(svc, made)

    run_id = svc.queries.get(rid).promotion_run_id or ""
    made.join(run_id, timeout=30)
    record = json.loads((made.runs_dir / f"{run_id}.json").read_text())
    expected = {
        "canary_steps": "5,50,100",
        "canary_dwell_seconds": 120,
        "prometheus_url": PROMETHEUS,
        "canary_checks": "",
    }
    assert {k: record["params"][k] for k in expected} == expected
    assert ran == [record["params"]]
