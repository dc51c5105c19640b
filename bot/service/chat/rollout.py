"""A canary's rollout in the request's message: the step, the traffic split, the analysis
numbers, who paused or rolled it back, and the buttons that steer it (bot/domain/rollout.py).
Every channel shows these lines and offers these buttons (or the same commands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.model import ApprovalRequest, State
from bot.domain.policy import CanarySpec
from bot.domain.rollout import FINAL_PHASES, VERB, RolloutAction
from bot.service.chat.rich import Code, Line, bold, clip

ANALYSIS_SHOWN = 6  # checks shown per step
LINE_SHOWN = 300
LABELS = {
    RolloutAction.PAUSE: "⏸️ Pause",
    RolloutAction.RESUME: "▶️ Resume",
    RolloutAction.ROLLBACK: "↩️ Roll back",
    RolloutAction.PROMOTE_NOW: "⏩ Promote now",
}
# the commands that do the same, in every channel (bot/service/chat/parse.py)
COMMANDS = {
    "pause": RolloutAction.PAUSE,
    "resume": RolloutAction.RESUME,
    "rollback": RolloutAction.ROLLBACK,
    "promote-now": RolloutAction.PROMOTE_NOW,
}
_SIGNALLED = {
    "pause": "⏸️ paused by",
    "rollback": "↩️ rollback asked by",
    "promote_now": "⏩ promotion now asked by",
}
DONE = {
    RolloutAction.PAUSE: "⏸️ Paused the canary of request",
    RolloutAction.RESUME: "▶️ Resumed the canary of request",
    RolloutAction.ROLLBACK: "↩️ Rolling back the canary of request",
    RolloutAction.PROMOTE_NOW: "⏩ Promoting now the canary of request",
}


@dataclass(frozen=True, slots=True)
class RolloutButtons:
    """What a person may ask of a running canary now (each button's action and label)."""

    request_id: str
    actions: tuple[RolloutAction, ...]

    def labelled(self) -> tuple[tuple[RolloutAction, str], ...]:
        return tuple((a, LABELS[a]) for a in self.actions)


def _progress(request: ApprovalRequest) -> dict[str, Any]:
    return dict((request.rollout or {}).get("progress") or {})


def planned_line(request: ApprovalRequest) -> Line | None:
    """Before the decision, what approving starts when the request's policy asked for a
    canary (``promotion["canary"]``, bot/domain/model.py), so approvers know it up front."""
    canary = CanarySpec.from_json(request.promotion.get("canary"))
    if canary is None or not request.is_pending:
        return None
    steps = " → ".join(f"{s}%" for s in canary.steps)
    dwell = canary.dwell_seconds
    each = f"{dwell // 60} min" if dwell % 60 == 0 else f"{dwell} s"
    return (
        bold("On approval: a canary"),
        f" {steps}, {each} per step, rolled back automatically if a step's analysis fails",
    )


def rollout_lines(request: ApprovalRequest) -> tuple[Line, ...]:
    """Nothing until the promotion reports a canary."""
    progress = _progress(request)
    if not progress:
        return ()
    steps = " → ".join(f"{s}%" for s in progress.get("steps") or [])
    head: Line = (bold("Canary"), f" {progress.get('phase', '?')} at {progress.get('step', '?')}%")
    if steps:
        head = (*head, f" (steps {steps})")
    lines: list[Line] = [head]
    traffic = progress.get("traffic") or {}
    if traffic:
        split = ", ".join(f"{name} {pct}%" for name, pct in sorted(traffic.items()))
        lines.append(("Traffic: ", clip(split, LINE_SHOWN)))
    for check in (progress.get("analysis") or [])[:ANALYSIS_SHOWN]:
        mark = "✅" if check.get("passed") else "❌"
        lines.append((f"{mark} ", Code(str(check.get("check", "?"))), _numbers(check)))
    rollout = request.rollout or {}
    signal = str(rollout.get("control") or "run")
    if signal in _SIGNALLED and request.state is State.PROMOTING:
        lines.append((f"{_SIGNALLED[signal]} ", bold(str(rollout.get("control_by") or "?"))))
    for key in ("reason", "restored"):
        if progress.get(key):
            lines.append((clip(str(progress[key]), LINE_SHOWN),))
    return tuple(lines)


def _numbers(check: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return "no data" if value is None else f"{float(value):.4g}"

    said = f": canary {show(check.get('canary'))}, previous {show(check.get('previous'))}"
    said += f", limit {show(check.get('limit'))}"
    if not check.get("passed") and check.get("reason"):
        said += f" ({clip(str(check['reason']), LINE_SHOWN)})"
    return said


def rollout_buttons(request: ApprovalRequest) -> RolloutButtons | None:
    """While a canary runs: Pause or Resume, Roll back, Promote now."""
    progress = _progress(request)
    if request.state is not State.PROMOTING or not progress:
        return None
    if progress.get("phase") in FINAL_PHASES:
        return None
    signal = request.signal
    if signal == "run":
        actions = (RolloutAction.PAUSE, RolloutAction.ROLLBACK, RolloutAction.PROMOTE_NOW)
    elif signal == "pause":
        actions = (RolloutAction.RESUME, RolloutAction.ROLLBACK, RolloutAction.PROMOTE_NOW)
    else:
        return None
    return RolloutButtons(request.id, actions)


def done_line(action: RolloutAction, request_id: str) -> Line:
    return (f"{DONE[action]} ", Code(request_id), f" ({VERB[action]}).")
