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

from bot.domain.divergence import Divergence
from bot.domain.outbox import OutboxItem
from bot.ports.chat import MessageGone, Ref, Transport, Updated
from bot.ports.store import UnitOfWork
from bot.service.chat.rich import Code, Line, Markup, Reply, When, bold


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
    if not d.is_open:
        lines.append(("Resolved ", When(d.resolved_at), f": {d.resolution or ''}"))
    else:
        lines.append(
            (
                "The bot is not promoting this model: someone moved @champion or changed the "
                "InferenceService by hand. Promote the champion, or move @champion back to the "
                "served version (docs/watch.md).",
            )
        )
    return tuple(lines)


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
        rendered = self.markup.reply(Reply(alert_lines(slot.divergence)))
        d = slot.divergence
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
        found = uow.divergences.get(slot.divergence.id)
        if found is None:
            return False
        found.refs[self.channel] = slot.posted
        uow.divergences.save(found)
        slot.posted = None
        return True
