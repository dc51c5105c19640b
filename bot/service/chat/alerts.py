"""A divergence's alert (docs/watch.md), worded once for every chat, and its delivery.

The watch raises ``serving_diverged`` and, later, ``serving_converged``; each asks every
channel for a ``chat.alert`` (``bot/domain/effects.py: alerts``). The first posts the alert
in the channel, and where it is goes with the divergence (``refs``); the second updates it
in place. Like a request's message, an alert always shows the divergence's *current* state,
so showing it twice is harmless. The channel's ``Publisher`` hands these rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.divergence import ACTIONS, ALIAS_BACK, DEPLOY_CHAMPION, Divergence
from bot.domain.outbox import OutboxItem
from bot.ports.chat import MessageGone, Ref, Transport, Updated
from bot.ports.store import UnitOfWork
from bot.service.chat.rich import Code, Line, Markup, Reply, When, bold, clip


class AlertNotPosted(Exception):
    """The alert's post is not recorded yet (being posted elsewhere): retried later."""


def alert_lines(d: Divergence) -> tuple[Line, ...]:
    """What the alert says: what is served, what @champion names, who/when if known."""
    served = d.served_uri or "nothing"
    version = f" (v{d.served_version})" if d.served_version else " (no registered version)"
    lines: list[Line] = []
    if d.is_open:
        lines.append((bold(f"⚠️ Serving and the registry disagree: {d.model}"),))
    else:
        lines.append((bold(f"✅ Resolved: serving and the registry agree again: {d.model}"),))
    lines += [
        ("Served by ", Code(d.service), ": ", Code(served), version if d.served_uri else ""),
        (
            "@champion: ",
            f"v{d.champion_version}" if d.champion_version else "no version",
            *((" → ", Code(d.champion_uri)) if d.champion_uri else ()),
        ),
    ]
    by, at = d.detail.get("served_changed_by"), d.detail.get("served_changed_at")
    if by or at:
        lines.append((f"Serving last changed by {by or 'someone'}" + (f" at {at}" if at else ""),))
    lines.append(("Seen ", When(d.detected_at), f" (divergence {d.id})"))
    failed = d.detail.get("deploy_failed")
    if isinstance(failed, dict) and d.is_open:
        lines.append(
            (
                "❌ The deploy asked by ",
                bold(str(failed.get("by") or "someone")),
                f" failed (run {failed.get('run')}): ",
                clip(str(failed.get("why") or ""), 500),
            )
        )
    asked = d.asked
    if asked is not None:
        action = ACTIONS.get(str(asked.get("action")), str(asked.get("action")))
        lines.append(
            (f"{DONE_MARK} ", bold(str(asked.get("by") or "someone")), f" asked to {action}")
        )
    if not d.is_open:
        lines.append(("Resolved ", When(d.resolved_at), f": {d.resolution or ''}"))
    elif asked is None:
        lines.append(
            (
                "The bot is not promoting this model: someone moved @champion or changed the "
                "InferenceService by hand. Deploy the champion, or move @champion back to the "
                "served version (docs/watch.md).",
            )
        )
    return tuple(lines)


DONE_MARK = "⏳"
LABELS = {
    DEPLOY_CHAMPION: "🚀 Deploy the champion",
    ALIAS_BACK: "↩️ Move the alias back",
}
DONE = {
    DEPLOY_CHAMPION: "🚀 A promotion run deploys the champion of",
    ALIAS_BACK: "↩️ @champion goes back to the served version of",
}


@dataclass(frozen=True, slots=True)
class AlertButtons:
    """What a person may do about an open divergence nobody acted on yet (docs/watch.md):
    each button's action (``bot/domain/divergence.py: ACTIONS``) and label."""

    divergence_id: str
    actions: tuple[str, ...]

    def labelled(self) -> tuple[tuple[str, str], ...]:
        return tuple((a, LABELS[a]) for a in self.actions)


def alert_buttons(d: Divergence) -> AlertButtons | None:
    """Deploy the champion (when @champion names a version), Move the alias back (when the
    served URI is a registered version's); none once resolved or someone asked."""
    if not d.is_open or d.asked is not None:
        return None
    actions = tuple(
        action
        for action, possible in (
            (DEPLOY_CHAMPION, d.champion_version is not None and d.champion_uri is not None),
            (ALIAS_BACK, d.served_version is not None),
        )
        if possible
    )
    return AlertButtons(d.id, actions) if actions else None


def done_line(action: str, d: Divergence) -> Line:
    version = d.champion_version if action == DEPLOY_CHAMPION else d.served_version
    return (f"{DONE[action]} ", Code(d.model), f" (v{version}); the alert says when it is over.")


@dataclass(eq=False)
class AlertSlot:
    """One divergence's alert in one channel, as one claimed batch delivers it."""

    divergence: Divergence
    ref: Ref | None
    posted: Ref | None = None


class Alerts:
    """The ``chat.alert`` rows of one channel's ``Publisher``."""

    def __init__(self, channel: str, markup: Markup, transport: Transport) -> None:
        self.channel = channel
        self.markup = markup
        self.transport = transport

    def prepare(self, uow: UnitOfWork, item: OutboxItem, slots: dict[str, Any]) -> Any:
        did = str(item.payload.get("divergence") or "")
        if did in slots:
            return slots[did]
        found = uow.divergences.get(did)
        if found is None:
            return None
        slot = slots[did] = AlertSlot(found, found.refs.get(self.channel))
        return slot

    async def deliver(self, item: OutboxItem, slot: AlertSlot) -> str:
        d = slot.divergence
        rendered = self.markup.alert(Reply(alert_lines(d)), alert_buttons(d))
        if slot.ref is None:
            if not self._first(item, d):
                raise AlertNotPosted(
                    f"the {self.channel} alert of divergence {d.id} is not posted yet"
                )
            slot.ref = slot.posted = await self.transport.post(rendered, request_id=f"w-{d.id}")
            return f"alert posted for {d.model}"
        try:
            updated = await self.transport.update(slot.ref, rendered)
        except MessageGone:
            return f"the {self.channel} alert was deleted: left alone"
        if updated is Updated.UNCHANGED:
            return "the alert shows it already"
        return f"alert updated for {d.model} ({'open' if d.is_open else 'resolved'})"

    @staticmethod
    def _first(item: OutboxItem, d: Divergence) -> bool:
        """Is this the row that posts the alert (the divergence's first event)?"""
        return item.key.startswith(f"divergence:{d.id}:serving_diverged:")

    def record(self, uow: UnitOfWork, slot: AlertSlot) -> bool:
        if slot.posted is None:
            return False
        # locked: what someone asks meanwhile (its ``detail``) is not overwritten
        found = uow.divergences.get(slot.divergence.id, for_update=True)
        if found is None:
            return False
        found.refs[self.channel] = slot.posted
        uow.divergences.save(found)
        slot.posted = None
        return True
