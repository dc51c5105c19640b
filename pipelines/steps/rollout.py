"""Wait for KServe to serve the patched model, and undo only our own change if it does not.

``wait_until_ready`` polls the InferenceService (and, in RawDeployment mode, its predictor
Deployment) and judges each answer with ``serving.assess``. On every poll it first checks that
the InferenceService still serves *this* promotion's storageUri: if another promotion replaced
it, waiting stops with ``ServingReplacedError`` and nothing of serving is touched.

``restore_service`` puts back only the fields the promotion's patch set, and only while they
still hold what it wrote, in a merge patch carrying ``metadata.resourceVersion``: if anyone
changed the object in between, the API server answers 409 and the object is read again; a
change of those fields by someone else wins, and is left alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pipelines.errors import ConflictError, NotReadyError, ServingReplacedError
from pipelines.steps import kube, serving

log = logging.getLogger(__name__)

RESTORE_ATTEMPTS = 3  # 409s to re-read after (KServe's status updates also move resourceVersion)


def wait_until_ready(
    name: str,
    namespace: str,
    *,
    uri: str,
    before: dict[str, Any],
    before_deployment: dict[str, Any] | None,
    timeout_seconds: float,
    poll_seconds: float = 5.0,
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll until KServe reports ``uri`` rolled out; ``NotReadyError`` when it failed, when
    ``timeout_seconds`` passed, or (``ServingReplacedError``) when the service serves
    another URI now. ``before``/``before_deployment``: as read before the patch. ``check``
    runs before every poll and may raise to stop waiting (a canary's rollback from chat)."""
    mode = serving.deployment_mode(before)
    baseline = serving.Baseline.of(before, before_deployment)
    deadline = time.monotonic() + timeout_seconds
    what = f"InferenceService {namespace}/{name}"
    while True:
        if check is not None:
            check()
        service = kube.get_inference_service(name, namespace)
        served = serving.storage_uri_of(service)
        if served != uri:
            raise ServingReplacedError(
                f"{what} serves {served or 'no model'} now, not {uri}: another promotion (or a "
                "person) replaced it while this one waited"
            )
        deployment = None
        if mode == serving.RAW:
            deployment = kube.get_deployment(serving.predictor_deployment(name), namespace)
        verdict = serving.assess(mode, service, baseline, deployment=deployment)
        if verdict.state == "ready":
            return service
        if verdict.state == "failed":
            raise NotReadyError(f"{what} failed: {verdict.detail}")
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"{what} did not become Ready within {timeout_seconds:g}s "
                f"(last status: {verdict.detail})"
            )
        log.info("waiting for %s: %s", what, verdict.detail)
        time.sleep(poll_seconds)


def restore_patch(
    current: dict[str, Any], before: dict[str, Any], ours: dict[str, Any]
) -> dict[str, Any]:
    """The merge patch that puts back what ``ours`` (a merge patch we applied) changed:
    each field ``ours`` set that still holds our value gets its ``before`` value (None
    removes it); a field someone changed since is left out."""
    patch: dict[str, Any] = {}
    for key, value in ours.items():
        now, was = current.get(key), before.get(key)
        if isinstance(value, dict):
            nested = restore_patch(
                now if isinstance(now, dict) else {}, was if isinstance(was, dict) else {}, value
            )
            if nested:
                patch[key] = nested
        elif now == value and was != value:
            patch[key] = was
    return patch


def restore_service(
    name: str, namespace: str, *, before: dict[str, Any], ours: dict[str, Any], uri: str
) -> str:
    """Undo ``ours`` on the InferenceService unless someone else changed it; say what was done.

    Raises ``ConflictError`` when it kept changing under us ``RESTORE_ATTEMPTS`` times.
    """
    what = f"InferenceService {namespace}/{name}"
    previous = serving.storage_uri_of(before)
    for _ in range(RESTORE_ATTEMPTS):
        current = kube.get_inference_service(name, namespace)
        served = serving.storage_uri_of(current)
        if served != uri:
            if served == previous:
                return f"{what} unchanged"
            return f"{what} left on {served or 'no model'}, which someone else set since"
        patch = restore_patch(current.get("spec") or {}, before.get("spec") or {}, ours["spec"])
        if not patch:
            return f"{what} unchanged"
        version = (current.get("metadata") or {}).get("resourceVersion")
        try:
            kube.patch_inference_service(
                name, namespace, {"metadata": {"resourceVersion": version}, "spec": patch}
            )
        except ConflictError as error:
            log.info("%s changed while it was being restored (%s): reading it again", what, error)
            continue
        return f"{what} back on {previous or 'no model'}"
    raise ConflictError(f"{what} kept changing while it was being restored: left as it is")
