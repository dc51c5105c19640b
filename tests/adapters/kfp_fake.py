"""A KFP v2beta1 API server on 127.0.0.1: what ``kfp.Client`` calls to upload pipelines, make
experiments and start, find and follow runs, refusing what the real API server refuses.

Modelled on kubeflow/pipelines @ 7b70c7b95f (backend/src/apiserver):

- Authentication in multi-user mode (auth/auth.go, auth/util.go,
  auth/authenticator_token_review.go): every call but ``/healthz`` needs an identity; here the
  ``Authorization: Bearer <ServiceAccount token>`` KFP sends to a TokenReview. No header: 401
  "there is no user identity header"; another scheme: 400; a token the TokenReview does not
  know: 401. Authorization is a SubjectAccessReview in the namespace (server/run_server.go
  ``canAccessRun``, server/experiment_server.go ``canAccessExperiment``): 403 unless the
  identity was granted it (the RoleBinding to ``kubeflow-pipelines-edit``). Runs and
  experiments need a namespace in multi-user mode (400 otherwise); single-user mode checks
  nothing and ignores namespaces (resource_manager.go ``ReplaceNamespace``).
- Creating a run (run_server.go ``createRun``, template/v2_template.go
  ``validatePipelineJobInputs``, since KFP 2.0, #9228): a display name, an existing
  experiment, and runtime parameters that match the pipeline version's root inputs: every
  input without a default given, each of its declared type, and no other ("parameter(s)
  provided are not required by pipeline").
- Errors are grpc-gateway's ``{"code", "message", "details"}`` with the gRPC code's HTTP status.

Tests move runs along with ``set_state``; ``stall_creates`` makes the next creates hang
(``"answer-late"``: the run is made, the answer never comes in time; ``"commit-late"``: the
answer never comes and the run is made only once ``release`` is set).
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import functools
import itertools
import json
import tempfile
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.support.http_fake import FakeHttpServer, Recorded

BASE = "/apis/v2beta1"
STALL_SECONDS = 30.0  # how long a stalled handler holds its answer at most
GRPC_HTTP = {3: 400, 5: 404, 6: 409, 7: 403, 16: 401}
TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int, float),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "LIST": (list,),
    "STRUCT": (dict,),
}


def display_name_filter(request: Recorded) -> str | None:
    """The display_name an ``EQUALS`` filter asks for (KFP sends the operation as 1 or "EQUALS")."""
    raw = request.query.get("filter", [""])[0]
    if not raw:
        return None
    for predicate in json.loads(raw).get("predicates", []):
        if predicate.get("key") == "display_name" and predicate.get("operation") in (1, "EQUALS"):
            return str(predicate.get("stringValue", predicate.get("string_value")))
    return None


def uploaded_yaml(request: Recorded) -> bytes:
    """The ``uploadfile`` part of a multipart upload (kfp.Client.upload_pipeline[_version])."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return bytes(part.get_payload(decode=True))
    raise ValueError("no uploadfile part")


def root_inputs(pipeline_yaml: bytes) -> dict[str, Any]:
    """The pipeline spec's ``root.inputDefinitions.parameters`` (what a run must provide)."""
    spec = next(yaml.safe_load_all(pipeline_yaml))
    return dict(((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {})


@functools.cache
def compiled(name: str) -> bytes:
    """The IR YAML of one of our pipelines, as ``python -m pipelines upload`` sends it."""
    from pipelines.runner import compile_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        return compile_pipeline(name, Path(tmp) / f"{name}.yaml").read_bytes()


class KfpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FakeKfpApi(FakeHttpServer):
    """See the module docstring. ``tokens`` maps a bearer token to the identity a TokenReview
    gives it; ``grants`` maps an identity to the namespaces it may use."""

    def __init__(
        self,
        *,
        multi_user: bool = False,
        tokens: Mapping[str, str] | None = None,
        grants: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        super().__init__()
        self.multi_user = multi_user
        self.tokens = dict(tokens or {})
        self.grants = {k: set(v) for k, v in (grants or {}).items()}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}  # version id -> its root input parameters
        self.experiments: dict[str, dict[str, Any]] = {}
        self.hide_experiments = 0  # answer this many experiment lookups with none found
        self.runs: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}  # version id -> the request body that uploaded it
        self.stall_creates: list[str] = []  # "answer-late" | "commit-late", for the next creates
        self.release = threading.Event()
        self._ids = itertools.count(1)
        self._state = threading.Lock()
        self.route("GET", f"{BASE}/healthz", self._healthz)
        for method, path, handler in (
            ("GET", "/pipelines", self._list_pipelines),
            ("POST", "/pipelines/upload", self._upload),
            ("POST", "/pipelines/upload_version", self._upload_version),
            ("GET", "/pipelines/(?P<pipeline_id>[^/]+)/versions", self._list_versions),
            ("GET", "/experiments", self._list_experiments),
            ("POST", "/experiments", self._create_experiment),
            ("POST", "/runs", self._create_run),
            ("GET", "/runs", self._list_runs),
            ("GET", "/runs/(?P<run_id>[^/]+)", self._get_run),
        ):
            self.route(method, BASE + path, self._guarded(handler))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()  # let stalled handlers end
        super().__exit__(exc_type, exc, tb)

    @property
    def created(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == f"{BASE}/runs"]

    def set_state(self, run_id: str, state: str, error: str | None = None) -> None:
        with self._state:
            [run] = [r for r in self.runs if r["run_id"] == run_id]
            run["state"] = state
            if error:
                run["error"] = {"code": 2, "message": error}

    def add_pipeline(self, name: str, pipeline_yaml: bytes) -> dict[str, Any]:
        """A pipeline with one version, as if uploaded earlier; returns the version."""
        with self._state:
            pipeline_id = self._id("pipeline")
            self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "display_name": name}
            return self._new_version(pipeline_id, f"{name}-v1", pipeline_yaml, pipeline_yaml)

    # -- authentication and authorization ----------------------------------------------

    def _identity(self, request: Recorded) -> str:
        header = request.headers.get("authorization")
        if header is None:
            raise KfpError(16, "Request header error: there is no user identity header.")
        if not header.startswith("Bearer "):
            raise KfpError(
                3, "Header 'Authorization' is incorrectly formatted. Expected prefix 'Bearer '"
            )
        identity = self.tokens.get(header.removeprefix("Bearer "))
        if identity is None:
            raise KfpError(
                16,
                "Authentication failure: Review.Status.Authenticated is false. Error "
                "[invalid bearer token]",
            )
        return identity

    def _authorize(self, identity: str | None, namespace: str, verb: str, what: str) -> None:
        if not self.multi_user:
            return
        if not namespace:
            raise KfpError(3, f"A {what} cannot have an empty namespace in multi-user mode")
        if namespace not in self.grants.get(identity or "", set()):
            raise KfpError(
                7,
                f"PermissionDenied: User '{identity}' is not authorized with reason: (request: "
                f"&ResourceAttributes{{Namespace:{namespace},Verb:{verb},Group:pipelines."
                f"kubeflow.org,Resource:{what}s}})",
            )

    def _guarded(self, handler: Any) -> Any:
        def guarded(request: Recorded, **kwargs: Any) -> tuple[int, Any]:
            try:
                identity = self._identity(request) if self.multi_user else None
                return handler(request, identity, **kwargs)
            except KfpError as error:
                return GRPC_HTTP[error.code], {
                    "code": error.code,
                    "message": error.message,
                    "details": [],
                }

        return guarded

    def _namespace(self, value: str | None) -> str:
        return (value or "") if self.multi_user else ""  # ReplaceNamespace

    # -- pipelines ---------------------------------------------------------------------

    def _healthz(self, request: Recorded) -> tuple[int, Any]:
        return 200, {"multi_user": self.multi_user, "pipeline_store": "database"}

    def _id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def _new_version(
        self, pipeline_id: str, name: str, body: bytes, pipeline_yaml: bytes
    ) -> dict[str, Any]:
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._id("version"),
            "display_name": name,
        }
        self.uploads[version["pipeline_version_id"]] = body
        self.inputs[version["pipeline_version_id"]] = root_inputs(pipeline_yaml)
        self.versions.setdefault(pipeline_id, []).append(version)
        return version

    def _list_pipelines(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        name = display_name_filter(request)
        found = [p for p in self.pipelines.values() if name is None or p["display_name"] == name]
        return 200, {"pipelines": found, "total_size": len(found)} if found else {}

    def _upload(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        name = request.query["name"][0]
        with self._state:
            pipeline = {"pipeline_id": self._id("pipeline"), "display_name": name}
            self.pipelines[pipeline["pipeline_id"]] = pipeline
            self._new_version(pipeline["pipeline_id"], name, request.body, uploaded_yaml(request))
        return 200, pipeline

    def _upload_version(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        pipeline_id = request.query["pipelineid"][0]
        name = request.query["name"][0]
        with self._state:
            return 200, self._new_version(pipeline_id, name, request.body, uploaded_yaml(request))

    def _list_versions(
        self, request: Recorded, identity: str | None, pipeline_id: str
    ) -> tuple[int, Any]:
        name = display_name_filter(request)
        found = [v for v in self.versions.get(pipeline_id, []) if name in (None, v["display_name"])]
        return 200, {"pipeline_versions": found, "total_size": len(found)} if found else {}

    # -- experiments -------------------------------------------------------------------

    def _list_experiments(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        namespace = self._namespace(request.query.get("namespace", [""])[0])
        self._authorize(identity, namespace, "list", "experiment")
        with self._state:
            if self.hide_experiments:  # as if another client made it just after this lookup
                self.hide_experiments -= 1
                return 200, {}
            name = display_name_filter(request)
            found = [
                e
                for e in self.experiments.values()
                if name in (None, e["display_name"]) and e["namespace"] == namespace
            ]
        return 200, {"experiments": found, "total_size": len(found)} if found else {}

    def _create_experiment(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        body = request.json()
        namespace = self._namespace(body.get("namespace"))
        self._authorize(identity, namespace, "create", "experiment")
        with self._state:  # names are unique per namespace, as in KFP's store
            for known in self.experiments.values():
                if (known["display_name"], known["namespace"]) == (body["display_name"], namespace):
                    raise KfpError(6, f"{body['display_name']} already exists")
            experiment = {**body, "namespace": namespace, "experiment_id": self._id("experiment")}
            self.experiments[experiment["experiment_id"]] = experiment
        return 200, experiment

    # -- runs --------------------------------------------------------------------------

    def _check_inputs(self, run: dict[str, Any]) -> None:
        version_id = (run.get("pipeline_version_reference") or {}).get("pipeline_version_id")
        if version_id not in self.inputs:
            raise KfpError(5, f"Pipeline version {version_id} not found")
        declared = self.inputs[version_id]
        given = (run.get("runtime_config") or {}).get("parameters") or {}
        for name, spec in declared.items():
            if name not in given:
                if not spec.get("isOptional") and "defaultValue" not in spec:
                    raise KfpError(
                        3,
                        f"invalid pipeline job inputs: parameter {name} is not optional, yet "
                        "has neither default value nor user provided value",
                    )
                continue
            kind = spec.get("parameterType", "")
            value = given[name]
            wrong_bool = isinstance(value, bool) and kind != "BOOLEAN"
            if not isinstance(value, TYPES[kind]) or wrong_bool:
                raise KfpError(
                    3,
                    f"invalid pipeline job inputs: input parameter {name} requires type "
                    f"{kind.lower()}, but the parameter value is not of that type",
                )
        extra = sorted(set(given) - set(declared))
        if extra:
            raise KfpError(
                3,
                "invalid pipeline job inputs: parameter(s) provided are not required by "
                f"pipeline: {', '.join(extra)}",
            )

    def _create_run(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        body = request.json()
        if not body.get("display_name"):
            raise KfpError(3, "The run name is empty. Please specify a valid name")
        experiment = self.experiments.get(body.get("experiment_id", ""))
        if experiment is None:
            raise KfpError(5, f"Experiment {body.get('experiment_id')} not found")
        self._authorize(identity, experiment["namespace"], "create", "run")
        self._check_inputs(body)
        with self._state:
            stall = self.stall_creates.pop(0) if self.stall_creates else None
        if stall == "commit-late":
            self.release.wait(STALL_SECONDS)
        with self._state:
            run = {**body, "run_id": self._id("run"), "state": "PENDING"}
            run["namespace"] = experiment["namespace"]
            self.runs.append(run)
        if stall == "answer-late":
            self.release.wait(STALL_SECONDS)
        return 200, {k: v for k, v in run.items() if k != "namespace"}

    def _list_runs(self, request: Recorded, identity: str | None) -> tuple[int, Any]:
        namespace = self._namespace(request.query.get("namespace", [""])[0])
        self._authorize(identity, namespace, "list", "run")
        name = display_name_filter(request)
        with self._state:
            found = [
                {k: v for k, v in copy.deepcopy(r).items() if k != "namespace"}
                for r in self.runs
                if name in (None, r["display_name"]) and r["namespace"] == namespace
            ]
        return 200, {"runs": found, "total_size": len(found)} if found else {}

    def _get_run(self, request: Recorded, identity: str | None, run_id: str) -> tuple[int, Any]:
        with self._state:
            found = [copy.deepcopy(r) for r in self.runs if r["run_id"] == run_id]
        if not found:
            raise KfpError(5, f"Run {run_id} not found")
        self._authorize(identity, found[0].pop("namespace"), "get", "run")
        return 200, found[0]


class FakeKfpRuns(FakeKfpApi):
    """A KFP server where ``pipeline`` (the promotion pipeline, compiled from pipelines/) is
    uploaded already: enough for the bot's launcher."""

    def __init__(self, pipeline: str = "iris-promotion", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = self.add_pipeline(pipeline, compiled("promotion"))
        self.pipeline_id = self.version["pipeline_id"]
