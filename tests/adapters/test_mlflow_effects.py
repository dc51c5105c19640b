"""The decision log and the challenger archive against a real MLflow server, delivered by the
real outbox dispatcher from real service decisions (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.adapters.mlflow.archive import AliasNames, ChallengerArchive
from bot.adapters.mlflow.client import Registry
from bot.adapters.mlflow.decisions import DecisionLog
from bot.domain.effects import ARCHIVE_CHALLENGER, CHAT_NOTICE, LOG_DECISION
from bot.domain.model import State, VoteKind
from bot.service import Services
from bot.service.identity import Identity
from tests.adapters.conftest import (
    add_version,
    approve,
    audit_kinds,
    deliver,
    dispatcher,
    model_name,
    outbox,
    register_challenger,
    reject,
    submit,
)
from tests.fakes import FakeClock
from tests.support.http_fake import FakeHttpServer
from tests.support.mlflow_server import MlflowServer, mlflow_server
from tests.support.processes import free_port

EXPERIMENT = "iris-promotion"

pytestmark = pytest.mark.usefixtures("fast_mlflow_http")


def handlers(svc: Services, uri: str, experiment: str = EXPERIMENT) -> dict:
    registry = Registry(uri)
    return {
        LOG_DECISION: DecisionLog(registry, experiment=experiment),
        ARCHIVE_CHALLENGER: ChallengerArchive(
            registry,
            aliases=AliasNames(),
            on_moved_on=lambda rid, data: svc.commands.observed(rid, "challenger_moved_on", data),
        ),
    }


def decision_runs(client, request_id: str, experiment: str = EXPERIMENT) -> list:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`approval.request_id` = '{request_id}'"
    )


def aliases(client, name: str) -> dict[str, str]:
    return dict(client.get_registered_model(name).aliases)


def test_approve_logs_exactly_one_decision_run_with_the_documented_record(
    svc: Services, mlflow: MlflowServer
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    d = dispatcher(svc, handlers(svc, mlflow.url))
    rid = approve(svc, name, "1")

    deliver(d)

    [item] = outbox(svc, LOG_DECISION)
    assert item.state == "delivered"
    [run] = decision_runs(client, rid)
    request = svc.queries.get(rid)
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "model_name": name,
        "model_version": "1",
        "decision": "approved",
        "approvers": "bob,carol",
        "decided_by": "bob,carol",
        "reason": request.reason,
        "decided_at": request.decided_at.isoformat(),
        "request_id": rid,
        "data_run_id": "run-data",
        "challenger_run_id": "run-challenger",
        "staging_run_id": f"kfp-{name}-1",
        "requested_by": "alice",
        "override_failed_gates": "false",
    }
    assert run.data.metrics == {
        "latency_p99_ms": 2.34,
        "disagreement_rate": 0.0,
        "challenger_accuracy": 0.9667,
    }
    tags = run.data.tags
    assert tags["approval.request_id"] == rid
    assert tags["approval.decision"] == "approved"
    assert tags["idempotency_key"] == item.key
    assert tags["mlflow.runName"].startswith(f"{name} v1 approved")
    version = client.get_model_version(name, "1")
    assert version.tags == {
        "approval.state": "approved",
        "approval.request_id": rid,
        "approval.by": "bob,carol",
    }
    assert "effect_delivered" in audit_kinds(svc, rid)


def test_the_effect_delivered_twice_still_leaves_one_run(
    svc: Services, mlflow: MlflowServer
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    hs = handlers(svc, mlflow.url)
    d = dispatcher(svc, hs)
    rid = approve(svc, name, "1")
    deliver(d)
    [item] = outbox(svc, LOG_DECISION)

    # At least once: a crash after the run was logged but before the row was marked
    # delivered makes the next sweep deliver it again.
    note = asyncio.run(hs[LOG_DECISION].deliver(item, svc.queries.get(rid)))

    assert note is not None and "already logged" in note
    assert len(decision_runs(client, rid)) == 1


def test_a_run_left_half_written_is_completed_not_duplicated(
    svc: Services, mlflow: MlflowServer
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    hs = handlers(svc, mlflow.url)
    rid = approve(svc, name, "1")
    [item] = outbox(svc, LOG_DECISION)
    log = hs[LOG_DECISION]
    exp_id = log.experiment_id(log.registry.client)
    client.create_run(exp_id, tags={"idempotency_key": item.key, "approval.request_id": rid})

    deliver(dispatcher(svc, hs))

    [run] = decision_runs(client, rid)
    assert run.info.status == "FINISHED"
    assert run.data.params["decision"] == "approved"


def test_reject_moves_challenger_to_rejected_and_logs_the_reason(
    svc: Services, mlflow: MlflowServer
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name, versions=2)
    client.set_registered_model_alias(name, "champion", "1")
    rid = reject(svc, name, "2", reason="p99 too high " + "x" * 1900)

    deliver(dispatcher(svc, handlers(svc, mlflow.url)))

    assert aliases(client, name) == {"champion": "1", "rejected": "2"}
    [run] = decision_runs(client, rid)
    assert run.data.params["decision"] == "rejected"
    assert run.data.params["approvers"] == ""
    assert run.data.params["decided_by"] == "bob"
    assert run.data.params["reason"].startswith("p99 too high xxx")
    assert len(run.data.params["reason"]) == 500  # bounded, marked with an ellipsis
    assert client.get_model_version(name, "2").tags["approval.state"] == "rejected"
    assert {i.state for i in outbox(svc, ARCHIVE_CHALLENGER)} == {"delivered"}


def test_a_challenger_that_moved_on_is_left_alone_and_that_is_recorded(
    svc: Services, mlflow: MlflowServer
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    rid = submit(svc, name, "1")
    # A newer challenger is registered before the old request is rejected.
    client.set_registered_model_alias(name, "challenger", add_version(client, name))
    svc.commands.vote(
        rid, Identity("cli", "bob"), VoteKind.REJECT, comment="superseded by v2 anyway"
    )

    deliver(dispatcher(svc, handlers(svc, mlflow.url)))

    assert aliases(client, name) == {"challenger": "2"}
    [item] = outbox(svc, ARCHIVE_CHALLENGER)
    assert item.state == "delivered"
    with svc.uow() as uow:
        [moved] = [r for r in uow.audit.records(rid) if r.kind == "challenger_moved_on"]
    assert moved.data["now_points_at"] == "2"
    assert moved.data["model_version"] == "1"


def test_expiry_with_archive_moves_challenger_to_archived(
    svc: Services, mlflow: MlflowServer, clock: FakeClock
) -> None:
    name = model_name()
    client = register_challenger(mlflow.url, name)
    rid = submit(svc, name, "1")
    clock.advance(hours=49)
    assert svc.commands.scan_due().expired == [rid]

    deliver(dispatcher(svc, handlers(svc, mlflow.url)))

    assert aliases(client, name) == {"archived": "1"}
    [run] = decision_runs(client, rid)
    assert run.data.params["decision"] == "expired"
    assert run.data.params["expiry_action"] == "archive"
    assert run.data.params["decided_by"] == "system:deadline"


def test_refused_credentials_are_retried_and_say_so(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bot")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "expired")
    with FakeHttpServer() as fake:
        fake.route("GET", r"/api/.*", lambda request: (401, "Unauthorized"))
        fake.route("POST", r"/api/.*", lambda request: (401, "Unauthorized"))
        d = dispatcher(svc, handlers(svc, fake.url))
        approve(svc, "iris-classifier", "3")

        deliver(d)

        [item] = outbox(svc, LOG_DECISION)
        assert item.state == "pending", "a 401 is retried (the secret may be rotated)"
        assert item.attempts == 1
        assert "refused the credentials" in (item.last_error or "")
        assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_mlflow_down_is_retried_then_delivered_once_it_is_back(
    svc: Services, clock: FakeClock, tmp_path: Path
) -> None:
    workdir, port = tmp_path / "mlflow", free_port()
    name = model_name()
    with mlflow_server(workdir, port=port) as server:
        client = register_challenger(server.url, name)
        rid = approve(svc, name, "1")
        d = dispatcher(svc, handlers(svc, server.url))
    # The server is stopped now.

    deliver(d)

    [item] = outbox(svc, LOG_DECISION)
    assert (item.state, item.attempts) == ("pending", 1)
    assert "Connection" in (item.last_error or "") or "connect" in (item.last_error or "")
    assert svc.queries.get(rid).state is State.APPROVED

    with mlflow_server(workdir, port=port) as server:
        assert deliver(d).count == 0, "not due before the backoff has passed"
        clock.advance(seconds=11)
        deliver(d)

        [item] = outbox(svc, LOG_DECISION)
        assert (item.state, item.attempts) == ("delivered", 2)
        assert len(decision_runs(client, rid)) == 1
        assert not outbox(svc, CHAT_NOTICE), "no dead letter"
