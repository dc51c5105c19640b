"""Adapter tests: the real service on SQLite, the real outbox dispatcher, a real MLflow server.

One MLflow server serves the whole session (about 6 s to start; one per pytest-xdist worker);
tests keep apart by using a fresh registered model name each.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import upgrade
from bot.adapters.registry import identity_kinds
from bot.domain.model import VoteKind
from bot.domain.outbox import OutboxItem
from bot.ports.effects import EffectHandler
from bot.service import Services, build_services
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from tests import builders
from tests.fakes import FakeClock, NotedHandler
from tests.support.mlflow_server import MlflowServer, mlflow_server

FAST_MLFLOW_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def fast_mlflow_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """No client-side retries: the outbox is what retries in these tests."""
    for key, value in FAST_MLFLOW_HTTP.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def svc(sqlite_url: str, clock: FakeClock) -> Iterator[Services]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    service = build_services(
        SqlUnitOfWorkFactory(engine),
        clock=clock,
        channels=("console",),
        identities=identity_kinds(),
    )
    service.admin.apply(builders.directory())
    try:
        yield service
    finally:
        engine.dispose()


def dispatcher(svc: Services, handlers: dict[str, EffectHandler], **retry: Any) -> OutboxDispatcher:
    """The real dispatcher; everything without a handler of its own is noted delivered."""
    policy = {"max_attempts": 3, "base_seconds": 10, "cap_seconds": 60, **retry}
    return OutboxDispatcher(
        svc.uow,
        {"*": NotedHandler(), **handlers},
        clock=svc.clock,
        retry=RetryPolicy(**policy),
        jitter=lambda: 0.0,
    )


def deliver(d: OutboxDispatcher) -> Any:
    return asyncio.run(d.deliver_due())


def model_name() -> str:
    return f"iris-{uuid.uuid4().hex[:8]}"


def submit(svc: Services, name: str, version: str, **fields: Any) -> str:
    body = builders.submission(
        model_name=name, model_version=version, staging_run_id=f"kfp-{name}-{version}", **fields
    )
    return svc.commands.submit(body).request.id


def approve(svc: Services, name: str, version: str, **fields: Any) -> str:
    rid = submit(svc, name, version, **fields)
    svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE, comment="looks good")
    svc.commands.vote(rid, Identity("cli", "carol"), VoteKind.APPROVE)
    return rid


def reject(svc: Services, name: str, version: str, reason: str = "too slow") -> str:
    rid = submit(svc, name, version)
    svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.REJECT, comment=reason)
    return rid


def outbox(svc: Services, kind: str | None = None) -> list[OutboxItem]:
    with svc.uow() as uow:
        return [i for i in uow.outbox.items(limit=1000) if kind is None or i.kind == kind]


def audit_kinds(svc: Services, rid: str) -> list[str]:
    with svc.uow() as uow:
        return [r.kind for r in uow.audit.records(rid)]


def register_challenger(tracking_uri: str, name: str, versions: int = 1) -> Any:
    """A registered model with ``versions`` versions; the last one is @challenger."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    client.create_registered_model(name)
    for _ in range(versions):
        add_version(client, name)
    client.set_registered_model_alias(name, "challenger", str(versions))
    return client


def add_version(client: Any, name: str) -> str:
    """A new version of ``name`` whose source is a (model-less) training run."""
    experiment = client.get_experiment_by_name("training") or None
    exp_id = experiment.experiment_id if experiment else client.create_experiment("training")
    run = client.create_run(exp_id)
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(
        name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    return str(version.version)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
