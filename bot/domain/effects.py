"""Which side effects an event causes (rows for the outbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.divergence import Divergence
from bot.domain.events import Aggregate, Event
from bot.domain.model import ApprovalRequest, ExpiryAction, State
from bot.domain.names import EffectKind, EventKind, is_chat
from bot.domain.outbox import DeliveryOutcome

__all__ = ["EffectKind", "is_chat"]  # re-exported: they are named in names.py


# Short names, as the rest of the code and the tests know them.
LOG_DECISION = EffectKind.LOG_DECISION
ARCHIVE_CHALLENGER = EffectKind.ARCHIVE_CHALLENGER
LAUNCH_PROMOTION = EffectKind.LAUNCH_PROMOTION
CHAT_POST = EffectKind.CHAT_POST
CHAT_UPDATE = EffectKind.CHAT_UPDATE
CHAT_REMIND = EffectKind.CHAT_REMIND
CHAT_NOTICE = EffectKind.CHAT_NOTICE
CHAT_EVIDENCE = EffectKind.CHAT_EVIDENCE
CHAT_ALERT = EffectKind.CHAT_ALERT
ALIAS_BACK = EffectKind.ALIAS_BACK
DEPLOY_CHAMPION = EffectKind.DEPLOY_CHAMPION

# Events that change what a request's chat message shows.
_SHOWN = frozenset(
    {
        EventKind.VOTED,
        EventKind.DECIDED,
        EventKind.SUPERSEDED,
        EventKind.PROMOTION_STARTED,
        EventKind.PROMOTION_FINISHED,
        EventKind.WINDOW_CLOSED,
        EventKind.ROLLOUT_PROGRESSED,
        EventKind.ROLLOUT_CONTROLLED,
    }
)


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    key: str
    request_id: str | None  # None: not about one request (a divergence's alert)
    payload: dict[str, Any] = field(default_factory=dict)


def one_update_each(effects: list[Effect]) -> list[Effect]:
    """One ``chat.update`` per request and channel: the events of one change (a deciding
    vote is ``voted`` and ``decided``) each ask to show the request again, and a message
    shows the current state, so the last one does for all."""

    def shown(e: Effect) -> tuple[str | None, Any]:
        return e.request_id, e.payload.get("channel")

    update = EffectKind.CHAT_UPDATE
    last = {shown(e): i for i, e in enumerate(effects) if e.kind is update}
    return [e for i, e in enumerate(effects) if e.kind is not update or last[shown(e)] == i]


def effects_for(
    request: ApprovalRequest, event: Event, tag: int | str, channels: tuple[str, ...]
) -> list[Effect]:
    """Effects of one event. ``tag`` (the event's id) makes keys unique per event."""
    rid = request.id
    out: list[Effect] = []
    if event.kind == EventKind.SUBMITTED:
        out += [Effect(CHAT_POST, f"{rid}:post:{c}", rid, {"channel": c}) for c in channels]
        if event.data.get("evidence"):  # after the post (a lane keeps one channel in order)
            out += [
                Effect(CHAT_EVIDENCE, f"{rid}:evidence:{c}", rid, {"channel": c}) for c in channels
            ]
        return out
    if event.kind in (EventKind.REMINDED, EventKind.ESCALATED):
        out += [
            Effect(
                CHAT_REMIND,
                f"{rid}:{event.kind}:{tag}:{c}",
                rid,
                {"channel": c, **event.data, "event": event.kind.value},
            )
            for c in channels
        ]
        return out
    if event.kind in _SHOWN:
        out += [
            Effect(CHAT_UPDATE, f"{rid}:update:{tag}:{c}", rid, {"channel": c}) for c in channels
        ]
    if event.kind == EventKind.DECIDED:
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


def failure_notices(
    outcome: DeliveryOutcome, event: Event, channels: tuple[str, ...]
) -> list[Effect]:
    """A dead-lettered effect is told in the request's chats, with the command that retries
    it; a failed decision effect also renders the request's messages again (they show what
    failed: ``views.launch_problem``). A failed notice is never reported (no loops)."""
    item, rid = outcome.item, outcome.item.request_id
    if item.kind == CHAT_NOTICE or rid is None:
        return []
    out = []
    if not is_chat(item.kind):  # keyed by this death, so a later one renders again
        key = f"{rid}:update:dead:{item.id}:{event.id}"
        out += [Effect(CHAT_UPDATE, f"{key}:{c}", rid, {"channel": c}) for c in channels]
    text = (
        f"⚠️ {item.kind} failed after {item.attempts} attempt(s) and was dead-lettered: "
        f"{outcome.error}. Retry with `approval-bot outbox retry {item.id}`."
    )
    out += [
        Effect(CHAT_NOTICE, f"{rid}:dead:{item.id}:{c}", rid, {"channel": c, "text": text})
        for c in channels
    ]
    return out


def effects_of(aggregate: Aggregate, event: Event, channels: tuple[str, ...]) -> list[Effect]:
    """The effects of one event raised by ``aggregate`` (``channels``: where messages go)."""
    if isinstance(aggregate, ApprovalRequest):
        return effects_for(aggregate, event, event.id, channels)
    if isinstance(aggregate, DeliveryOutcome) and event.kind == EventKind.EFFECT_FAILED:
        return failure_notices(aggregate, event, channels)
    if isinstance(aggregate, Divergence):
        return alerts(aggregate, event, channels)
    return []


def alerts(divergence: Divergence, event: Event, channels: tuple[str, ...]) -> list[Effect]:
    """A divergence is posted to every channel when seen, and its post updated when someone
    asks to end it (its effect goes with it) and when it is resolved (docs/watch.md)."""
    did = divergence.id
    acted: list[Effect] = []
    if event.kind == EventKind.SERVING_ALIAS_BACK:
        payload = {
            "divergence": did,
            "model": divergence.model,
            "version": divergence.served_version,
            "champion": divergence.champion_version,  # moved only while it still names it
        }
        acted = [Effect(ALIAS_BACK, f"divergence:{did}:alias_back:{event.id}", None, payload)]
    elif event.kind == EventKind.SERVING_DEPLOY_CHAMPION:
        payload = {
            "divergence": did,
            "model": divergence.model,
            "version": divergence.champion_version,
            "service": divergence.service,
        }
        key = f"divergence:{did}:deploy_champion:{event.id}"
        acted = [Effect(DEPLOY_CHAMPION, key, None, payload)]
    elif event.kind not in (
        EventKind.SERVING_DIVERGED,
        EventKind.SERVING_CONVERGED,
        EventKind.SERVING_DEPLOY_FAILED,
    ):
        return []
    # The first post's key names the event kind alone (``Alerts._first``); an update after an
    # action, or a failed deploy, is one per event.
    once = event.kind in (EventKind.SERVING_DIVERGED, EventKind.SERVING_CONVERGED)
    suffix = "" if once else f"{event.id}:"
    return acted + [
        Effect(
            CHAT_ALERT,
            f"divergence:{did}:{event.kind}:{suffix}{c}",
            None,
            {"channel": c, "divergence": did},
        )
        for c in channels
    ]
