"""`approval-bot demo`: real pipelines (kfp.local) against a real MLflow server, then a
real request in the bot's database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.db.migrate import upgrade
from bot.entrypoints.cli.common import typed_name
from bot.entrypoints.demo import DemoError, run_demo
from tests.e2e.cli import Cli
from tests.support.bot_server import prepare_database, running_bot
from tests.support.mlflow_server import mlflow_server
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "demo-test-token-abcdefghijklmnopqrstuvwxyz"


def test_demo_needs_mlflow_and_says_how_to_start_it(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(db_url)
    cli = Cli(db_url, tmp_path)
    cli.env["MLFLOW_TRACKING_URI"] = ""
    line = cli.fails("demo")
    assert "needs an MLflow tracking server" in line and "make run" in line
    cli.env["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{free_port()}"
    line = cli.fails("demo")
    assert "no MLflow server answers at http://127.0.0.1:" in line and "make run" in line


def test_demo_without_the_pipelines_packages_says_how_to_install_them(tmp_path, monkeypatch):
    """The bot's image leaves the `pipelines` extra out (README "Deploy on Kubernetes")."""
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    with pytest.raises(DemoError) as refused:
        run_demo(
            None,  # no database: the demo stops before it needs one
            tracking_uri=(tmp_path / "mlruns").as_uri(),
            model_name="iris-classifier",
            requested_by="demo",
            latency_iterations=1,
            bot=None,
            pipeline_root=tmp_path / "kfp",
            mlflow_ui=None,
            say=lambda _line: None,
        )

    assert "needs scikit-learn" in str(refused.value)
    assert "approval-bot[pipelines]" in str(refused.value)
    assert not (tmp_path / "kfp").exists()  # nothing ran


def test_demo_submits_the_challenger_the_pipelines_staged(tmp_path):
    """No bot answers: the request goes into the database, and the demo says so and how to
    decide it, in a short summary (the pipelines' logs go to a file)."""
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)  # migrated, example config applied
    cli = Cli(db_url, tmp_path)
    nobody = f"http://127.0.0.1:{free_port()}"
    with mlflow_server(tmp_path / "mlflow") as server:
        cli.env.update(
            {
                "MLFLOW_TRACKING_URI": server.url,
                "APPROVAL_BOT_URL": nobody,
                "APPROVAL_BOT_DATA_DIR": str(tmp_path / "data"),
            }
        )
        # p99 of 200, not the max of 10 (tests/pipelines/test_flow.py, LATENCY_ITERATIONS)
        res = cli("demo", "--latency-iterations", "200")
    assert res.code == 0, res.err
    out = res.out
    assert out.startswith("submitted ")
    assert f"nothing answers at {nobody}" in res.err and "make run" in res.err
    assert len(out.splitlines()) + len(res.err.splitlines()) <= 15, "a summary, not a log"
    assert "ERROR" not in res.err
    (request,) = json.loads(cli.ok("pending", "--format", "json"))
    assert request["model_name"] == "iris-classifier" and request["model_version"] == "1"
    assert request["requested_by"] == "staging-pipeline"
    gates = {g["name"]: g for g in request["gates"]}
    assert set(gates) == {"latency_p99_ms", "disagreement_rate", "challenger_accuracy"}
    assert gates["challenger_accuracy"]["no_champion"] is True
    assert all(g["passed"] for g in gates.values())
    assert request["data_run_id"] and request["challenger_run_id"]
    assert out.splitlines()[0].startswith(f"submitted {request['id']}: iris-classifier v1")
    assert "challenger_accuracy = 0.9667 (no champion yet) passed" in out
    hint = re.search(r"^   or: (.+) show (\S+)   \|   (.+) approve \S+ --as bob$", out, re.M)
    assert hint and hint.group(2) == request["id"], out
    # The hint runs as printed (here: this Python with -m bot), in this shell's environment.
    shown = subprocess.run(
        f"{hint.group(1)} show {request['id']}",
        shell=True,
        env={**os.environ, **cli.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{request['id']}  iris-classifier v1  [pending]")
    # The pictures the staging pipeline rendered (and logged to MLflow) came along.
    assert "#0 image/png 800×500 px" in shown.stdout and "#1 image/png 800×500 px" in shown.stdout
    assert "no champion yet" in shown.stdout.split("evidence:", 1)[1]
    links = request["links"]
    assert links["MLflow model version"] == (f"{server.url}/#/models/iris-classifier/versions/1")
    assert links["MLflow challenger run"].endswith(f"/runs/{request['challenger_run_id']}")
    log = tmp_path / "data" / "kfp-local" / "demo" / "demo.log"
    assert "Running pipeline" in log.read_text()


def test_a_wrong_token_fails_at_once_before_any_pipeline(tmp_path):
    """The bot answers but refuses the token: the demo says so (the 401, and which token to
    use) before it runs a pipeline, so nothing is staged in MLflow for nobody to decide."""
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    with running_bot(db_url, tmp_path, env={"APPROVAL_BOT_API_TOKEN": TOKEN}) as bot:
        cli = Cli(db_url, tmp_path)
        cli.env.update(
            {
                "APPROVAL_BOT_URL": bot.url,
                "APPROVAL_BOT_API_TOKEN": "not-the-bots-token-0123456789abcdef",
                # Nothing answers here: a demo that went on to MLflow would fail differently.
                "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
                "APPROVAL_BOT_DATA_DIR": str(tmp_path / "data"),
            }
        )
        res = cli("demo")
    assert res.code != 0
    (line,) = res.err.strip().splitlines()
    assert line.startswith(f"error: the bot at {bot.url} refused APPROVAL_BOT_API_TOKEN (401")
    assert "var/api-token" in line and "no pipeline was run" in line
    assert not (tmp_path / "data" / "kfp-local").exists(), "a pipeline ran"
    assert res.out == ""


@pytest.mark.parametrize(
    ("argv0", "path", "typed"),
    [
        (".venv/bin/approval-bot", "/usr/bin:/bin", ".venv/bin/approval-bot"),  # make demo
        (".venv/bin/approval-bot", ".venv/bin:/usr/bin", "approval-bot"),  # venv activated
    ],
)
def test_hints_name_the_command_as_it_can_be_typed_here(monkeypatch, argv0, path, typed):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [argv0, "demo"])
    monkeypatch.setenv(
        "PATH", ":".join(str(ROOT / p) if p.startswith(".") else p for p in path.split(":"))
    )
    assert typed_name() == typed
