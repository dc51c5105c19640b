"""What the ``local`` launcher serves: the storage URI its last successful promotion run of a
model produced (``bot/adapters/kfp/local.py`` keeps a JSON record per run under
``<APPROVAL_BOT_LOCAL_PIPELINE_ROOT>/runs/``, with the run's parameters and outputs).

With ``APPROVAL_BOT_LOCAL_DEPLOY_TARGET=none`` (``make run``) nothing is served for real:
the promotion moved the aliases and reported the URI it would serve. So the watch compares
that with ``@champion``, and moving ``@champion`` by hand in the local MLflow is a
divergence, shown in the console like any other (docs/watch.md). Before the launcher has
promoted a model there is nothing to compare, and the watch says so in its log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.domain.divergence import Served, WatchTarget
from bot.ports.serving import WatchUnavailable

MANAGER = "the local launcher"


class LocalServing:
    """``ServedModels`` over the local launcher's run records; blocking."""

    def __init__(self, root: Path) -> None:
        self.runs = root / "runs"

    def served(self, target: WatchTarget) -> Served:
        last: dict[str, Any] | None = None
        for path in self.runs.glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced (os.replace) or not ours
            params = record.get("params") or {}
            if record.get("state") != "SUCCEEDED" or params.get("model_name") != target.model:
                continue
            if last is None or str(record.get("finished_at")) > str(last.get("finished_at")):
                last = record
        if last is None:  # nothing to compare yet: no alert before the first promotion
            raise WatchUnavailable(f"the local launcher has not promoted {target.model} yet")
        uri = (last.get("outputs") or {}).get("storage_uri")
        return Served(str(uri) if uri else None, MANAGER, last.get("finished_at"))
