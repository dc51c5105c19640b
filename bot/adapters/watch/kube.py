"""What an InferenceService serves, read from the Kubernetes API (KServe v1beta1).

Both deployment modes, Serverless and RawDeployment, keep the served model in the same spec
field, ``spec.predictor.model.storageUri``: the one the promotion pipeline patches
(``pipelines/steps/promotion.py: inference_service_patch``). Who changed it last, and when,
is read from ``metadata.managedFields``: the API server records, for every write, the
manager (``fieldManager``, by default the client's user agent up to its first ``/``), the
operation and the time, with the fields it set (FieldsV1;
https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).

Configuration, as the pipelines read it (``pipelines/steps/kube.py``): ``KUBERNETES_API_URL``
(+ ``KUBERNETES_API_TOKEN``; tests point it at a fake on 127.0.0.1), the in-cluster
ServiceAccount, then kubeconfig. The bot's ServiceAccount needs ``get`` on the watched
InferenceServices only (the chart's ``watch.*`` values grant exactly that).
"""

from __future__ import annotations

import json
from typing import Any

from bot.domain.divergence import Served, WatchTarget
from bot.domain.errors import ConfigError
from bot.ports.serving import WatchUnavailable

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
TIMEOUT_SECONDS = 10.0
STORAGE_URI_FIELD = ("f:spec", "f:predictor", "f:model", "f:storageUri")


def api_client() -> Any:
    """An ``ApiClient`` as the promotion's steps make it (``pipelines/steps/kube.py``);
    ``ConfigError`` (one line) when no credentials can be found."""
    from kubernetes import config

    from pipelines.steps.kube import api_client as configured_client

    try:
        return configured_client()
    except (config.ConfigException, OSError) as exc:
        raise ConfigError(
            "APPROVAL_BOT_WATCH=on reads the InferenceServices from Kubernetes, but no "
            "credentials were found (not in a cluster, no kubeconfig: "
            f"{' '.join(str(exc).split())}); docs/watch.md"
        ) from None


def last_change(service: dict[str, Any]) -> tuple[str | None, str | None]:
    """(manager, time) of the newest managedFields entry that set the storage URI."""
    best: tuple[str, str | None] | None = None
    for entry in (service.get("metadata") or {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        for step in STORAGE_URI_FIELD:
            fields = fields.get(step) if isinstance(fields, dict) else None
        if fields is None:
            continue
        at = entry.get("time")
        if best is None or (at or "") >= (best[1] or ""):
            best = (str(entry.get("manager") or "unknown"), at)
    return best if best is not None else (None, None)


class KubeServing:
    """``ServedModels`` over the Kubernetes API; blocking (the watch runs in a thread)."""

    def __init__(self, api: Any = None) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api or api_client())

    def served(self, target: WatchTarget) -> Served:
        from kubernetes.client.exceptions import ApiException

        namespace, _, name = target.service.partition("/")
        try:
            found = self.api.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=TIMEOUT_SECONDS
            )
        except ApiException as exc:
            raise WatchUnavailable(
                f"reading {PLURAL}.{GROUP} {target.service}: {exc.status} {_message(exc)}"
            ) from None
        except Exception as exc:  # urllib3: refused, timed out, TLS
            raise WatchUnavailable(f"reading {target.service}: {type(exc).__name__}") from None
        service = dict(found) if isinstance(found, dict) else {}
        model = ((service.get("spec") or {}).get("predictor") or {}).get("model") or {}
        uri = model.get("storageUri")
        by, at = last_change(service)
        return Served(str(uri) if uri is not None else None, by, at)


def _message(error: Any) -> str:
    try:
        return str(json.loads(error.body).get("message", error.reason))
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)
