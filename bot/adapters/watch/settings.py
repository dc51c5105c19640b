"""The watch's settings (docs/watch.md, docs/configuration.md "Registry ↔ serving watch").

``APPROVAL_BOT_WATCH_MODELS``: comma-separated ``model`` or ``model=namespace/name``; a
model alone is served by the promotion target (``APPROVAL_BOT_PROMOTION_NAMESPACE`` /
``APPROVAL_BOT_PROMOTION_INFERENCE_SERVICE``), where the promotion pipeline patches it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.divergence import WatchTarget
from bot.domain.errors import ConfigError
from bot.settings import DNS1035_LABEL, DNS1123_LABEL, HOUR, Settings

DOCS = "docs/watch.md"


def parse_models(text: str, *, namespace: str, service: str) -> tuple[WatchTarget, ...]:
    """``"iris, other=ml/other-serving"`` → targets; a ValueError names a bad entry."""
    out: dict[str, WatchTarget] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        model, sep, where = (s.strip() for s in entry.partition("="))
        ns, slash, name = where.partition("/") if sep else (namespace, "/", service)
        if not model or not slash or not DNS1123_LABEL.fullmatch(ns):
            raise ValueError(f"{entry!r} is not model or model=namespace/name ({DOCS})")
        if not DNS1035_LABEL.fullmatch(name):
            raise ValueError(f"{entry!r}: {name!r} is not an InferenceService name ({DOCS})")
        if model in out:
            raise ValueError(f"{model!r} is listed twice")
        out[model] = WatchTarget(model, f"{ns}/{name}")
    return tuple(out.values())


class WatchSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    enabled: bool = Field(False, validation_alias=AliasChoices("APPROVAL_BOT_WATCH"))
    seconds: float = Field(
        60.0, gt=0, le=HOUR, validation_alias=AliasChoices("APPROVAL_BOT_WATCH_SECONDS")
    )
    models: str = Field("", validation_alias=AliasChoices("APPROVAL_BOT_WATCH_MODELS"))
    # auto: the local launcher's runs with APPROVAL_BOT_LAUNCHER=local and
    # APPROVAL_BOT_LOCAL_DEPLOY_TARGET=none (`make run`), Kubernetes otherwise
    serving: Literal["auto", "kubernetes", "local"] = Field(
        "auto", validation_alias=AliasChoices("APPROVAL_BOT_WATCH_SERVING")
    )

    @field_validator("models")
    @classmethod
    def _models(cls, value: str) -> str:
        parse_models(value, namespace="default", service="iris-serving")  # names the problem
        return value


def validated_targets(
    watch: WatchSettings, settings: Settings, *, local: bool
) -> tuple[WatchTarget, ...]:
    """The watched models; ``ConfigError`` when there is none. A model alone is served by
    the promotion target (its namespace: the pod's own, as the pipeline's default)."""
    from pipelines.steps.kube import default_namespace

    namespace = settings.promotion_namespace or default_namespace()
    targets = parse_models(
        watch.models, namespace=namespace, service=settings.promotion_inference_service
    )
    if not targets:
        raise ConfigError(
            "APPROVAL_BOT_WATCH=on needs APPROVAL_BOT_WATCH_MODELS: the models to watch, "
            f"e.g. iris-classifier or iris-classifier=models/iris-serving ({DOCS})"
        )
    if local:
        return tuple(WatchTarget(t.model, "local") for t in targets)
    return targets
