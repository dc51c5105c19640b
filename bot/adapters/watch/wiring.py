"""Wire the registry ↔ serving watch when ``APPROVAL_BOT_WATCH`` is on (docs/watch.md).

A watch that is asked for but cannot work stops ``serve`` with one line: no model to watch,
no MLflow (``MLFLOW_TRACKING_URI``), or no Kubernetes credentials. Where serving is read:
``APPROVAL_BOT_WATCH_SERVING`` (``auto``: the local launcher's runs when it runs promotions
without deploying, ``make run``; Kubernetes otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.watch.settings import DOCS, WatchSettings, validated_targets
from bot.domain.errors import ConfigError
from bot.ports.serving import ServedModels
from bot.ports.store import StoreUnavailable
from bot.service.watch import Watch

if TYPE_CHECKING:
    from bot.adapters.plugin import Wiring
    from bot.settings import Settings

log = logging.getLogger("bot.watch")
LOCAL = "local"


def serving_kind(watch: WatchSettings, settings: Settings) -> str:
    if watch.serving != "auto":
        return watch.serving
    local = settings.launcher.strip().lower() == "local"
    return LOCAL if local and settings.local_deploy_target == "none" else "kubernetes"


def holder_name() -> str:
    """This replica, as the lease names it: the pod's name (its hostname), and more."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def build_watch(wiring: Wiring, watch: WatchSettings) -> Watch:
    """The watch the settings ask for; ``ConfigError`` (one line) when it cannot work."""
    settings = wiring.settings
    uri = settings.mlflow_tracking_uri
    if not uri or not uri.startswith(("http://", "https://")):
        raise ConfigError(
            "APPROVAL_BOT_WATCH=on compares serving with MLflow's @champion and needs "
            f"MLFLOW_TRACKING_URI, an MLflow tracking server's http(s):// URL ({DOCS})"
        )
    kind = serving_kind(watch, settings)
    targets = validated_targets(watch, settings, local=kind == LOCAL)
    from bot.adapters.mlflow.client import MlflowRest
    from bot.adapters.watch.registry import RegistryChampions

    served: ServedModels
    if kind == LOCAL:
        from bot.adapters.watch.local import LocalServing

        served = LocalServing(Path(settings.local_pipeline_root))
    else:
        from bot.adapters.watch.kube import KubeServing

        served = KubeServing()
    services = wiring.services
    return Watch(
        services.uow,
        services.clock,
        services.leases,
        served,
        RegistryChampions(MlflowRest(uri), prefix=settings.promotion_storage_uri_prefix),
        targets,
        holder=holder_name(),
        every=timedelta(seconds=watch.seconds),
    )


class WatchLoop:
    """One round every ``seconds``, in a worker thread; stopped with the server."""

    def __init__(self, watch: Watch, seconds: float) -> None:
        self.watch = watch
        self.seconds = seconds
        self.task: asyncio.Task[None] | None = None
        self.said: dict[str, str] = {}  # what could not be read, said once until it changes

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="serving-watch")

    async def run(self) -> None:
        while True:
            try:
                report = await asyncio.to_thread(self.watch.check)
            except StoreUnavailable:
                report = None
            except Exception:
                log.exception("the serving watch's round failed")
                report = None
            if report is not None:
                for model, why in report.unavailable.items():
                    if self.said.get(model) != why:
                        log.warning("serving watch: %s: %s", model, why)
                self.said = dict(report.unavailable)
            await asyncio.sleep(self.seconds)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        try:
            await asyncio.to_thread(self.watch.stop)
        except StoreUnavailable:
            return


def wire(wiring: Wiring) -> None:
    from bot.settings import validated

    watch = validated(WatchSettings)
    if not watch.enabled:
        return
    loop = WatchLoop(build_watch(wiring, watch), watch.seconds)
    wiring.on_start(loop.start)
    wiring.on_stop(loop.stop)
    log.info(
        "serving watch: %s every %gs",
        ", ".join(f"{t.model} on {t.service}" for t in loop.watch.targets),
        watch.seconds,
    )
