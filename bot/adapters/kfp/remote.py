"""The ``kfp`` launcher: start the promotion pipeline on a Kubeflow Pipelines server.

KFP has no run idempotency (display names are not unique), so the run's display name is the
outbox idempotency key and is looked up (``list_runs`` filtered on ``display_name``) before a
run is created, and again when creating it timed out (KFP may have made it anyway): a launch
that may have been sent twice is found, not repeated. ``kfp.Client`` is blocking: every call
runs in a worker thread, and gives up after ``timeout_seconds`` (``pipelines.kfp_client``),
so that a launch ends well inside the outbox lease (bot/adapters/kfp/wiring.py checks it).

Authentication: a bearer token (``APPROVAL_BOT_KFP_TOKEN``) or, in a cluster, the projected
ServiceAccount token file (``KF_PIPELINES_SA_TOKEN_PATH``), re-read on every request so that
rotation needs no restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bot.adapters.kfp.params import deploy_params, promotion_params
from bot.domain.model import ApprovalRequest
from bot.ports.effects import PermanentEffectError, RunStatus

TARGET_TTL = 60.0  # seconds a looked-up pipeline version is used before looking again
TIMEOUT_SECONDS = 2.0  # each KFP call (APPROVAL_BOT_KFP_TIMEOUT_SECONDS)
# The most KFP calls one launch makes: healthz (while the client is built), the run lookup,
# two pipeline names, the version, the experiment (look up, create, look up after a 409),
# the create, the lookup after a create that timed out.
CALLS_PER_LAUNCH = 10
log = logging.getLogger("bot.kfp")

SUCCEEDED = frozenset({"SUCCEEDED"})
FAILED = frozenset({"FAILED", "CANCELED", "SKIPPED"})
EQUALS = 1  # kfp.Client spells filter operations as the enum's number


class CreateTimedOutError(RuntimeError):
    """Creating a run timed out and no run of its name exists (yet): retry, looking it up."""


def run_status(run_id: str, state: str | None, error: str | None = None) -> RunStatus:
    """Map a KFP v2beta1 run state; CANCELING, PAUSED, PENDING, RUNNING are not terminal."""
    state = (state or "RUNTIME_STATE_UNSPECIFIED").upper()
    terminal = state in SUCCEEDED or state in FAILED
    detail = f"KFP run {run_id} {state}"
    if error:
        detail += f": {error}"
    return RunStatus(
        run_id=run_id,
        state=state,
        terminal=terminal,
        succeeded=state in SUCCEEDED,
        detail=detail[:500],
    )


def display_name_filter(name: str) -> str:
    return json.dumps(
        {"predicates": [{"key": "display_name", "operation": EQUALS, "stringValue": name}]}
    )


class KfpLauncher:
    """``PromotionLauncher`` over ``kfp.Client``."""

    def __init__(
        self,
        *,
        host: str | None,
        pipeline: str | Sequence[str],
        pipeline_version: str | None = None,
        experiment: str = "iris-promotion",
        namespace: str | None = None,
        token: str | None = None,
        token_path: str | None = None,
        service_account: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        overridable: Collection[str] = (),
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.pipelines = (pipeline,) if isinstance(pipeline, str) else tuple(pipeline)
        self.pipeline_version = pipeline_version
        self.experiment = experiment
        self.namespace = namespace
        self.token = token
        self.token_path = token_path
        self.service_account = service_account
        self.defaults = dict(defaults or {})
        self.overridable = frozenset(overridable)
        self.timeout_seconds = timeout_seconds
        self._client: Any = None
        self._target_cache: tuple[float, tuple[str, str]] | None = None
        self._experiment: str | None = None

    # -- PromotionLauncher ------------------------------------------------------

    async def launch(self, request: ApprovalRequest, idempotency_key: str) -> str:
        params = promotion_params(request, defaults=self.defaults, overridable=self.overridable)
        return await asyncio.to_thread(self._launch, idempotency_key, params)

    async def deploy(self, payload: Mapping[str, Any], idempotency_key: str) -> str:
        params = deploy_params(payload, defaults=self.defaults)
        return await asyncio.to_thread(self._launch, idempotency_key, params)

    async def status(self, run_id: str) -> RunStatus:
        return await asyncio.to_thread(self._status, run_id)

    # -- blocking ---------------------------------------------------------------

    def client(self) -> Any:
        if self._client is None:
            from pipelines.kfp_client import connect

            self._client = connect(
                self.host,
                namespace=self.namespace,
                token=self.token,
                token_path=self.token_path,
                timeout_seconds=self.timeout_seconds,
            )
        return self._client

    def find_run(self, client: Any, display_name: str) -> Any:
        response = client.list_runs(
            page_size=10,
            sort_by="created_at asc",
            namespace=self.namespace,
            filter=display_name_filter(display_name),
        )
        runs = [r for r in (response.runs or []) if r.display_name == display_name]
        return runs[0] if runs else None

    def _pipeline_id(self, client: Any) -> str:
        for name in self.pipelines:
            pipeline_id = client.get_pipeline_id(name)
            if pipeline_id:
                return str(pipeline_id)
        raise PermanentEffectError(
            f"no KFP pipeline named {' or '.join(map(repr, self.pipelines))} on {self.host}: "
            "upload it (`python -m pipelines submit promotion` or the KFP UI) "
            "or set APPROVAL_BOT_KFP_PIPELINE"
        )

    def _version_id(self, client: Any, pipeline_id: str) -> str:
        if self.pipeline_version:
            response = client.list_pipeline_versions(
                pipeline_id, page_size=10, filter=display_name_filter(self.pipeline_version)
            )
            found = [
                v
                for v in (response.pipeline_versions or [])
                if v.display_name == self.pipeline_version
            ]
            if not found:
                raise PermanentEffectError(
                    f"KFP pipeline {pipeline_id} has no version named {self.pipeline_version!r} "
                    "(APPROVAL_BOT_KFP_PIPELINE_VERSION)"
                )
            return str(found[0].pipeline_version_id)
        response = client.list_pipeline_versions(
            pipeline_id, page_size=1, sort_by="created_at desc"
        )
        versions = response.pipeline_versions or []
        if not versions:
            raise PermanentEffectError(f"KFP pipeline {pipeline_id} has no versions")
        return str(versions[0].pipeline_version_id)

    def _launch(self, key: str, params: Mapping[str, Any]) -> str:
        client = self.client()
        existing = self.find_run(client, key)
        if existing is not None:
            log.info("KFP run %s already exists for %s", existing.run_id, key)
            return str(existing.run_id)
        pipeline_id, version_id = self._target(client)
        experiment_id = self._experiment_id(client)
        try:
            run = client.run_pipeline(
                experiment_id=experiment_id,
                job_name=key,
                params=dict(params),
                pipeline_id=pipeline_id,
                version_id=version_id,
                service_account=self.service_account,
            )
        except Exception as error:
            from pipelines.kfp_client import timed_out

            if not timed_out(error):
                raise
            return self._after_timeout(client, key, error)
        log.info("started KFP run %s (%s)", run.run_id, key)
        return str(run.run_id)

    def _after_timeout(self, client: Any, key: str, error: BaseException) -> str:
        """Creating the run timed out: KFP may have made it. Find it, or fail (retryably)
        saying so; the next attempt looks it up again before creating anything."""
        existing = self.find_run(client, key)
        if existing is not None:
            log.warning("creating KFP run %s timed out, but KFP made it: %s", key, existing.run_id)
            return str(existing.run_id)
        raise CreateTimedOutError(
            f"KFP did not answer creating run {key} within {self.timeout_seconds:g}s and has no "
            f"run of that name yet; the next attempt looks it up again before creating ({error})"
        ) from error

    def _target(self, client: Any) -> tuple[str, str]:
        """The pipeline and version to run, looked up at most every ``TARGET_TTL`` seconds
        (a newly uploaded version is picked up within that)."""
        now = time.monotonic()
        if self._target_cache is None or self._target_cache[0] <= now:
            pipeline_id = self._pipeline_id(client)
            version_id = self._version_id(client, pipeline_id)
            self._target_cache = (now + TARGET_TTL, (pipeline_id, version_id))
        return self._target_cache[1]

    def _experiment_id(self, client: Any) -> str:
        """The experiment's id, made when missing; experiments do not move, so it is kept."""
        if self._experiment is None:
            from kfp_server_api.exceptions import ApiException

            try:
                experiment = client.create_experiment(self.experiment, namespace=self.namespace)
            except ApiException as exc:
                if exc.status != 409:  # another launch made it a moment ago: use that one
                    raise
                experiment = client.get_experiment(
                    experiment_name=self.experiment, namespace=self.namespace
                )
            self._experiment = str(experiment.experiment_id)
        return self._experiment

    def _status(self, run_id: str) -> RunStatus:
        from kfp_server_api.exceptions import ApiException

        try:
            run = self.client().get_run(run_id)
        except ApiException as exc:
            if exc.status == 404:
                return RunStatus(
                    run_id=run_id,
                    state="NOT_FOUND",
                    terminal=True,
                    succeeded=False,
                    detail=f"KFP run {run_id} no longer exists",
                )
            raise
        error = getattr(getattr(run, "error", None), "message", None)
        return run_status(run_id, run.state, error)
