"""A veto window's decision in MLflow (README.md, "Rules"): the decision run names the policy
and ``system:auto``, against a real MLflow server, delivered by the real dispatcher."""

from __future__ import annotations

import pytest

from bot.domain.effects import LOG_DECISION
from bot.service import Services
from tests.adapters.conftest import deliver, dispatcher, model_name, outbox, register_challenger
from tests.adapters.conftest import submit as submit_request
from tests.adapters.test_mlflow_effects import decision_runs, handlers
from tests.builders import directory, policy_patch
from tests.fakes import FakeClock
from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("fast_mlflow_http")


def test_the_decision_run_names_system_auto_and_the_policy(
    svc: Services, mlflow: MlflowServer, clock: FakeClock
) -> None:
    svc.admin.apply(directory(policies=policy_patch(auto_approve_after="30m")))
    name = model_name()
    client = register_challenger(mlflow.url, name)
    rid = submit_request(svc, name, "1")
    clock.advance(minutes=30)
    assert svc.commands.scan_due().auto_approved == [rid]

    deliver(dispatcher(svc, handlers(svc, mlflow.url)))

    [item] = outbox(svc, LOG_DECISION)
    assert item.state == "delivered"
    [run] = decision_runs(client, rid)
    params, tags = run.data.params, run.data.tags
    assert params["decision"] == "approved"
    assert params["decided_by"] == "system:auto"
    assert params["policy"] == "*"
    assert params["approvers"] == ""  # nobody clicked: the policy decided
    assert "30m veto window" in params["reason"]
    assert tags["approval.decided_by"] == "system:auto"
    assert tags["approval.policy"] == "*"
    assert client.get_model_version(name, "1").tags["approval.by"] == "system:auto"
