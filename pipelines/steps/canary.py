"""A canary promotion on KServe Serverless: traffic in steps, analysis at each, rollback.

The promotion patches the new ``storageUri`` with ``spec.predictor.canaryTrafficPercent`` set
to the first step. KServe then builds the Knative route ``[{latestRevision: true, percent:
p}, {tag: prev, revisionName: <latestRolledoutRevision>, percent: 100 - p}]`` (docs/kserve.md,
"Canary"): the canary is the new ``latestCreatedRevision`` once it is ``latestReadyRevision``
and holds p% of ``status.components.predictor.traffic``. At each step the promotion waits the
dwell time (reading the bot's control signal meanwhile: pause, resume, roll back, promote
now; while a step is not Ready yet, and between steps, a rollback is heeded at once too),
runs the analysis (``pipelines.steps.analysis``) and moves to the next step on a pass;
the last step removes ``canaryTrafficPercent`` and waits for 100% as a plain promotion does.

A failed analysis, a rollback asked from chat, or any other failure rolls back
(``roll_back``): ``canaryTrafficPercent: 0`` first (the route sends everything to the
previous revision at once, without waiting for any new pod), then the previous
``storageUri`` (a new revision of the old model, still at 0%), then, once that one is ready,
``canaryTrafficPercent`` removed. RawDeployment has no revisions to split traffic between, so
a canary there is refused before anything moves.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigurationError, ConflictError, NotReadyError, ServingReplacedError
from pipelines.steps import kube, rollout, serving
from pipelines.steps.analysis import Check, parse_checks
from pipelines.steps.control import Control

log = logging.getLogger(__name__)

DEFAULT_STEPS = (10, 25, 50, 100)
CANARY_DWELL_SECONDS = 300  # the promotion pipeline's default dwell per step
FIELD = "canaryTrafficPercent"
PATCH_ATTEMPTS = 3


@dataclass(frozen=True)
class Plan:
    steps: tuple[int, ...]
    dwell_seconds: float
    prometheus_url: str
    checks: tuple[Check, ...]


def parse_plan(
    steps: str, dwell_seconds: float, prometheus_url: str = "", checks: str = ""
) -> Plan | None:
    """``steps`` ``""`` → no canary; ``"default"`` → 10,25,50,100; else comma-separated
    percentages rising to 100. A ConfigurationError says what is wrong, before anything moves."""
    text = steps.strip()
    if not text:
        return None
    try:
        parsed = DEFAULT_STEPS if text == "default" else tuple(int(p) for p in text.split(","))
    except ValueError as error:
        raise ConfigurationError(f"canary_steps {steps!r} is not a list of percentages") from error
    rising = all(a < b for a, b in itertools.pairwise(parsed))
    if not parsed or parsed[-1] != 100 or not rising or parsed[0] < 1:
        raise ConfigurationError(
            f"canary_steps {steps!r} must rise from 1 or more to 100, e.g. 10,25,50,100"
        )
    if dwell_seconds <= 0:
        raise ConfigurationError(f"canary_dwell_seconds must be positive, got {dwell_seconds:g}")
    return Plan(parsed, float(dwell_seconds), prometheus_url.strip(), parse_checks(checks))


def refuse_unless_serverless(service: dict[str, Any]) -> None:
    if serving.deployment_mode(service) != serving.SERVERLESS:
        raise ConfigurationError(
            "a canary needs KServe Serverless mode: in RawDeployment KServe cannot split traffic "
            "between revisions (docs/kserve.md); promote without canary_steps"
        )


def _predictor(service: dict[str, Any]) -> dict[str, Any]:
    return dict(((service.get("status") or {}).get("components") or {}).get("predictor") or {})


def shares(service: dict[str, Any]) -> dict[str, int]:
    """Percent of the traffic per revision name, as the route reports it."""
    found: dict[str, int] = {}
    for target in _predictor(service).get("traffic") or []:
        name = str(target.get("revisionName"))
        found[name] = found.get(name, 0) + int(target.get("percent") or 0)
    return found


def previous_revision(service: dict[str, Any]) -> str | None:
    """The revision a canary splits with: the last one rolled out with 100%."""
    predictor = _predictor(service)
    found = predictor.get("latestRolledoutRevision") or predictor.get("latestReadyRevision")
    return str(found) if found else None


@dataclass(frozen=True)
class Target:
    name: str
    namespace: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


Judge = Callable[[dict[str, Any]], "serving.Verdict"]


def wait(
    target: Target,
    judge: Judge,
    *,
    uri: str | None,
    timeout_seconds: float,
    poll_seconds: float,
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll until ``judge`` says ready; fail on failed or timeout; ``uri``: must still serve.
    ``check`` runs before every poll and may raise to stop waiting (a rollback from chat)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if check is not None:
            check()
        service = kube.get_inference_service(target.name, target.namespace)
        served = serving.storage_uri_of(service)
        if uri is not None and served != uri:
            raise ServingReplacedError(
                f"InferenceService {target} serves {served or 'no model'} now, not {uri}: "
                "another promotion (or a person) replaced it"
            )
        verdict = judge(service)
        if verdict.state == "ready":
            return service
        if verdict.state == "failed":
            raise NotReadyError(f"InferenceService {target} failed: {verdict.detail}")
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"InferenceService {target}: {verdict.detail}, still after {timeout_seconds:g}s"
            )
        time.sleep(poll_seconds)


def split_judge(baseline: serving.Baseline, percent: int) -> Judge:
    """Ready when a new revision is the latest ready one and holds ``percent``% of traffic."""

    def judge(service: dict[str, Any]) -> serving.Verdict:
        verdict = serving.assess(serving.SERVERLESS, service, baseline)
        if verdict.state == "failed":
            return verdict
        predictor = _predictor(service)
        created = predictor.get("latestCreatedRevision")
        share = shares(service).get(str(created), 0)
        detail = f"canary {created}: {share}% of the traffic (want {percent}%)"
        new = created != baseline.revision and predictor.get("latestReadyRevision") == created
        if new and share == percent:
            return serving.Verdict("ready", detail)
        return serving.Verdict("pending", detail)

    return judge


def set_percent(target: Target, *, uri: str | None, percent: int | None) -> None:
    """Patch ``canaryTrafficPercent`` (None removes it) while ``uri`` is still served,
    conditional on ``metadata.resourceVersion`` (KServe's status writes move it: re-read)."""
    for _ in range(PATCH_ATTEMPTS):
        service = kube.get_inference_service(target.name, target.namespace)
        served = serving.storage_uri_of(service)
        if uri is not None and served != uri:
            raise ServingReplacedError(f"InferenceService {target} serves {served} now, not {uri}")
        version = (service.get("metadata") or {}).get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version}, "spec": {"predictor": {FIELD: percent}}}
        try:
            kube.patch_inference_service(target.name, target.namespace, patch)
        except ConflictError:
            continue
        log.info("InferenceService %s: %s %s", target, FIELD, percent)
        return
    raise ConflictError(f"InferenceService {target} kept changing: {FIELD} not set to {percent}")


def run(
    target: Target,
    uri: str,
    plan: Plan,
    before: dict[str, Any],
    control: Control,
    *,
    timeout_seconds: float,
    poll_seconds: float,
) -> None:
    """Walk the steps after the first patch; raises to roll back (see ``stepper``)."""
    from pipelines.steps.stepper import Stepper

    Stepper(target, uri, plan, before, control, timeout_seconds, poll_seconds).walk()


def roll_back(
    target: Target,
    *,
    before: dict[str, Any],
    ours: dict[str, Any],
    uri: str,
    timeout_seconds: float,
    poll_seconds: float,
) -> str:
    """Traffic to the previous revision, then the previous spec; say what was done."""
    previous = previous_revision(before)
    started = time.monotonic()
    try:
        set_percent(target, uri=uri, percent=0)
    except ServingReplacedError:
        return f"InferenceService {target} left as it is: someone else replaced it since"

    def on_previous(service: dict[str, Any]) -> serving.Verdict:
        share = shares(service).get(str(previous), 0)
        return serving.Verdict("ready" if share == 100 else "pending", f"{previous}: {share}%")

    service = wait(
        target, on_previous, uri=None, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds
    )
    seconds = time.monotonic() - started
    log.info("InferenceService %s: 100%% back on %s in %.2fs", target, previous, seconds)
    canary = _predictor(service).get("latestCreatedRevision")
    restored = rollout.restore_service(
        target.name, target.namespace, before=before, ours=ours, uri=uri
    )
    _finish_restore(
        target, before, canary, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds
    )
    return f"traffic back on {previous} in {seconds:.1f}s; {restored}"


def _finish_restore(
    target: Target,
    before: dict[str, Any],
    canary: Any,
    *,
    timeout_seconds: float,
    poll_seconds: float,
) -> None:
    """Once the revision of the restored spec is ready (still at 0%), put
    ``canaryTrafficPercent`` back as it was before. It stays 0 until then: with it removed,
    the route would send everything to the latest *ready* revision, the canary."""
    now = kube.get_inference_service(target.name, target.namespace)
    uri = serving.storage_uri_of(now)
    if ((now.get("spec") or {}).get("predictor") or {}).get(FIELD) != 0:
        return  # someone else set it since: theirs
    if uri != serving.storage_uri_of(before):
        return  # the restore left serving to someone else's change

    def restored_ready(service: dict[str, Any]) -> serving.Verdict:
        predictor = _predictor(service)
        created = predictor.get("latestCreatedRevision")
        ready = created != canary and predictor.get("latestReadyRevision") == created
        return serving.Verdict("ready" if ready else "pending", f"restored revision {created}")

    wait(
        target, restored_ready, uri=uri, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds
    )
    wanted = ((before.get("spec") or {}).get("predictor") or {}).get(FIELD)
    set_percent(target, uri=uri, percent=wanted)
    if wanted is not None:
        return

    def all_on_restored(service: dict[str, Any]) -> serving.Verdict:
        created = str(_predictor(service).get("latestCreatedRevision"))
        share = shares(service).get(created, 0)
        return serving.Verdict("ready" if share == 100 else "pending", f"{created}: {share}%")

    wait(
        target, all_on_restored, uri=uri, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds
    )
