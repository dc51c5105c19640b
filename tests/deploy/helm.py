"""Run the real helm binary on the charts: lint, and template into a list of objects.

``make test`` fetches helm (scripts/fetch-helm.sh) and passes its path in ``HELM``; without it
the tests fail saying so, since CI must run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BOT_CHART = ROOT / "charts" / "approval-bot"
SERVING_CHART = ROOT / "charts" / "approval-bot-serving"
PRODUCTION_VALUES = BOT_CHART / "examples" / "production.yaml"
MINIO_VALUES = SERVING_CHART / "examples" / "minio.yaml"
# The example leaves its two secrets out (the chart requires them): --set them as the README does.
MINIO_SECRETS = ("storage.readOnly.secretAccessKey=ro-secret-9d2e", "bot.apiToken=bot-token-51ac")


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


def binary() -> str:
    """helm from ``HELM``, .cache/helm/helm, or PATH."""
    candidates = [os.environ.get("HELM", ""), str(ROOT / ".cache" / "helm" / "helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("helm")
    if found is None:
        raise FileNotFoundError("helm not found: run `make helm` (or set HELM=/path/to/helm)")
    return found


def run(*args: str) -> str:
    result = subprocess.run(
        [binary(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise HelmError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


@dataclass(frozen=True)
class Rendered:
    """The objects of one ``helm template``, with lookups by kind and name."""

    objects: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}


def template(
    chart: Path,
    *values: Path,
    set_values: Sequence[str] = (),
    namespace: str = "approvals",
    release: str = "ab",
) -> Rendered:
    args = ["template", release, str(chart), "--namespace", namespace]
    for path in values:
        args += ["--values", str(path)]
    for assignment in set_values:
        args += ["--set", assignment]
    documents = yaml.safe_load_all(run(*args))
    return Rendered([d for d in documents if d])


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers of a pod spec."""
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]
