"""``kfp.launch_promotion``: start the promotion run of an approved request and record it."""

from __future__ import annotations

import asyncio

from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.model import ApprovalRequest, State
from bot.domain.outbox import OutboxItem
from bot.ports.effects import PermanentEffectError, PromotionLauncher
from bot.service.commands import Commands
from bot.service.watch_actions import WatchActions


class LaunchPromotion:
    """Launch (idempotent on the outbox key), then ``promotion_started`` with the run id.

    A retry after a launch whose bookkeeping failed finds the same run (the launcher looks the
    key up first) and records it (its commit delivers the messages' "promoting" at once).
    """

    def __init__(
        self,
        launcher: PromotionLauncher,
        commands: Commands,
    ) -> None:
        self.launcher = launcher
        self.commands = commands

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        if request is None:
            raise PermanentEffectError(f"{LAUNCH_PROMOTION}: the approval request no longer exists")
        if request.state is not State.APPROVED:
            run = f" (run {request.promotion_run_id})" if request.promotion_run_id else ""
            return f"request is {request.state.value}{run}: nothing to launch"
        run_id = await self.launcher.launch(request, item.key)
        await asyncio.to_thread(self.commands.promotion_started, request.id, run_id)
        return f"promotion run {run_id} started"


class DeployChampion:
    """``kfp.deploy_champion``: start a promotion run serving the version ``@champion`` names,
    as someone asked about a divergence (docs/watch.md). The run's guard asks the bot for the
    divergence and refuses unless it is still open and ``@champion`` still names that
    version; when serving follows, the watch's next round resolves the divergence. The run is
    followed (``poll_deploys``): a failed one is told in the alert."""

    def __init__(self, launcher: PromotionLauncher, watch: WatchActions) -> None:
        self.launcher = launcher
        self.watch = watch

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        payload = dict(item.payload)
        run_id = await self.launcher.deploy(payload, item.key)
        await asyncio.to_thread(self.watch.deploy_started, str(payload["divergence"]), run_id)
        return f"promotion run {run_id} serves {payload.get('model')} v{payload.get('version')}"
