"""How the fake KServe controller (kube_fake.py) computes a Serverless predictor's traffic.

Three pieces of KServe and Knative, each followed as their source has it:

- the Knative Service's route that KServe builds from ``spec.predictor.canaryTrafficPercent``
  (``createKnativeService`` in kserve/kserve
  pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go): with a
  canary percent and a last rolled-out revision, ``[{latestRevision: true, percent: p},
  {tag: "prev", revisionName: <last rolled out>, latestRevision: false, percent: 100 - p}]``
  (the second only while p < 100), the last rolled-out revision being
  ``status.components.predictor.latestRolledoutRevision`` as KServe read it when it built the
  route (current KServe; releases before 0.9 took ``previousRolledoutRevision`` when it was
  also the latest ready one). Without a canary percent, or with no rolled-out revision yet
  (blue/green): ``[{latestRevision: true, percent: 100}]``. The latest target is tagged
  ``latest`` only under the ``serving.kserve.io/enable-tag-routing`` annotation, which the
  fake does not model; the promotion reads revision names, never tags.
- Knative's route resolves ``latestRevision: true`` to the configuration's latest *ready*
  revision (knative.dev/serving pkg/reconciler/route/traffic), and reports each target with
  the revision it resolved to; a tagged target also gets its own ``url``.
- KServe's ``PropagateStatus`` (pkg/apis/serving/v1beta1/inference_service_status.go): a
  ``latestRevision`` target on the latest ready revision with 100% makes it
  ``latestRolledoutRevision`` (the one before becomes ``previousRolledoutRevision``); a
  rolled-out revision whose traffic drops below 100% while split over itself is rolled back
  to ``previousRolledoutRevision``. These fields persist in the status; nothing clears them.

Changing only ``canaryTrafficPercent`` changes the route, not the configuration: no new
revision is made (the configuration spec KServe builds holds no traffic).
"""

from __future__ import annotations

import copy
from typing import Any

CANARY_FIELD = "canaryTrafficPercent"


def revision_name(name: str, n: int) -> str:
    return f"{name}-predictor-{n:05d}"


def configuration_of(spec: dict[str, Any]) -> Any:
    """What becomes the Knative configuration: the predictor without its traffic fields."""
    predictor = copy.deepcopy((spec or {}).get("predictor") or {})
    predictor.pop(CANARY_FIELD, None)
    return predictor


def canary_of(spec: dict[str, Any]) -> int | None:
    value = ((spec or {}).get("predictor") or {}).get(CANARY_FIELD)
    return None if value is None else int(value)


def route_traffic(
    key: tuple[str, str],
    *,
    canary: int | None,
    routed: int,
    rolled_out: int | None,
) -> list[dict[str, Any]]:
    """The route's status traffic (``routed``: what the latest target resolves to now)."""
    namespace, name = key
    last = rolled_out
    if canary is None or last is None:
        return [
            {"revisionName": revision_name(name, routed), "latestRevision": True, "percent": 100}
        ]
    targets: list[dict[str, Any]] = [
        {"revisionName": revision_name(name, routed), "latestRevision": True, "percent": canary}
    ]
    if canary < 100:
        targets.append(
            {
                "tag": "prev",
                "revisionName": revision_name(name, last),
                "latestRevision": False,
                "percent": 100 - canary,
                "url": f"http://prev-{name}-predictor.{namespace}.example.com",
            }
        )
    return targets


def propagate(served: Any, *, name: str, created: int, ready: int, traffic: list[dict]) -> None:
    """KServe's ``PropagateStatus`` bookkeeping of the rolled-out revisions, on ``served``."""
    totals: dict[str, int] = {}
    for target in traffic:
        totals[target["revisionName"]] = totals.get(target["revisionName"], 0) + target["percent"]
    ready_name = revision_name(name, ready)
    for target in traffic:
        if target["revisionName"] != ready_name or not target.get("latestRevision"):
            continue
        if served.rolled_out != ready:
            if target["percent"] == 100:
                served.previous_rolled_out, served.rolled_out = served.rolled_out, ready
        elif (
            ready == created
            and target["percent"] < 100
            and totals.get(ready_name) == 100
            and served.previous_rolled_out is not None
        ):  # split over the same revision: a rolled-out revision rolled back
            served.rolled_out = served.previous_rolled_out
