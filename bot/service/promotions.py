"""Follow promotion runs until they end (the scheduler's ``poll_promotions`` job calls this)."""

from __future__ import annotations

import asyncio
import logging

from bot.domain import errors
from bot.domain.model import ApprovalRequest, State
from bot.ports.effects import PromotionLauncher
from bot.service import Services
from bot.service.logctx import bind_request

log = logging.getLogger("bot.promotions")


async def poll_promotions(
    services: Services, launcher: PromotionLauncher, *, limit: int = 100
) -> list[ApprovalRequest]:
    """Ask the launcher about every promoting request; record the ones that ended.

    Returns the requests that moved to ``promoted`` / ``promotion_failed`` (their chat updates
    are in the outbox: deliver them). A launcher that cannot answer is asked again next time.
    """
    finished = []
    for request in await asyncio.to_thread(services.queries.in_state, State.PROMOTING, limit):
        if not request.promotion_run_id:
            continue
        with bind_request(request.id):
            try:
                status = await launcher.status(request.promotion_run_id)
            except Exception as exc:  # any launcher failure: try again on the next poll
                log.warning(
                    "promotion run %s: status unavailable: %s", request.promotion_run_id, exc
                )
                continue
            if not status.terminal:
                continue
            try:
                done = await asyncio.to_thread(
                    services.commands.promotion_finished,
                    request.id,
                    succeeded=status.succeeded,
                    detail=status.detail or status.state,
                )
            except errors.DomainError as exc:  # another replica recorded it first
                log.info("promotion run %s: %s", status.run_id, exc)
                continue
            log.info("promotion run %s ended: %s", status.run_id, status.state)
            finished.append(done)
    return finished


async def poll_deploys(services: Services, launcher: PromotionLauncher) -> int:
    """Follow the runs of "Deploy the champion" (docs/watch.md): one that failed is told in the
    divergence's alert, whose buttons come back; one that succeeded is left to the watch, whose
    next round sees serving and the registry agree. Returns how many failed."""
    failed = 0
    for found in await asyncio.to_thread(services.watch.deploying):
        run_id = found.deploying
        assert run_id is not None
        try:
            status = await launcher.status(run_id)
        except Exception as exc:  # any launcher failure: try again on the next poll
            log.warning("deploy run %s: status unavailable: %s", run_id, exc)
            continue
        if status.terminal and not status.succeeded:
            why = status.detail or status.state
            await asyncio.to_thread(services.watch.deploy_failed, found.id, run_id, why)
            log.warning("deploy run %s of divergence %s failed: %s", run_id, found.id, why)
            failed += 1
    return failed
