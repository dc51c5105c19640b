"""Which side effects a change to a request causes (rows for the outbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.model import ApprovalRequest, Event, ExpiryAction, State

LOG_DECISION = "mlflow.log_decision"
ARCHIVE_CHALLENGER = "mlflow.archive_challenger"
LAUNCH_PROMOTION = "kfp.launch_promotion"
CHAT_POST = "chat.post"
CHAT_UPDATE = "chat.update"
CHAT_REMIND = "chat.remind"
CHAT_NOTICE = "chat.notice"


@dataclass(frozen=True, slots=True)
class Effect:
    kind: str
    key: str
    request_id: str
    payload: dict[str, Any] = field(default_factory=dict)


def effects_for(
    request: ApprovalRequest, event: Event, seq: int, channels: tuple[str, ...]
) -> list[Effect]:
    """Effects of one recorded event. ``seq`` makes keys unique per event."""
    rid = request.id
    out: list[Effect] = []
    if event.kind == "submitted":
        out += [Effect(CHAT_POST, f"{rid}:post:{c}", rid, {"channel": c}) for c in channels]
        return out
    if event.kind in ("reminded", "escalated"):
        kind = CHAT_REMIND
        out += [
            Effect(
                kind,
                f"{rid}:{event.kind}:{seq}:{c}",
                rid,
                {"channel": c, **event.data, "event": event.kind},
            )
            for c in channels
        ]
        return out
    if event.kind in ("voted", "decided", "superseded", "promotion_started", "promotion_finished"):
        out += [
            Effect(CHAT_UPDATE, f"{rid}:update:{seq}:{c}", rid, {"channel": c}) for c in channels
        ]
    if event.kind == "decided":
        decision = request.decision
        if decision in (State.APPROVED, State.REJECTED, State.EXPIRED):
            # Superseded and cancelled requests were never decided on their merits.
            out.append(
                Effect(LOG_DECISION, f"{rid}:log_decision", rid, {"decision": str(decision)})
            )
        if decision is State.APPROVED:
            out.append(Effect(LAUNCH_PROMOTION, f"{rid}:launch_promotion", rid))
        elif decision is State.REJECTED:
            out.append(Effect(ARCHIVE_CHALLENGER, f"{rid}:archive", rid, {"alias": "rejected"}))
        elif decision is State.EXPIRED and request.expiry_action is not ExpiryAction.KEEP:
            alias = "rejected" if request.expiry_action is ExpiryAction.REJECT else "archived"
            out.append(Effect(ARCHIVE_CHALLENGER, f"{rid}:archive", rid, {"alias": alias}))
    return out
