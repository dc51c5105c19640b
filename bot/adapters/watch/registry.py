"""What ``@champion`` names in the MLflow registry, as the URI a promotion would serve.

The storage URI of a version is computed exactly as the promotion pipeline computes the one
it patches into the InferenceService: MLflow's download URI of the version, with
``mlflow-artifacts:/`` mapped under ``APPROVAL_BOT_PROMOTION_STORAGE_URI_PREFIX``
(``pipelines/steps/promotion.py: storage_uri``, imported, so the two cannot drift apart).
MLflow keeps no history of aliases (setting one does not even change the registered model's
``last_updated_timestamp``): the alert's who/when come from Kubernetes only.
"""

from __future__ import annotations

import httpx

from bot.adapters.mlflow.client import CredentialsRefused, MlflowError, MlflowRest, is_missing
from bot.domain.divergence import Champion
from bot.ports.serving import WatchUnavailable

CHAMPION = "champion"
VERSIONS_LOOKED_AT = 20  # for the version a served URI belongs to, newest first


class RegistryChampions:
    """``Champions`` over MLflow's REST API; blocking."""

    def __init__(self, rest: MlflowRest, *, prefix: str) -> None:
        self.rest = rest
        self.prefix = prefix

    def _uri(self, model: str, version: str) -> str:
        from pipelines.steps.promotion import storage_uri

        return storage_uri(self.rest.download_uri(model, version), self.prefix)

    def champion(self, model: str) -> Champion:
        try:
            found = self.rest.registered_model(model)
            aliases = {str(a["alias"]): str(a["version"]) for a in found.get("aliases") or []}
            version = aliases.get(CHAMPION)
            uri = self._uri(model, version) if version is not None else None
        except MlflowError as exc:
            if is_missing(exc):
                return Champion(None, None)
            raise WatchUnavailable(f"reading {model}'s @champion: {exc}") from None
        except (CredentialsRefused, httpx.HTTPError, OSError, ValueError) as exc:
            raise WatchUnavailable(f"reading {model}'s @champion: {exc}") from None
        return Champion(version, uri)

    def version_serving(self, model: str, uri: str) -> str | None:
        try:
            for version in self.rest.versions(model, limit=VERSIONS_LOOKED_AT):
                if self._uri(model, version) == uri:
                    return version
        except (MlflowError, CredentialsRefused, httpx.HTTPError, OSError, ValueError):
            return None  # said as "no registered version": the alert still goes out
        return None
