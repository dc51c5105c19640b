"""`approval-bot demo`: the data, training and staging pipelines run locally (kfp.local),
then the challenger is submitted for approval, as the staging pipeline does on a cluster.

It looks for the running bot at ``APPROVAL_BOT_URL`` (or ``APPROVAL_BOT_PUBLIC_URL``). When
one answers and ``APPROVAL_BOT_API_TOKEN`` is set (``make run`` and ``make demo`` share one),
the staging pipeline's own notify step submits to it; otherwise the request goes into this
command's database with the gate values the pipeline measured, and the summary says how to
see it. The pipelines' logs go to a file; the terminal gets one line per step and a summary.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.adapters.kfp.local import missing_pipeline_packages
from bot.domain.errors import DomainError
from bot.service.commands import Commands
from bot.service.schemas import SubmissionIn


class DemoError(DomainError):
    code = "demo"


NEEDS_MLFLOW = (
    "the demo needs an MLflow tracking server: `make run` starts one (then run `make demo` in "
    "a second shell), or start it with `make mlflow` and set "
    "MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
)


@dataclass(frozen=True, slots=True)
class Bot:
    """The running bot, as far as the demo can tell."""

    url: str
    answers: bool
    token: str | None

    @property
    def usable(self) -> bool:
        return self.answers and bool(self.token)


@dataclass(frozen=True, slots=True)
class DemoResult:
    request_id: str
    submitted_by: str  # "staging pipeline" (through the bot's API) or "demo" (database)
    outputs: dict[str, Any]
    log_path: Path


def answers(url: str, timeout: float = 3.0) -> bool:
    """Does an HTTP server answer ``url`` with 200 (blocking; this is a CLI command)?"""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def find_bot(url: str | None, token: str | None) -> Bot | None:
    if not url or not url.startswith(("http://", "https://")):
        return None
    return Bot(url.rstrip("/"), answers(f"{url.rstrip('/')}/readyz"), token)


def check_token(bot: Bot) -> None:
    """Does the running bot take the token the staging pipeline will submit with? Asked before
    any pipeline runs: a refusal found at the end cost the three pipelines, left a staged
    ``@challenger`` nobody can decide, and said why only in the pipelines' log."""
    if not bot.usable:
        return
    call = urllib.request.Request(  # noqa: S310 (http only)
        f"{bot.url}/api/v1/approvals?limit=1", headers={"Authorization": f"Bearer {bot.token}"}
    )
    try:
        with urllib.request.urlopen(call, timeout=10):  # noqa: S310
            return
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise DemoError(
                f"the bot at {bot.url} refused APPROVAL_BOT_API_TOKEN (401: not a token it "
                "accepts): use the one the bot was started with (`make run` and `make demo` "
                "both read var/api-token unless APPROVAL_BOT_API_TOKEN is set) or one from "
                "`approval-bot token create`; no pipeline was run"
            ) from None
        raise DemoError(
            f"the bot at {bot.url} answered HTTP {exc.code} to the demo's first call; "
            "no pipeline was run"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DemoError(f"the bot at {bot.url} stopped answering ({reason})") from None


def check_mlflow(tracking_uri: str | None) -> str:
    if not tracking_uri:
        raise DemoError(NEEDS_MLFLOW)
    if tracking_uri.startswith(("http://", "https://")) and not answers(
        f"{tracking_uri.rstrip('/')}/health"
    ):
        raise DemoError(
            f"no MLflow server answers at {tracking_uri}: {NEEDS_MLFLOW.split(': ', 1)[1]}"
        )
    return tracking_uri


def _pipeline_env(
    tracking_uri: str, bot: Bot | None, mlflow_ui: str | None, say: Callable[[str], None]
) -> dict[str, str]:
    """What the pipelines are run with: where MLflow is, and the bot when it can be used
    (saying which way the request will go)."""
    env = {"MLFLOW_TRACKING_URI": tracking_uri, "APPROVAL_BOT_URL": ""}
    if bot is not None and bot.usable:
        assert bot.token is not None
        env |= {"APPROVAL_BOT_URL": bot.url, "APPROVAL_BOT_API_TOKEN": bot.token}
        say(f"bot: {bot.url} answers; the staging pipeline will submit to it")
    elif bot is not None and bot.answers:
        say(
            f"bot: {bot.url} answers, but APPROVAL_BOT_API_TOKEN is not set: submitting to the "
            "database directly (`make demo` sets both)"
        )
    elif bot is not None:
        say(
            f"bot: nothing answers at {bot.url}: the request goes into the database and waits; "
            "start the bot with `make run` to decide it in the browser"
        )
    if mlflow_ui:
        env["MLFLOW_UI_URL"] = mlflow_ui
    return env


@contextlib.contextmanager
def _captured(log: TextIO) -> Iterator[None]:
    """kfp.local prints every task's executor input and logs: into the log file."""
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def _check_pipeline_packages() -> None:
    if missing := missing_pipeline_packages():
        raise DemoError(
            f"the demo runs the pipelines here and needs {', '.join(missing)}: `make venv` "
            "installs them (pip install 'approval-bot[pipelines]')"
        )


def run_demo(
    commands: Commands,
    *,
    tracking_uri: str | None,
    model_name: str,
    requested_by: str,
    latency_iterations: int,
    bot: Bot | None,
    pipeline_root: Path,
    mlflow_ui: str | None,
    say: Callable[[str], None],
) -> DemoResult:
    if bot is not None:
        check_token(bot)
    tracking_uri = check_mlflow(tracking_uri)
    _check_pipeline_packages()
    from pipelines.runner import run_local

    env = _pipeline_env(tracking_uri, bot, mlflow_ui, say)
    pipeline_root.mkdir(parents=True, exist_ok=True)
    log_path = pipeline_root / "demo.log"

    with log_path.open("a", encoding="utf-8") as log:

        def step(name: str, **params: Any) -> dict[str, Any]:
            say(f"→ {name} pipeline …")
            try:
                with _captured(log):
                    outputs = run_local(name, params, pipeline_root=pipeline_root, env=env)
            except RuntimeError as exc:
                first = str(exc).splitlines()[0]
                raise DemoError(f"the {name} pipeline failed: {first} (log: {log_path})") from None
            return outputs

        data_run_id = str(step("data")["data_run_id"])
        step("training", data_run_id=data_run_id, model_name=model_name)
        staging = step(
            "staging",
            data_run_id=data_run_id,
            model_name=model_name,
            latency_iterations=latency_iterations,
            requested_by=requested_by,
        )
    request_id = str(staging.get("approval_request_id") or "")
    if request_id:
        return DemoResult(request_id, "staging pipeline", staging, log_path)
    if bot is not None and bot.usable:
        where = f"see {log_path} (search for 'approval bot')"
        raise DemoError(f"the staging pipeline could not submit to {bot.url}: {where}")
    request_id = _submit_measured(
        commands,
        tracking_uri=tracking_uri,
        mlflow_ui=mlflow_ui or tracking_uri,
        model_name=model_name,
        requested_by=requested_by,
        data_run_id=data_run_id,
        staging=staging,
    )
    return DemoResult(request_id, "demo", staging, log_path)


def _links(
    mlflow_ui: str, model_name: str, version: str, run_id: str, experiment_id: str | None
) -> dict[str, str]:
    if not mlflow_ui.startswith(("http://", "https://")):
        return {}
    base = mlflow_ui.rstrip("/")
    links = {"MLflow model version": f"{base}/#/models/{model_name}/versions/{version}"}
    if run_id and experiment_id:
        links["MLflow challenger run"] = f"{base}/#/experiments/{experiment_id}/runs/{run_id}"
    return links


def _submit_measured(
    commands: Commands,
    *,
    tracking_uri: str,
    mlflow_ui: str,
    model_name: str,
    requested_by: str,
    data_run_id: str,
    staging: dict[str, Any],
) -> str:
    """Submit the staged challenger with the gate values the staging pipeline measured."""
    from mlflow.tracking import MlflowClient

    from pipelines.steps.staging import evaluate_gates, submission_body

    client = MlflowClient(tracking_uri)
    version = str(staging["model_version"])
    run_id = client.get_model_version(model_name, version).run_id or ""
    experiment_id = client.get_run(run_id).info.experiment_id if run_id else None
    gates = evaluate_gates(
        latency_p99_ms=float(staging["latency_p99_ms"]),
        disagreement_rate=float(staging["disagreement_rate"]),
        challenger_accuracy=float(staging["challenger_accuracy"]),
        champion_accuracy=float(staging["champion_accuracy"]),
    )
    body = submission_body(
        model_name=model_name,
        model_version=version,
        challenger_run_id=run_id,
        data_run_id=data_run_id,
        staging_run_id=f"demo-{data_run_id}",
        requested_by=requested_by,
        gates=gates,
        links=_links(mlflow_ui, model_name, version, run_id, experiment_id),
        evidence=staged_evidence(client, model_name, version),
    )
    return commands.submit(SubmissionIn.model_validate(body)).request.id


def staged_evidence(client: Any, model_name: str, version: str) -> list[dict[str, str]]:
    """The pictures the staging pipeline rendered for this version (its MLflow run in
    ``iris-staging``, README.md "Evidence"), as a submission carries them."""
    import base64
    import tempfile

    from pipelines.steps.evidence import STAGING_EXPERIMENT

    experiment = client.get_experiment_by_name(STAGING_EXPERIMENT)
    wanted = f"tags.model_name = '{model_name}' and tags.model_version = '{version}'"
    runs = (
        client.search_runs(
            [experiment.experiment_id], wanted, order_by=["start_time DESC"], max_results=1
        )
        if experiment is not None
        else []
    )
    if not runs:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(client.download_artifacts(runs[0].info.run_id, "evidence", tmp))
        alts = json.loads((folder / "alt.json").read_text())
        return [
            {"data": base64.b64encode((folder / name).read_bytes()).decode(), "alt": alt}
            for name, alt in alts.items()
        ]


def _gate(g: dict[str, Any]) -> str:
    mark = "passed" if g["passed"] else "FAILED"
    if g.get("no_champion"):
        return f"{g['name']} = {g['value']:g} (no champion yet) {mark}"
    return f"{g['name']} = {g['value']:g} {g['op']} {g['threshold']:g} {mark}"


def summary(
    request: dict[str, Any], result: DemoResult, *, console: str | None, cli: str = "approval-bot"
) -> list[str]:
    """What the person who ran the demo needs: the request, its gates, and where to click.

    ``request`` is the request object of the API and ``--format json``; ``cli`` is how this
    command can be typed here (``.venv/bin/approval-bot`` unless the venv is activated)."""
    rid = request["id"]
    lines = [
        f"submitted {rid}: {request['model_name']} v{request['model_version']} "
        f"({request['state']}, by the {result.submitted_by})",
        "gates:",
    ]
    lines += [f"  {_gate(g)}" for g in request["gates"]]
    if console:
        lines.append(f"decide: open {console.rstrip('/')}/requests/{rid}")
    lines.append(f"   or: {cli} show {rid}   |   {cli} approve {rid} --as bob")
    lines.append(f"pipeline logs: {result.log_path}")
    return lines


def from_api(bot: Bot, request_id: str) -> dict[str, Any]:
    """The request as the bot's API shows it (the bot may use another database)."""
    req = urllib.request.Request(  # noqa: S310 (http only)
        f"{bot.url}/api/v1/approvals/{request_id}",
        headers={"Authorization": f"Bearer {bot.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
        loaded: dict[str, Any] = json.loads(response.read())
    return loaded
