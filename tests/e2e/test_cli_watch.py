"""`approval-bot watch list|alias-back` (docs/watch.md) through the real CLI, on SQLite and
PostgreSQL: a divergence the watch stored is listed, a person outside the policy's groups is
refused in one line, an approver's request is audited and leaves the MLflow effect for the
server."""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.domain.divergence import Champion, Divergence, Observation, Served, WatchTarget
from bot.service.clock import SystemClock
from tests.e2e.cli import Cli

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


def store_divergence(db_url: str) -> str:
    seen = Observation(
        WatchTarget("iris-classifier", "models/iris-serving"),
        Served("s3://mlflow/artifacts/1/models/m-a/artifacts"),
        Champion("3", "s3://mlflow/artifacts/1/models/m-c/artifacts"),
        served_version="2",
    )
    found = Divergence.detect(seen, SystemClock().now())
    engine = make_engine(db_url)
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            assert uow.divergences.add(found)
            uow.commit()
    finally:
        engine.dispose()
    return found.id


def test_watch_list_and_alias_back(db_url: str, tmp_path: Path) -> None:
    cli = Cli(db_url, tmp_path)
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    assert "agree for every watched model" in cli.ok("watch", "list")
    did = store_divergence(db_url)
    listed = cli.ok("watch", "list")
    assert did in listed and "iris-classifier" in listed and "v2" in listed and "v3" in listed

    refused = cli.fails("watch", "alias-back", did, "--as", "nobody")
    assert "nobody" in refused
    not_lead = cli.fails("watch", "alias-back", did, "--as", "carol")  # sre: not iris' approver
    assert not_lead.endswith("that is for ml-leads (the policy's approver groups, docs/watch.md)")
    said = cli.ok("watch", "alias-back", did, "--as", "alice")
    assert "@champion goes back to v2" in said
    effects = json.loads(cli.ok("outbox", "list", "--format", "json"))
    [effect] = [e for e in effects if e["kind"] == "mlflow.alias_back"]
    assert effect["state"] == "pending"
    missing = cli.fails("watch", "alias-back", "nope", "--as", "alice")
    assert missing.endswith("no divergence 'nope' (docs/watch.md)")
