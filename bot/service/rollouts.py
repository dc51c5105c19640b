"""Canary rollouts: what the promotion run reports, and what people ask from chat or the API
(bot/domain/rollout.py has the rules). The run reads the resulting signal over the bot's API
(``GET /api/v1/approvals/{id}/rollout``; docs/kserve.md, "Canary")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain import errors
from bot.domain.model import ApprovalRequest, State
from bot.domain.rollout import RolloutAction
from bot.service.commands import Commands, Vouched, policy_for
from bot.service.identity import Identity
from bot.service.schemas import plain_or_unknown


@dataclass(frozen=True, slots=True)
class RolloutView:
    """What the promotion run polls: the signal, who gave it, and the request's state."""

    request_id: str
    state: str
    control: str
    control_by: str | None
    progress: dict[str, Any]

    @classmethod
    def of(cls, request: ApprovalRequest) -> RolloutView:
        rollout = request.rollout or {}
        return cls(
            request.id,
            request.state.value,
            request.signal,
            rollout.get("control_by"),
            dict(rollout.get("progress") or {}),
        )


class Rollouts:
    def __init__(self, commands: Commands) -> None:
        self.commands = commands

    def view(self, request_id: str) -> RolloutView:
        plain_or_unknown(request_id)
        with self.commands.uow() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise errors.UnknownRequest(request_id)
            return RolloutView.of(request)

    def report(self, request_id: str, progress: dict[str, Any]) -> RolloutView:
        """The run's progress: shown in the request's messages (a ``rollout_progressed``)."""
        now = self.commands.clock.now()
        with self.commands.uow() as uow:
            request = self.commands._locked(uow, request_id)
            request.report_rollout(progress, now=now)
            self.commands._save_moved(uow, request, State.PROMOTING, now)
            return RolloutView.of(request)

    def control(
        self,
        request_id: str,
        who: Identity,
        action: RolloutAction,
        *,
        vouched: Vouched | None = None,
    ) -> RolloutView:
        """Pause, resume, roll back or promote now, as ``who``; refusals raise (one line)."""
        now = self.commands.clock.now()
        with self.commands.uow() as uow:
            request = self.commands._locked(uow, request_id)
            person = self.commands.resolve(uow, who)
            groups = uow.directory.groups_of(person.name)
            if vouched is not None and vouched.groups:
                groups |= vouched.groups & uow.directory.sourced_groups(vouched.source)
            request.control_rollout(
                action,
                actor=person.name,
                groups=groups,
                policy=policy_for(uow, request.model_name),
                now=now,
            )
            self.commands._save_moved(uow, request, State.PROMOTING, now)
            return RolloutView.of(request)
