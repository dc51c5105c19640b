"""The ``local`` launcher: run the promotion pipeline in this process with ``kfp.local``.

The embedded default, for a laptop or a single VM: ``launch`` starts the real promotion
pipeline (``pipelines/``, ``kfp.local.SubprocessRunner(use_venv=False)``) in a background
thread and returns at once, like a KFP server would; ``status`` answers from a small JSON file
per run under ``<root>/runs/`` (task outputs go under ``<root>/``, ``var/kfp-local`` by
default). kfp.local keeps global state, so runs in one process are serialised.

The run id is derived from the idempotency key, and an existing run file means "already
launched": a second delivery never starts a second run. The run thread is not a daemon, so a
process that exits waits for its run to finish; a run that was cut off anyway (SIGKILL) is
reported as failed (``interrupted``) after a restart.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import threading
import traceback
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.adapters.kfp.params import deploy_params, promotion_params
from bot.domain.errors import ConfigError
from bot.domain.model import ApprovalRequest
from bot.ports.effects import PermanentEffectError, RunStatus

log = logging.getLogger("bot.kfp.local")

PIPELINE = "promotion"
REQUIRED_ENV = ("MLFLOW_TRACKING_URI", "APPROVAL_BOT_URL", "APPROVAL_BOT_API_TOKEN")
_RUN_LOCK = threading.Lock()  # kfp.local.init is process-global
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # kfp.local colours its messages

# What the pipelines' steps import beyond the bot (pyproject's `pipelines` extra).
PIPELINE_PACKAGES = {"mlflow": "mlflow", "sklearn": "scikit-learn"}

Runner = Callable[[str, Mapping[str, Any], Path, Mapping[str, str]], dict[str, Any]]


def missing_pipeline_packages() -> list[str]:
    """The pipelines' packages this install lacks (the bot's image has none of them)."""
    return [name for module, name in PIPELINE_PACKAGES.items() if not _installed(module)]


def require_pipeline_packages() -> None:
    """Refuse to start a launcher whose runs would all fail: the bot's image leaves the
    pipelines' packages out (README "Deploy on Kubernetes", Images)."""
    if missing := missing_pipeline_packages():
        raise ConfigError(
            "APPROVAL_BOT_LAUNCHER=local runs the promotion pipeline in this process and needs "
            f"{', '.join(missing)}, which this install lacks: run the bot from the "
            "approval-bot-pipelines image (the chart does with kfp.launcher=local), install "
            "'approval-bot[pipelines]', or set APPROVAL_BOT_LAUNCHER=kfp"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # in sys.modules without a spec
        return True


def run_pipeline(
    name: str, params: Mapping[str, Any], root: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """Run a pipeline from ``pipelines/`` with kfp.local; raise if a task fails."""
    from pipelines.runner import run_local

    return run_local(name, params, pipeline_root=root, env=env)


def pipeline_inputs(name: str) -> frozenset[str]:
    from pipelines.runner import pipeline

    return frozenset((pipeline(name).component_spec.inputs or {}).keys())


def run_id_for(key: str) -> str:
    return "local-" + _UNSAFE.sub("-", key)


class LocalLauncher:
    """``PromotionLauncher`` with kfp.local; see the module docstring."""

    def __init__(
        self,
        *,
        root: Path,
        env: Mapping[str, str],
        defaults: Mapping[str, Any] | None = None,
        overridable: Collection[str] = (),
        runner: Runner = run_pipeline,
        pipeline: str = PIPELINE,
    ) -> None:
        self.root = root
        self.env = dict(env)
        self.defaults = dict(defaults or {})
        self.overridable = frozenset(overridable)
        self.runner = runner
        self.pipeline = pipeline
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    # -- PromotionLauncher ------------------------------------------------------

    async def launch(self, request: ApprovalRequest, idempotency_key: str) -> str:
        self._require_env()
        params = promotion_params(
            request,
            defaults=self.defaults,
            overridable=self.overridable,
            accepted=pipeline_inputs(self.pipeline),
        )
        return await asyncio.to_thread(self.start, idempotency_key, params)

    async def deploy(self, payload: Mapping[str, Any], idempotency_key: str) -> str:
        self._require_env()
        params = deploy_params(
            payload, defaults=self.defaults, accepted=pipeline_inputs(self.pipeline)
        )
        return await asyncio.to_thread(self.start, idempotency_key, params)

    async def status(self, run_id: str) -> RunStatus:
        return await asyncio.to_thread(self.read, run_id)

    def _require_env(self) -> None:
        missing = [k for k in REQUIRED_ENV if not self.env.get(k)]
        if missing:
            # The pipeline would only fail in its first task; say what to set instead.
            raise PermanentEffectError(
                f"the local launcher needs {', '.join(missing)} (the promotion pipeline's "
                "guard asks this bot's API, and its tasks use MLflow)"
            )

    # -- blocking ---------------------------------------------------------------

    def _path(self, run_id: str) -> Path:
        return self.runs_dir / f"{_UNSAFE.sub('-', run_id)}.json"

    def _write(self, run_id: str, record: dict[str, Any]) -> None:
        path = self._path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        os.replace(tmp, path)  # readers never see half a file

    def _load(self, run_id: str) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self._path(run_id).read_text())
        except FileNotFoundError:
            return None
        return loaded

    def start(self, key: str, params: Mapping[str, Any]) -> str:
        """Start the run for ``key`` unless it exists; return its run id."""
        run_id = run_id_for(key)
        with self._lock:
            if self._load(run_id) is not None:
                log.info("local run %s already exists for %s", run_id, key)
                return run_id
            record = {
                "run_id": run_id,
                "key": key,
                "pipeline": self.pipeline,
                "params": dict(params),
                "state": "PENDING",
                "started_at": datetime.now(UTC).isoformat(),
                "pid": os.getpid(),
            }
            self._write(run_id, record)
            # Not a daemon: a process that exits (a server stopping, `approval-bot outbox
            # deliver`) first lets the promotion finish instead of cutting it off between the
            # alias switch and the deploy.
            thread = threading.Thread(
                target=self._run, args=(run_id, record), name=f"kfp-local-{run_id}", daemon=False
            )
            self._threads[run_id] = thread
            thread.start()
        log.info("started local run %s (%s)", run_id, key)
        return run_id

    def _run(self, run_id: str, record: dict[str, Any]) -> None:
        with _RUN_LOCK:
            self._write(run_id, {**record, "state": "RUNNING"})
            try:
                outputs = self.runner(
                    self.pipeline, record["params"], self.root / "pipeline-root", self.env
                )
            except Exception as exc:  # a failed task, a bad environment, anything
                log.warning("local run %s failed: %s", run_id, exc)
                self._write(
                    run_id,
                    {
                        **record,
                        "state": "FAILED",
                        "error": _ANSI.sub("", f"{type(exc).__name__}: {exc}")[:1000],
                        "traceback": traceback.format_exc()[-4000:],
                        "finished_at": datetime.now(UTC).isoformat(),
                    },
                )
            else:
                self._write(
                    run_id,
                    {
                        **record,
                        "state": "SUCCEEDED",
                        "outputs": outputs,
                        "finished_at": datetime.now(UTC).isoformat(),
                    },
                )

    def read(self, run_id: str) -> RunStatus:
        thread = self._threads.get(run_id)
        alive = thread is not None and thread.is_alive()  # before reading: see below
        record = self._load(run_id)
        if record is None:
            return RunStatus(run_id, "NOT_FOUND", True, False, f"no local run {run_id}")
        state = str(record.get("state"))
        if state in ("SUCCEEDED", "FAILED"):
            if state == "SUCCEEDED":
                outputs = dict(record.get("outputs") or {})
                if (record.get("params") or {}).get("deploy_target") == "none":
                    # Nothing was served: the URI KServe would load from (s3://… on a
                    # cluster) names no place that exists here.
                    outputs.pop("storage_uri", None)
                shown = ", ".join(f"{k}={v}" for k, v in sorted(outputs.items()) if v != "")
                detail = f"local run {run_id} SUCCEEDED" + (f": {shown}" if shown else "")
            else:
                detail = f"local run {run_id} FAILED: {record.get('error', '')}"
            return RunStatus(run_id, state, True, state == "SUCCEEDED", detail[:500])
        if not alive:
            # Started by an earlier process: its thread wrote a final state before ending, so
            # a record that is still pending or running was cut off.
            return RunStatus(
                run_id,
                "FAILED",
                True,
                False,
                f"local run {run_id} was interrupted (the bot stopped while it ran)",
            )
        return RunStatus(run_id, state, False, False, f"local run {run_id} {state}")

    def join(self, run_id: str, timeout: float | None = None) -> None:
        """Wait for a run started by this process (tests, shutdown)."""
        thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)
