"""`approval-bot demo`: real pipelines (kfp.local) against a real MLflow server, then a
real request in the bot's database."""

from __future__ import annotations

import json

from bot.adapters.db.migrate import upgrade
from tests.e2e.cli import Cli
from tests.support.bot_server import prepare_database
from tests.support.mlflow_server import mlflow_server


def test_demo_needs_mlflow_and_says_how_to_start_it(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(db_url)
    cli = Cli(db_url, tmp_path)
    cli.env["MLFLOW_TRACKING_URI"] = ""
    line = cli.fails("demo")
    assert "needs an MLflow tracking server" in line and "make mlflow" in line


def test_demo_submits_the_challenger_the_pipelines_staged(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)  # migrated, example config applied
    cli = Cli(db_url, tmp_path)
    with mlflow_server(tmp_path / "mlflow") as server:
        cli.env.update({"MLFLOW_TRACKING_URI": server.url, "APPROVAL_BOT_URL": ""})
        out = cli.ok("demo", "--latency-iterations", "10")
    assert out.startswith("submitted ")
    (request,) = json.loads(cli.ok("pending", "--format", "json"))
    assert request["model_name"] == "iris-classifier" and request["model_version"] == "1"
    assert request["requested_by"] == "staging-pipeline"
    gates = {g["name"]: g for g in request["gates"]}
    assert set(gates) == {"latency_p99_ms", "disagreement_rate", "challenger_accuracy"}
    assert gates["challenger_accuracy"]["no_champion"] is True
    assert all(g["passed"] for g in gates.values())
    assert request["data_run_id"] and request["challenger_run_id"]
    assert request["id"] in out
