"""The bot's control of a running canary, over the bot's API only (docs/kserve.md, "Canary").

The promotion polls ``GET /api/v1/approvals/{id}/rollout`` for the signal people gave in chat
(``run``, ``pause``, ``rollback``, ``promote_now``, and who gave it) and reports its progress
with ``PUT /api/v1/approvals/{id}/rollout`` (step, traffic split, analysis numbers), which the
bot shows in the request's message. Polling, not a bot-started run: the run that knows what it
patched is the one that undoes it (only it holds the spec and aliases from before), and a
bot that is down or restarting never leaves a canary without its rollback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from pipelines.steps.approvals import BotClient, BotRequestError

log = logging.getLogger(__name__)

SIGNALS = ("run", "pause", "rollback", "promote_now")


@dataclass(frozen=True)
class Signal:
    action: str = "run"
    by: str = ""


class Control(Protocol):
    def signal(self) -> Signal: ...

    def report(self, progress: dict[str, Any]) -> None: ...


class NoControl:
    """No bot to ask (a run without an approval request): the analysis alone decides."""

    def signal(self) -> Signal:
        return Signal()

    def report(self, progress: dict[str, Any]) -> None:
        log.info("canary: %s", progress)


class BotControl:
    """Signals and progress through the bot's API; a bot that cannot be reached is asked
    again on the next poll (the analysis goes on deciding meanwhile)."""

    def __init__(self, client: BotClient, request_id: str) -> None:
        self.client, self.request_id = client, request_id

    def signal(self) -> Signal:
        try:
            answer = self.client.rollout(self.request_id)
        except BotRequestError as error:
            log.warning("canary control unavailable: %s", error)
            return Signal()
        action = str(answer.get("control") or "run")
        if action not in SIGNALS:
            log.warning("canary control: unknown signal %r, going on", action)
            return Signal()
        return Signal(action, str(answer.get("control_by") or ""))

    def report(self, progress: dict[str, Any]) -> None:
        log.info("canary: %s", progress)
        try:
            self.client.report_rollout(self.request_id, progress)
        except BotRequestError as error:
            log.warning("canary progress not reported: %s", error)


def controls(approval_request_id: str) -> Control:
    """The bot's control when the run knows its request and the bot (it always does when the
    bot launched it); else none."""
    import os

    if approval_request_id.strip() and os.environ.get("APPROVAL_BOT_URL"):
        return BotControl(BotClient.from_env(), approval_request_id)
    return NoControl()
