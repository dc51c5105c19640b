"""Test data in one place: the example config and submission (examples/)."""

from __future__ import annotations

from typing import Any

import yaml

from bot.adapters.registry import identity_kinds
from bot.domain.directory import Directory
from bot.service import config
from bot.service.schemas import SubmissionIn

EXAMPLE_CONFIG = """
people:
  alice: {slack: U01ALICE, telegram: 1001, email: alice@example.com}
  bob:   {slack: U02BOB, telegram: 1002}
  carol: {slack: U03CAROL, telegram: 1003}
  dave:  {slack: U04DAVE}
groups:
  ml-leads: [alice, bob]
  sre: [carol]
policies:
  - model: "*"
    rules: [{group: ml-leads, min_approvals: 1}, {group: sre, min_approvals: 1}]
    deadline: 48h
    remind_every: 12h
    escalate_after: 24h
    escalate_to: sre
    on_expiry: archive
    allow_self_approval: false
    allow_override_failed_gates: false
"""


def config_dict(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG)
    for key, value in changes.items():
        raw[key] = value
    return raw


def parse_config(raw: Any) -> Directory:
    """The config as ``apply -f`` reads it, with the registered channels' identity kinds."""
    return config.parse_config(raw, identity_kinds())


def directory(**changes: Any) -> Directory:
    return parse_config(config_dict(**changes))


def policy_patch(**fields: Any) -> list[dict[str, Any]]:
    base = config_dict()["policies"][0]
    return [{**base, **fields}]


def gates(*, failed: bool = False, champion: float = -1.0) -> list[dict[str, Any]]:
    return [
        {"name": "latency_p99_ms", "value": 2.34, "threshold": 100, "op": "<=", "passed": True},
        {
            "name": "disagreement_rate",
            "value": 0.2 if failed else 0.0,
            "threshold": 0.05,
            "op": "<",
            "passed": not failed,
        },
        {
            "name": "challenger_accuracy",
            "value": 0.9667,
            "threshold": champion,
            "op": ">=",
            "passed": True,
        },
    ]


def submission(**fields: Any) -> SubmissionIn:
    body: dict[str, Any] = {
        "model_name": "iris-classifier",
        "model_version": "3",
        "challenger_run_id": "run-challenger",
        "data_run_id": "run-data",
        "staging_run_id": "kfp-staging-1",
        "requested_by": "alice",
        "gates": gates(),
        "links": {"mlflow": "http://mlflow.local/#/runs/x"},
        "promotion": {"parameters": {}},
    }
    body.update(fields)
    return SubmissionIn.model_validate(body)


def diverge(services: Any, model: str = "iris-classifier", *, champion: str | None = "2") -> str:
    """A divergence as the watch stores it (docs/watch.md): serving v1, @champion ``champion``
    (None: no version); returns its id. Its alert goes to every channel (the outbox)."""
    from bot.domain.divergence import Champion, Divergence, Observation, Served, WatchTarget

    seen = Observation(
        WatchTarget(model, "models/iris-serving"),
        Served("s3://mlflow/artifacts/1/v1/model", changed_by="kubectl-patch"),
        Champion(champion, f"s3://mlflow/artifacts/1/v{champion}/model" if champion else None),
        served_version="1",
    )
    found = Divergence.detect(seen, services.clock.now())
    with services.uow() as uow:
        assert uow.divergences.add(found)
        uow.commit()
    return found.id
