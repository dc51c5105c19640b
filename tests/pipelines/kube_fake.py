"""A Kubernetes API on 127.0.0.1 with a KServe controller that reports status the way KServe does.

What the API server does (https://kubernetes.io/docs/reference/using-api/api-concepts/):
InferenceService GET and JSON merge PATCH (``application/merge-patch+json`` only, else 415);
every write, spec or status, moves ``metadata.resourceVersion``; a spec change moves
``metadata.generation``; a ``metadata.resourceVersion`` in a patch is a precondition, answered
409 Conflict when the object changed since; RBAC denials are 403 Status objects. Deployments
(apps/v1) can be read, as the serving chart's Role allows for ``<name>-predictor``.

What the KServe controller does after a spec change, one step per ``react_after`` GETs of the
InferenceService or its Deployment (deterministic, nothing on a timer), modelled on
kserve/kserve @ aaac4e29 (v0.20) and its history (docs/kserve.md):

- Serverless (``PropagateStatus`` in pkg/apis/serving/v1beta1/inference_service_status.go,
  knative.dev/serving pkg/apis/serving/v1/configuration_lifecycle.go, service_lifecycle.go):
  a new revision is created (latestCreatedRevision moves, ConfigurationsReady and Ready go
  Unknown, traffic stays on the old revision), it becomes ready (latestReadyRevision moves,
  RoutesReady Unknown "TrafficNotMigrated"), then the route moves 100% of the traffic to it
  and Ready is True. ``observedGeneration`` is the Knative Service's. A revision whose model
  does not load: ConfigurationsReady False "RevisionFailed" and modelStatus
  BlockedByFailedLoad / ModelLoadFailed (``PropagateModelStatus``).
- RawDeployment (``PropagateRawStatus``): the Deployment ``<name>-predictor`` gets the new
  pod template (generation moves), the Deployment controller rolls it out (observedGeneration,
  updatedReplicas, availableReplicas; Available stays True from the old ReplicaSet), and
  Ready follows Available — since KServe 0.16 also Progressing (False with a message, e.g.
  ProgressDeadlineExceeded, is not Ready). ``kserve="legacy"`` (KServe <= 0.14) has no
  status.deploymentMode (the mode is the annotation), puts the Deployment's revision
  annotation in latestCreatedRevision, and Ready is exactly Available.
- Field management (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management;
  kubernetes/apiserver pkg/endpoints/handlers: ``managerOrUserAgent``): every write that
  changes the object records, in ``metadata.managedFields``, the manager (the ``fieldManager``
  query parameter, else the User-Agent up to its first ``/``), ``operation: Update``, the
  time and the fields it set (FieldsV1, ``f:<name>`` keys); a field one manager sets is taken
  from every other manager's set (an Update always forces: sigs.k8s.io/structured-merge-diff).
- InvalidSpec (``reconcileModel`` in pkg/controller/.../components/predictor.go): the
  predictor reconciler stops before deploying anything; only modelStatus changes
  (``UpdateModelTransitionStatus``), conditions and revisions stay as they were.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.pipelines import knative_fake as knative
from tests.support.http_fake import FakeHttpServer, Recorded

SERVERLESS = "Serverless"
RAW = "RawDeployment"
READY = "ready"
NEVER_READY = "never"  # a new revision / ReplicaSet that never becomes ready
FAILS = "fails"  # the model does not load
INVALID_SPEC = "invalid-spec"
DEADLINE = "deadline"  # RawDeployment: ProgressDeadlineExceeded

ISVC_PATH = (
    r"/apis/serving\.kserve\.io/v1beta1"
    r"/namespaces/(?P<namespace>[^/]+)/inferenceservices/(?P<name>[^/]+)"
)
DEPLOYMENT_PATH = r"/apis/apps/v1/namespaces/(?P<namespace>[^/]+)/deployments/(?P<name>[^/]+)"
LOAD_FAILURE = "MLServer could not load the model: No module named 'sklearn'"

Key = tuple[str, str]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def condition(kind: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    found = {"type": kind, "status": status}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


def model_status(transition: str, target: str, failure: dict | None = None) -> dict:
    status: dict[str, Any] = {
        "transitionStatus": transition,
        "states": {"activeModelState": "Loaded", "targetModelState": target},
        "copies": {"failedCopies": 0, "totalCopies": 1},
    }
    if failure:
        status["lastFailureInfo"] = failure
    return status


@dataclass
class Served:
    """The controller's view of one InferenceService."""

    revision: int = 1  # Knative revisions made / the Deployment's revision annotation
    ksvc_generation: int = 1
    steps: list[Callable[[], None]] = field(default_factory=list)
    countdown: int = 0
    # Serverless: what the Knative route and KServe's status remember (knative_fake.py)
    routed: int = 1  # the revision a ``latestRevision: true`` target resolves to
    canary: int | None = None  # the canaryTrafficPercent the route was last built with
    rolled_out: int | None = 1  # status latestRolledoutRevision (persists, as in KServe)
    previous_rolled_out: int | None = None
    configuration: Any = None  # the predictor spec (less canaryTrafficPercent) last applied
    ready: int = 1  # latestReadyRevision
    shown: tuple[dict[str, Any], dict[str, Any]] | None = None  # last conditions, modelStatus


class FakeKubernetesApi(FakeHttpServer):
    """See the module docstring. ``rollout`` (or ``rollout_for[storageUri]``) says what the
    controller does with the next spec change; a spec put back to a URI that served before
    rolls out READY. ``forbid_patch`` / ``forbid_deployments`` answer 403 like missing RBAC
    rules; ``before_conditional_patch(fake, namespace, name)`` runs (once) as a PATCH carrying
    a resourceVersion arrives, to let another writer in just before it; ``on_get`` runs on
    every GET of an InferenceService, before it is answered."""

    def __init__(self, mode: str = SERVERLESS, kserve: str = "current") -> None:
        super().__init__()
        assert mode in (SERVERLESS, RAW) and kserve in ("current", "legacy")
        self.mode, self.kserve = mode, kserve
        self.objects: dict[Key, dict[str, Any]] = {}
        self.deployments: dict[Key, dict[str, Any]] = {}
        self.forbid_patch = False
        self.forbid_deployments = False
        self.rollout = READY
        self.rollout_for: dict[str, str] = {}
        self.react_after = 1
        self.failure_message = LOAD_FAILURE
        self.before_conditional_patch: Callable[[FakeKubernetesApi, str, str], None] | None = None
        self.on_get: Callable[[FakeKubernetesApi, str, str], None] | None = None
        self._served: dict[Key, Served] = {}
        self._good: set[str] = set()  # storage URIs that were served Ready
        self._lock = threading.RLock()
        self.route("GET", ISVC_PATH, self._get)
        self.route("PATCH", ISVC_PATH, self._patch)
        self.route("GET", DEPLOYMENT_PATH, self._get_deployment)

    @property
    def env(self) -> dict[str, str]:
        return {"KUBERNETES_API_URL": self.url}

    @property
    def patches(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PATCH"]

    # -- objects ---------------------------------------------------------------------

    def add_inference_service(self, namespace: str, name: str, uri: str = "s3://old") -> None:
        with self._lock:
            metadata: dict[str, Any] = {
                "name": name,
                "namespace": namespace,
                "resourceVersion": "1",
                "generation": 1,
            }
            if self.kserve == "legacy" and self.mode == RAW:
                metadata["annotations"] = {"serving.kserve.io/deploymentMode": "RawDeployment"}
            self.objects[(namespace, name)] = {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": metadata,
                "spec": {
                    "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}
                },
                "status": {},
            }
            self._served[(namespace, name)] = Served(
                configuration=knative.configuration_of(self.objects[(namespace, name)]["spec"])
            )
            self._good.add(uri)
            if self.mode == RAW:
                self.deployments[(namespace, f"{name}-predictor")] = self._deployment(
                    namespace, name, uri
                )
                self._raw_status((namespace, name), model_status("UpToDate", "Loaded"))
            else:
                self._serverless_rolled_out((namespace, name))

    def served_uri(self, namespace: str, name: str) -> str | None:
        return self.objects[(namespace, name)]["spec"]["predictor"]["model"].get("storageUri")

    def steps_left(self, namespace: str, name: str) -> int:
        """How many steps of the current rollout the controller has not taken yet."""
        with self._lock:
            return len(self._served[(namespace, name)].steps)

    def advance(self, namespace: str, name: str) -> None:
        """Take the controller's next step now (with a large ``react_after``, only this does)."""
        with self._lock:
            self._served[(namespace, name)].steps.pop(0)()

    def touch_status(self, namespace: str, name: str) -> None:
        """A status-only write, as the KServe controller makes them: resourceVersion moves."""
        with self._lock:
            self._bump(self.objects[(namespace, name)])

    def apply(
        self, namespace: str, name: str, patch: dict[str, Any], *, manager: str = "other-writer"
    ) -> None:
        """Another writer's merge patch (e.g. another promotion), straight into the store."""
        with self._lock:
            self._write((namespace, name), patch, manager=manager)

    # -- the API server ----------------------------------------------------------------

    @staticmethod
    def _status(code: int, reason: str, message: str) -> tuple[int, Any]:
        return code, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "reason": reason,
            "message": message,
            "code": code,
        }

    def _not_found(self, kind: str, name: str) -> tuple[int, Any]:
        return self._status(404, "NotFound", f'{kind} "{name}" not found')

    def _forbidden(self, verb: str, resource: str, group: str, namespace: str, name: str):
        return self._status(
            403,
            "Forbidden",
            f'{resource}.{group} "{name}" is forbidden: User '
            f'"system:serviceaccount:{namespace}:pipeline-runner" cannot {verb} resource '
            f'"{resource}" in API group "{group}" in the namespace "{namespace}"',
        )

    def _bump(self, obj: dict[str, Any]) -> None:
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)

    def _get(self, request: Recorded, namespace: str, name: str) -> tuple[int, Any]:
        with self._lock:
            if (namespace, name) not in self.objects:
                return self._not_found("inferenceservices.serving.kserve.io", name)
            self._tick((namespace, name))
            if self.on_get is not None:
                self.on_get(self, namespace, name)
            return 200, copy.deepcopy(self.objects[(namespace, name)])

    def _get_deployment(self, request: Recorded, namespace: str, name: str) -> tuple[int, Any]:
        if self.forbid_deployments:
            return self._forbidden("get", "deployments", "apps", namespace, name)
        with self._lock:
            if (namespace, name) not in self.deployments:
                return self._not_found("deployments.apps", name)
            self._tick((namespace, name.removesuffix("-predictor")))
            return 200, copy.deepcopy(self.deployments[(namespace, name)])

    def _patch(self, request: Recorded, namespace: str, name: str) -> tuple[int, Any]:
        if self.forbid_patch:
            return self._forbidden(
                "patch", "inferenceservices", "serving.kserve.io", namespace, name
            )
        if request.headers.get("content-type") != "application/merge-patch+json":
            return self._status(
                415, "UnsupportedMediaType", f"unexpected {request.headers.get('content-type')}"
            )
        patch = request.json()
        key = (namespace, name)
        with self._lock:
            if key not in self.objects:
                return self._not_found("inferenceservices.serving.kserve.io", name)
            expected = (patch.get("metadata") or {}).pop("resourceVersion", None)
            if expected is not None:
                if self.before_conditional_patch is not None:
                    hook, self.before_conditional_patch = self.before_conditional_patch, None
                    hook(self, namespace, name)
                if expected != self.objects[key]["metadata"]["resourceVersion"]:
                    return self._status(
                        409,
                        "Conflict",
                        f"Operation cannot be fulfilled on inferenceservices.serving.kserve.io "
                        f'"{name}": the object has been modified; please apply your changes to '
                        "the latest version and try again",
                    )
            manager = (request.query.get("fieldManager") or [None])[0]
            agent = request.headers.get("user-agent", "").split("/", 1)[0]
            self._write(key, patch, manager=(manager or agent or "unknown")[:128])
            return 200, copy.deepcopy(self.objects[key])

    def _write(self, key: Key, patch: dict[str, Any], *, manager: str) -> None:
        current = self.objects[key]
        patched = merge_patch(current, {k: v for k, v in patch.items() if k != "status"})
        if patched == current:
            return
        self._bump(patched)
        self._manage(patched, patch, manager)
        if patched.get("spec") != current.get("spec"):
            patched["metadata"]["generation"] = current["metadata"]["generation"] + 1
            self.objects[key] = patched
            self._schedule(key)
        else:
            self.objects[key] = patched

    @staticmethod
    def _manage(obj: dict[str, Any], patch: dict[str, Any], manager: str) -> None:
        """Record ``manager``'s Update in ``metadata.managedFields`` (module docstring)."""

        def paths(value: Any, at: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
            if value is None:  # a deletion: nobody owns the field any more
                return set()
            if not isinstance(value, dict) or not value:
                return {at}
            return {p for k, v in value.items() for p in paths(v, (*at, f"f:{k}"))}

        def tree(found: set[tuple[str, ...]]) -> dict[str, Any]:
            root: dict[str, Any] = {}
            for path in found:
                node = root
                for step in path:
                    node = node.setdefault(step, {})
            return root

        def flat(fields: dict[str, Any], at: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
            if not fields:
                return {at} if at else set()
            return {p for k, v in fields.items() for p in flat(v, (*at, k))}

        meta = {k: v for k, v in (patch.get("metadata") or {}).items() if k != "resourceVersion"}
        mine = paths({"spec": patch.get("spec"), "metadata": meta or None})
        if not mine:
            return
        entries = []
        for entry in obj["metadata"].get("managedFields") or []:
            kept = flat(entry.get("fieldsV1") or {}) - mine
            if entry.get("manager") == manager:
                mine |= kept
            elif kept:
                entries.append({**entry, "fieldsV1": tree(kept)})
        entries.append(
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": "serving.kserve.io/v1beta1",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "fieldsType": "FieldsV1",
                "fieldsV1": tree(mine),
            }
        )
        obj["metadata"]["managedFields"] = entries

    # -- the controller ---------------------------------------------------------------

    def _schedule(self, key: Key) -> None:
        uri = self.served_uri(*key) or ""
        rollout = self.rollout_for.get(uri) or (READY if uri in self._good else self.rollout)
        served = self._served[key]
        spec = self.objects[key]["spec"]
        if self.mode == SERVERLESS and knative.configuration_of(spec) == served.configuration:
            # only the traffic changed: the route is rebuilt, no revision is made; a rollout
            # in progress goes on after it
            served.steps = [lambda: self._route_updated(key), *served.steps]
            served.countdown = self.react_after
            return
        if self.mode == SERVERLESS:
            script = {
                READY: [self._revision_created, self._revision_ready, self._serverless_rolled_out],
                FAILS: [self._revision_created, self._revision_failed],
                NEVER_READY: [self._revision_created],
                INVALID_SPEC: [self._invalid_spec],
            }[rollout]
        else:
            script = {
                READY: [self._pod_template_updated, self._rolling, self._rolled_out],
                FAILS: [self._pod_template_updated, self._rolling, self._raw_load_failed],
                NEVER_READY: [self._pod_template_updated, self._rolling],
                DEADLINE: [self._pod_template_updated, self._rolling, self._deadline_exceeded],
                INVALID_SPEC: [self._invalid_spec],
            }[rollout]
        served.steps = [lambda step=step: step(key) for step in script]  # KServe acts on the
        served.countdown = self.react_after  # newest spec: a rollout in progress is replaced

    def _tick(self, key: Key) -> None:
        """The controller's turn (on every GET of the service or its Deployment)."""
        served = self._served.get(key)
        if served is None or not served.steps:
            return
        served.countdown -= 1
        if served.countdown > 0:
            return
        step = served.steps.pop(0)
        served.countdown = self.react_after
        step()

    def _set_status(self, key: Key, status: dict[str, Any]) -> None:
        service = self.objects[key]
        if self.kserve == "current":
            status = {
                "deploymentMode": "Knative" if self.mode == SERVERLESS else "Standard",
                **status,
            }
        service["status"] = status
        self._bump(service)

    # Serverless -------------------------------------------------------------------

    @staticmethod
    def _revision(name: str, n: int) -> str:
        return f"{name}-predictor-{n:05d}"

    def _serverless(
        self,
        key: Key,
        *,
        created: int,
        ready: int,
        traffic: int,
        conditions: dict[str, dict[str, Any]],
        model: dict[str, Any],
    ) -> None:
        name = key[1]
        served = self._served[key]
        served.routed, served.ready, served.shown = traffic, ready, (conditions, model)
        routes = knative.route_traffic(
            key, canary=served.canary, routed=traffic, rolled_out=served.rolled_out
        )
        knative.propagate(served, name=name, created=created, ready=ready, traffic=routes)
        predictor: dict[str, Any] = {
            "latestCreatedRevision": self._revision(name, created),
            "latestReadyRevision": self._revision(name, ready),
            "traffic": routes,
            "url": f"http://{name}-predictor.{key[0]}.example.com",
        }
        for field_name, n in (
            ("latestRolledoutRevision", served.rolled_out),
            ("previousRolledoutRevision", served.previous_rolled_out),
        ):
            if n is not None:
                predictor[field_name] = self._revision(name, n)
        kinds = ("PredictorConfigurationReady", "PredictorRouteReady", "PredictorReady")
        listed = [conditions.get(k, condition(k)) for k in kinds]
        latest = conditions["PredictorConfigurationReady"]
        deployment_ready = condition(
            "LatestDeploymentReady",
            latest["status"],
            "" if latest["status"] == "True" else "PredictorConfigurationReady not ready",
        )
        ready_condition = {
            **conditions.get("PredictorReady", condition("PredictorReady")),
            "type": "Ready",
        }
        self._set_status(
            key,
            {
                "observedGeneration": self._served[key].ksvc_generation,
                "conditions": [
                    condition("IngressReady"),
                    deployment_ready,
                    *listed,
                    ready_condition,
                ],
                "components": {"predictor": predictor},
                "modelStatus": model,
                "url": f"http://{name}.{key[0]}.example.com",
            },
        )

    def _serverless_rolled_out(self, key: Key) -> None:
        served = self._served[key]
        n = served.revision
        self._good.add(self.served_uri(*key) or "")
        self._serverless(
            key,
            created=n,
            ready=n,
            traffic=n,
            conditions={
                "PredictorConfigurationReady": condition("PredictorConfigurationReady"),
            },
            model=model_status("UpToDate", "Loaded"),
        )

    def _route_updated(self, key: Key) -> None:
        served = self._served[key]
        served.canary = knative.canary_of(self.objects[key]["spec"])
        served.ksvc_generation += 1
        conditions, model = served.shown or ({}, {})
        self._serverless(
            key,
            created=served.revision,
            ready=served.ready,
            traffic=served.routed,
            conditions=conditions,
            model=model,
        )

    def _revision_created(self, key: Key) -> None:
        served = self._served[key]
        spec = self.objects[key]["spec"]  # KServe rebuilds the Knative Service: a new
        served.configuration = knative.configuration_of(spec)  # configuration and its route
        served.canary = knative.canary_of(spec)
        served.revision += 1
        served.ksvc_generation += 1
        old = served.revision - 1
        unknown = {
            k: condition(k, "Unknown") for k in ("PredictorConfigurationReady", "PredictorReady")
        }
        self._serverless(
            key,
            created=served.revision,
            ready=old,
            traffic=old,
            conditions=unknown,
            model=model_status("InProgress", "Loading"),
        )

    def _revision_ready(self, key: Key) -> None:
        n = self._served[key].revision
        migrating = condition(
            "PredictorRouteReady",
            "Unknown",
            "TrafficNotMigrated",
            "Traffic is not yet migrated to the latest revision.",
        )
        self._serverless(
            key,
            created=n,
            ready=n,
            traffic=n - 1,
            conditions={
                "PredictorConfigurationReady": condition("PredictorConfigurationReady"),
                "PredictorRouteReady": migrating,
                "PredictorReady": {**migrating, "type": "PredictorReady"},
            },
            model=model_status("InProgress", "Loading"),
        )

    def _revision_failed(self, key: Key) -> None:
        n = self._served[key].revision
        said = (
            f'Revision "{self._revision(key[1], n)}" failed with message: Container failed '
            f"with: {self.failure_message}."
        )
        failed = condition("PredictorConfigurationReady", "False", "RevisionFailed", said)
        failure = {"reason": "ModelLoadFailed", "message": self.failure_message, "exitCode": 1}
        self._serverless(
            key,
            created=n,
            ready=n - 1,
            traffic=n - 1,
            conditions={
                "PredictorConfigurationReady": failed,
                "PredictorReady": {**failed, "type": "PredictorReady"},
            },
            model=model_status("BlockedByFailedLoad", "FailedToLoad", failure),
        )

    def _invalid_spec(self, key: Key) -> None:
        service = self.objects[key]
        status = copy.deepcopy(service["status"])
        status["modelStatus"] = {
            **status.get("modelStatus", {}),
            "transitionStatus": "InvalidSpec",
            "states": {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"},
            "lastFailureInfo": {
                "reason": "NoSupportingRuntime",
                "message": "Specified runtime does not support specified framework/version",
            },
        }
        status.pop("deploymentMode", None)
        self._set_status(key, status)

    # RawDeployment ------------------------------------------------------------------

    def _deployment(self, namespace: str, name: str, uri: str) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": f"{name}-predictor",
                "namespace": namespace,
                "generation": 1,
                "resourceVersion": "1",
                "annotations": {"deployment.kubernetes.io/revision": "1"},
            },
            "spec": {
                "replicas": 1,
                "progressDeadlineSeconds": 600,
                "template": {
                    "spec": {
                        "initContainers": [
                            {"name": "storage-initializer", "args": [uri, "/mnt/models"]}
                        ]
                    }
                },
            },
            "status": self._deployment_status(1, replicas=1, updated=1, available=1),
        }

    @staticmethod
    def _deployment_status(
        generation: int,
        *,
        replicas: int,
        updated: int,
        available: int,
        progressing: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [
                condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                ),
                progressing
                or condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    "ReplicaSet has successfully progressed.",
                ),
            ],
        }

    def _deployment_of(self, key: Key) -> dict[str, Any]:
        return self.deployments[(key[0], f"{key[1]}-predictor")]

    def _raw_ready(self, deployment: dict[str, Any]) -> dict[str, Any]:
        """PredictorReady as ``PropagateRawStatus`` computes it from the Deployment."""
        found = {c["type"]: c for c in deployment["status"]["conditions"]}
        available, progressing = found.get("Available", {}), found.get("Progressing", {})
        if self.kserve == "legacy":
            return {**available, "type": "PredictorReady"}
        ready = condition("PredictorReady", "False")
        if available.get("status") == "True":
            ready = {**available, "type": "PredictorReady"}
        if progressing.get("status") == "False" and progressing.get("message"):
            ready = {**progressing, "type": "PredictorReady"}
        elif progressing.get("status") == "True":
            if progressing.get("reason") == "NewReplicaSetAvailable":
                ready = {**progressing, "type": "PredictorReady"}
            elif available.get("status") != "True":
                ready = {**progressing, "type": "PredictorReady", "status": "Unknown"}
        return ready

    def _raw_status(self, key: Key, model: dict[str, Any]) -> None:
        deployment = self._deployment_of(key)
        ready = self._raw_ready(deployment)
        predictor: dict[str, Any] = {"url": f"http://{key[1]}-predictor.{key[0]}.svc"}
        if self.kserve == "legacy":
            revision = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            predictor["latestCreatedRevision"] = revision
        self._set_status(
            key,
            {
                "observedGeneration": deployment["status"]["observedGeneration"],
                "conditions": [condition("IngressReady"), ready, {**ready, "type": "Ready"}],
                "components": {"predictor": predictor},
                "modelStatus": model,
            },
        )

    def _pod_template_updated(self, key: Key) -> None:
        deployment = self._deployment_of(key)
        deployment["metadata"]["generation"] += 1
        self._bump(deployment)
        uri = self.served_uri(*key)
        deployment["spec"]["template"]["spec"]["initContainers"][0]["args"][0] = uri
        self._raw_status(key, self.objects[key]["status"]["modelStatus"])

    def _roll(self, key: Key, progressing: dict[str, Any] | None, *, done: bool) -> None:
        deployment = self._deployment_of(key)
        generation = deployment["metadata"]["generation"]
        if not done:
            served = self._served[key]
            if deployment["status"]["observedGeneration"] != generation:
                served.revision += 1
            deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(
                served.revision
            )
        replicas = 1 if done else 2
        deployment["status"] = self._deployment_status(
            generation, replicas=replicas, updated=1, available=1, progressing=progressing
        )
        self._bump(deployment)

    def _rolling(self, key: Key) -> None:
        progressing = condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{key[1]}-predictor-2" is progressing.',
        )
        self._roll(key, progressing, done=False)
        self._raw_status(key, model_status("InProgress", "Loading"))

    def _rolled_out(self, key: Key) -> None:
        self._roll(key, None, done=True)
        self._good.add(self.served_uri(*key) or "")
        self._raw_status(key, model_status("UpToDate", "Loaded"))

    def _raw_load_failed(self, key: Key) -> None:
        failure = {"reason": "ModelLoadFailed", "message": self.failure_message, "exitCode": 1}
        self._raw_status(key, model_status("BlockedByFailedLoad", "FailedToLoad", failure))

    def _deadline_exceeded(self, key: Key) -> None:
        progressing = condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{key[1]}-predictor-2" has timed out progressing.',
        )
        self._roll(key, progressing, done=False)
        self._raw_status(key, model_status("InProgress", "Loading"))
