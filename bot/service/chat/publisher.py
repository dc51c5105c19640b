"""The chat core's outbox side: every message about a request, in every channel, goes out
through here, in one flow for all channels.

A channel brings its ``Markup`` (how its messages are written) and its ``Transport`` (how
they reach the platform); this stage does the rest, in two transactions per delivery:

1. with the claim of the outbox rows (``prepare``): read what the message shows (the
   request, its policy, its decision effects, where it is) and, when it is not posted yet,
   claim posting it, so that a request is posted once per channel across replicas and
   crashes;
2. deliver: post (or, for a claim taken over from a deliverer that did not finish, look for
   that post first), update, or reply (a reminder, a notice);
3. with the outcome (``record``): where the message was posted, or the claim given up.

An update that renders what the message shows already is not sent: it would spend a write
of the platform's rate limit (Telegram's 20 a minute per group) to change nothing. What the
message shows is kept as a digest with its ref (``chat_messages.shown``), so it holds across
restarts and replicas: taken (and forgotten) with the claim, recorded with the outcome. A
delivery that fails or crashes in between leaves it unknown, and the next one edits.

Deliveries for one request are serialised in this process, so an update racing its post
cannot post the message twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain import errors
from bot.domain.effects import CHAT_ALERT, CHAT_EVIDENCE, CHAT_NOTICE, CHAT_REMIND
from bot.domain.evidence import Picture
from bot.domain.model import Group, Person
from bot.domain.outbox import OutboxItem
from bot.domain.reminders import to_remind
from bot.ports.chat import ChatRefused, MessageGone, Ref, Transport, Updated
from bot.ports.effects import PermanentEffectError
from bot.ports.store import ChatClaim, UnitOfWork, UnitOfWorkFactory
from bot.service.chat import texts
from bot.service.chat.alerts import Alerts, AlertSlot
from bot.service.chat.message import from_view
from bot.service.chat.rich import Markup, Reply
from bot.service.locks import KeyedLocks
from bot.service.queries import MessageView, message_view

log = logging.getLogger("bot.chat")
LEASE_SECONDS = 60.0  # the outbox's lease (APPROVAL_BOT_OUTBOX_LEASE_SECONDS) by default


class PostingElsewhere(Exception):
    """Another deliverer holds the claim on this message: retried later by the outbox."""

    def __init__(self, request_id: str, channel: str) -> None:
        super().__init__(
            f"the {channel} message of request {request_id} is being posted by another "
            "deliverer; trying again later"
        )


@dataclass(eq=False)
class Slot:
    """One request's message in one channel, as one claimed batch delivers it."""

    view: MessageView
    claim: ChatClaim | None = None
    ref: Ref | None = None  # where the message is, once known
    posted: Ref | None = None  # posted (or found) under our claim: to record
    recorded: bool = False
    given_up: str | None = None  # "abandon" (it may have posted) or "release" (it did not)
    failed: BaseException | None = None  # the post failed: the slot's other rows wait too
    shown: bool = False  # the message shows this view already
    known: str | None = None  # what the message showed (its digest), taken with the claim
    took_known: bool = False
    shows: str | None = None  # what it shows after this delivery: to record

    @property
    def request_id(self) -> str:
        return self.view.request.id


@dataclass(frozen=True, eq=False)
class Prepared:
    slot: Slot
    people: tuple[Person, ...] = ()  # a reminder's
    groups: tuple[Group, ...] = ()
    escalated_to: str | None = None
    pictures: tuple[Picture, ...] = ()  # the evidence's, read with the claim


class Publisher:
    """The ``chat:<channel>`` stage of the outbox (``bot/service/outbox.py``)."""

    def __init__(
        self,
        channel: str,
        markup: Markup,
        transport: Transport,
        uow: UnitOfWorkFactory,
        *,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.channel = channel
        self.markup = markup
        self.transport = transport
        self.uow = uow
        self.lease_seconds = lease_seconds
        self._locks = KeyedLocks()
        self.alerts = Alerts(channel, markup, transport)  # a divergence's (docs/watch.md)

    # -- 1. with the claim -----------------------------------------------------------

    def prepare(
        self, uow: UnitOfWork, items: Sequence[OutboxItem], now: datetime
    ) -> dict[int, Any]:
        slots: dict[str, Slot] = {}
        out: dict[int, Any] = {}
        directory = None
        alerts: dict[str, Any] = {}
        for item in items:
            if item.kind == CHAT_ALERT:
                out[item.id] = self.alerts.prepare(uow, item, alerts)
                continue
            rid = item.request_id
            if rid is None:
                out[item.id] = None
                continue
            try:
                slot = slots.get(rid) or slots.setdefault(
                    rid, Slot(message_view(uow, rid, self.channel))
                )
            except errors.DomainError as exc:
                out[item.id] = exc
                continue
            slot.ref = slot.ref or slot.view.ref
            if item.kind != CHAT_NOTICE and slot.ref is None and slot.claim is None:
                slot.claim = self._claim(uow, rid, now)
                slot.ref = slot.claim.ref
            if _shows(item) and slot.ref is not None and not slot.took_known:
                slot.known, slot.took_known = uow.chat.take_shown(rid, self.channel), True
            if item.kind == CHAT_EVIDENCE:
                out[item.id] = Prepared(slot, pictures=_pictures(uow, rid))
                continue
            if item.kind != CHAT_REMIND:
                out[item.id] = Prepared(slot)
                continue
            directory = directory or uow.directory.load()
            out[item.id] = self._reminder(item, slot, directory)
        return out

    def _claim(self, uow: UnitOfWork, request_id: str, now: datetime) -> ChatClaim:
        lease = now + timedelta(seconds=self.lease_seconds)
        token = secrets.token_hex(8)
        return uow.chat.claim(request_id, self.channel, token=token, now=now, lease_until=lease)

    @staticmethod
    def _reminder(item: OutboxItem, slot: Slot, directory: Any) -> Prepared:
        request, policy = slot.view.request, slot.view.policy
        escalated_to = None
        if item.payload.get("event") == "escalated":
            escalated_to = item.payload.get("to") or (policy.escalate_to if policy else None)
        people, groups = to_remind(request, policy, directory, escalated_to=escalated_to)
        return Prepared(slot, tuple(people), tuple(groups), escalated_to)

    # -- 2. deliver ------------------------------------------------------------------

    async def deliver(self, item: OutboxItem, prepared: Prepared | None) -> str | None:
        if prepared is None:
            return "no request: nothing to show"
        if isinstance(prepared, AlertSlot):
            try:
                return await self.alerts.deliver(item, prepared)
            except ChatRefused as exc:
                if exc.permanent:
                    raise PermanentEffectError(str(exc)) from exc
                raise
        slot = prepared.slot
        async with self._locks(slot.request_id):
            try:
                if item.kind == CHAT_REMIND:
                    return await self._remind(item, prepared)
                if item.kind == CHAT_NOTICE:
                    return await self._notice(item, slot)
                if item.kind == CHAT_EVIDENCE:
                    return await self._pictures(item, prepared)
                return await self._show(slot)
            except ChatRefused as exc:
                if exc.permanent:
                    raise PermanentEffectError(str(exc)) from exc
                raise

    async def _show(self, slot: Slot) -> str:
        """Post the message, or update it in place when it exists."""
        if slot.shown:
            return "shown by this delivery already"
        rendered = self.markup.message(from_view(slot.view))
        ref, posted, note = await self._ensure(slot, rendered)
        slot.shown = True
        if posted:
            return f"posted {self._where(ref)}"
        digest = self.markup.digest(rendered)
        if slot.known == digest:
            slot.shows = digest
            return f"{self._where(ref)} shows it already: not sent"
        try:
            updated = await self.transport.update(ref, rendered)
        except MessageGone as exc:
            log.warning(
                "the %s message %s of request %s is gone (%s); not updating it",
                self.channel,
                self._where(ref),
                slot.request_id,
                exc,
            )
            return f"message deleted in {self.channel}: left alone"
        slot.shows = digest
        if updated is Updated.UNCHANGED:
            return f"{self._where(ref)} already shows it"
        return f"{note}updated {self._where(ref)} ({slot.view.request.state.value})"

    async def _ensure(self, slot: Slot, rendered: Any) -> tuple[Ref, bool, str]:
        """Where the message is, posting it under our claim first if it is not posted:
        (ref, posted now, note)."""
        if slot.failed is not None:
            raise slot.failed
        if slot.ref is not None:
            return slot.ref, False, ""
        claim = slot.claim
        if claim is None or claim.token is None:
            # Someone else was posting it when the batch was claimed: done by now?
            ref = await asyncio.to_thread(self._ref, slot.request_id)
            if ref is None:
                raise PostingElsewhere(slot.request_id, self.channel)
            slot.ref = ref
            return ref, False, ""
        try:
            found = await self.transport.find_post(slot.request_id) if claim.retaken else None
            ref = found or await self.transport.post(rendered, request_id=slot.request_id)
        except ChatRefused as exc:
            slot.given_up, slot.failed = "release", exc  # refused: nothing was posted
            raise
        except BaseException as exc:  # the outbox's timeout cancels too: on the wire or not
            slot.given_up = "abandon"  # posted or not: look next time
            slot.failed = (
                exc if isinstance(exc, Exception) else RuntimeError("the post was cut short")
            )
            raise
        slot.ref = slot.posted = ref
        if found is None:
            slot.shows = self.markup.digest(rendered)
        if found is not None:
            return ref, False, "found the earlier post; "  # and show the current state on it
        return ref, True, ""

    def _ref(self, request_id: str) -> Ref | None:
        with self.uow(readonly=True) as uow:
            return uow.chat.get(request_id, self.channel)

    async def _remind(self, item: OutboxItem, prepared: Prepared) -> str:
        slot = prepared.slot
        request = slot.view.request
        event = "escalated" if prepared.escalated_to else "reminded"
        if not request.is_pending:
            return f"no reminder: the request is {request.state.value}"
        line = texts.reminder(
            request,
            escalated_to=prepared.escalated_to,
            people=prepared.people,
            groups=prepared.groups,
        )
        ref, _posted, _note = await self._ensure(slot, self.markup.message(from_view(slot.view)))
        posted = await self.transport.reply(
            ref,
            self.markup.reply(Reply((line,))),
            key=item.key,
            look_first=item.attempts > 1,
            loud=bool(prepared.escalated_to),
        )
        return f"{event}: {'reply to' if posted else 'already replied to'} {self._where(ref)}"

    async def _notice(self, item: OutboxItem, slot: Slot) -> str:
        text = self.markup.reply(Reply((texts.notice(str(item.payload.get("text") or "")),)))
        posted = await self.transport.reply(
            slot.ref, text, key=item.key, look_first=item.attempts > 1, loud=False
        )
        where = "as a reply" if slot.ref is not None else "in the channel"
        return f"notice {where}" if posted else f"notice already {where}"

    async def _pictures(self, item: OutboxItem, prepared: Prepared) -> str:
        """The evidence, in reply to the request's message (posted first if it is not)."""
        slot = prepared.slot
        if not prepared.pictures:
            return "no pictures"
        ref, _posted, _note = await self._ensure(slot, self.markup.message(from_view(slot.view)))
        sent = await self.transport.pictures(
            ref, prepared.pictures, request_id=slot.request_id, look_first=item.attempts > 1
        )
        return f"{sent} of {len(prepared.pictures)} picture(s) sent to {self._where(ref)}"

    @staticmethod
    def _where(ref: Ref) -> str:
        return "/".join(str(v) for v in ref.values())

    # -- 3. with the outcome ---------------------------------------------------------

    def record(self, uow: UnitOfWork, item: OutboxItem, prepared: Any, now: datetime) -> bool:
        if isinstance(prepared, AlertSlot):
            return self.alerts.record(uow, prepared)
        if not isinstance(prepared, Prepared):
            return False
        slot = prepared.slot
        token = slot.claim.token if slot.claim is not None else None
        rid = slot.request_id
        if slot.shows is not None and slot.posted is None and not slot.recorded:
            # Not durable: lost, it stays unknown, and the next update edits.
            slot.recorded = True
            uow.chat.mark_shown(rid, self.channel, slot.shows)
        if token is None or slot.recorded:
            return False
        if slot.posted is not None:
            slot.recorded = True
            shows = slot.shows
            if not uow.chat.finish(
                rid, self.channel, token=token, ref=slot.posted, at=now, shown=shows
            ):
                log.warning(
                    "the claim on request %s's %s message ran out while posting %s; the "
                    "deliverer that took it over looks for this post first",
                    rid,
                    self.channel,
                    self._where(slot.posted),
                )
            return True
        if slot.given_up == "release":
            slot.recorded = True
            uow.chat.release(rid, self.channel, token=token)
        elif slot.given_up == "abandon":
            slot.recorded = True
            uow.chat.abandon(rid, self.channel, token=token, at=now)
        return False


def _shows(item: OutboxItem) -> bool:
    """The row shows the request's message (``Publisher._show``): posts or updates it."""
    return item.kind not in (CHAT_REMIND, CHAT_NOTICE, CHAT_EVIDENCE, CHAT_ALERT)


def _pictures(uow: UnitOfWork, request_id: str) -> tuple[Picture, ...]:
    found = (uow.evidence.picture(request_id, i.index) for i in uow.evidence.listed(request_id))
    return tuple(p for p in found if p is not None)
