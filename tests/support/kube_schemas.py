"""Validate Kubernetes objects offline: core kinds with kubernetes-validate, CRDs with schemas.

KServe's schemas (``schemas/kserve/*.json``, openAPIV3Schema per version from the KServe
repository) have no ``additionalProperties: false``, so they accept a misspelt key such as
``storageURI``; ``undeclared_keys`` catches those. Every problem is returned as a line that
names the object and the path.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMAS = {
    ("serving.kserve.io", "InferenceService"): SCHEMAS / "kserve" / "inferenceservices.json",
    ("serving.kserve.io", "ServingRuntime"): SCHEMAS / "kserve" / "servingruntimes.json",
    ("monitoring.coreos.com", "ServiceMonitor"): SCHEMAS / "monitoring" / "servicemonitors.json",
}
# The oldest Kubernetes the charts support (Chart.yaml kubeVersion) and the newest we know.
KUBERNETES_VERSIONS = ("1.27", "1.35")


@functools.cache
def crd_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of ``group/version`` ``kind``; KeyError when we have none."""
    stored = json.loads(CRD_SCHEMAS[(group, kind)].read_text())
    return dict(stored["versions"][version])


def undeclared_keys(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Keys the schema does not declare, where it declares properties and allows no others."""
    if isinstance(value, list):
        items = schema.get("items", {})
        return [p for i, v in enumerate(value) for p in undeclared_keys(v, items, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    declared = schema.get("properties")
    extra = schema.get("additionalProperties")
    problems = []
    for key, child in value.items():
        if declared is not None and key in declared:
            problems += undeclared_keys(child, declared[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            problems += undeclared_keys(child, extra, f"{path}.{key}")
        elif declared and not extra and not schema.get("x-kubernetes-preserve-unknown-fields"):
            problems.append(f"{path}.{key}")
    return problems


def problems(obj: dict[str, Any]) -> list[str]:
    """Everything wrong with one rendered object (empty when it is valid)."""
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError

    name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    if (group, obj.get("kind")) in CRD_SCHEMAS:
        schema = crd_schema(group, str(obj["kind"]), version)
        found = [
            f"{name}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(obj)
        ]
        return found + [f"{name}: unknown key {k}" for k in undeclared_keys(obj, schema)]
    found = []
    for kube_version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(map(str, error.absolute_path))
            found.append(f"{name} (Kubernetes {kube_version}): {where}: {error.message}")
        except SchemaNotFoundError:
            found.append(f"{name}: no schema for {obj.get('apiVersion')} {obj.get('kind')}")
    return found
