"""The outbox's Telegram side: post, edit, remind and notify, rendering the current state.

Every message about a request goes through here, delivered by the outbox with retries,
so a failing Bot API delays a message but never loses a vote. Deliveries for one request
are serialised in this process, so a ``chat.update`` racing its ``chat.post`` cannot post
the message twice; every write is paced to Telegram's flood limits (``pacing.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

from bot.adapters.locks import KeyedLocks
from bot.adapters.telegram import render
from bot.adapters.telegram.api import TelegramApi
from bot.domain.effects import CHAT_NOTICE, CHAT_REMIND
from bot.domain.model import ApprovalRequest
from bot.domain.names import Channel
from bot.ports import ChatClaim, OutboxItem, PermanentEffectError
from bot.service import Services
from bot.service.chat import LEASE_SECONDS
from bot.service.views import launch_problem

log = logging.getLogger("bot.telegram")
CHANNEL = Channel.TELEGRAM.value
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# BadRequest descriptions (lower case) that say the message can no longer be edited.
GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


def not_modified(exc: BadRequest) -> bool:
    """An edit to what the message already shows: harmless (a repeated or late update)."""
    return "message is not modified" in exc.message.lower()


def chat_ref(chat_id: str) -> int | str:
    """APPROVAL_BOT_TELEGRAM_CHAT_ID as the Bot API takes it: a number, or ``@channel``."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class TelegramChatHandler:
    """EffectHandler for ``chat.*`` effects in the ``telegram`` channel."""

    needs_request = False  # _show reads the message's whole view itself, in one read

    def __init__(
        self,
        api: TelegramApi,
        services: Services,
        *,
        chat_id: str,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.api = api
        self.lease_seconds = lease_seconds
        self.queries = services.queries
        self.chat = services.chat
        self.chat_id = chat_ref(chat_id)
        self._lock = KeyedLocks()

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        request_id = item.request_id
        if request_id is None:
            return "no request: nothing to show"
        try:
            await self.api.ready()
        except InvalidToken as exc:
            raise PermanentEffectError("Telegram rejected TELEGRAM_BOT_TOKEN") from exc
        async with self._lock(request_id):
            try:
                if item.kind == CHAT_REMIND:
                    return await self._remind(item.payload, request_id)
                if item.kind == CHAT_NOTICE:
                    return await self._notice(str(item.payload.get("text") or ""), request_id)
                return await self._show(request_id)
            except ChatMigrated as exc:
                raise PermanentEffectError(
                    "the Telegram group became a supergroup: set "
                    f"APPROVAL_BOT_TELEGRAM_CHAT_ID={exc.new_chat_id}"
                ) from exc
            except (BadRequest, Forbidden, InvalidToken) as exc:
                # What retrying cannot fix: a bad chat, no rights, a message we built wrong.
                raise PermanentEffectError(f"Telegram says: {exc.message}") from exc

    # -- the request message -----------------------------------------------------

    async def _show(self, request_id: str) -> str:
        """Post the message, or edit it in place when it exists."""
        view = await asyncio.to_thread(self.queries.message, request_id, CHANNEL)
        request, policy = view.request, view.policy
        text = render.message_text(request, policy, problem=launch_problem(view.effects))
        markup = render.keyboard(request, policy)
        ref = view.ref
        if ref is None:  # not posted yet (as far as this read saw): claim it, then post
            claim = await asyncio.to_thread(
                self.chat.claim, request_id, CHANNEL, lease_seconds=self.lease_seconds
            )
            ref = claim.ref
            if ref is None:
                ref = await self._post(request_id, claim, text, markup)
                return f"posted {ref['chat_id']}/{ref['message_id']}"
        try:
            await self.api.bot.edit_message_text(
                text,
                chat_id=ref["chat_id"],
                message_id=ref["message_id"],
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if not_modified(exc):
                return f"{ref['chat_id']}/{ref['message_id']} already shows it"
            if any(g in exc.message.lower() for g in GONE):
                log.warning(
                    "the Telegram message %s/%s for request %s is gone (%s); not editing it",
                    ref["chat_id"],
                    ref["message_id"],
                    request_id,
                    exc.message,
                )
                return "message deleted in Telegram: left alone"
            raise
        return f"edited {ref['chat_id']}/{ref['message_id']} ({request.state.value})"

    async def _post(
        self,
        request_id: str,
        claim: ChatClaim,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> dict[str, Any]:
        """Post the request message under the claim and save where it is: the one step that
        must not run twice for a request (the claim keeps other replicas from it)."""
        assert claim.token is not None
        if claim.retaken:
            # The Bot API cannot look for the post of a deliverer that did not finish
            # (it crashed, or its answer was lost): it is posted again.
            log.warning(
                "request %s: taking over a Telegram post that may have been sent; if it was, "
                "the request shows twice in the chat",
                request_id,
            )
        try:
            message = await self.api.bot.send_message(
                self.chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except (BadRequest, Forbidden, InvalidToken, ChatMigrated, RetryAfter):
            # Telegram refused it: nothing was sent.
            await asyncio.to_thread(self.chat.release, request_id, CHANNEL, claim.token)
            raise
        except Exception:  # a timeout, a dropped connection: it may have been sent
            await asyncio.to_thread(self.chat.abandon, request_id, CHANNEL, claim.token)
            raise
        ref = {"chat_id": message.chat_id, "message_id": message.message_id}
        await asyncio.to_thread(self.chat.posted, request_id, CHANNEL, claim.token, ref)
        return ref

    async def _ensure_posted(self, request_id: str) -> dict[str, Any]:
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is None:
            await self._show(request_id)
            ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        assert ref is not None
        return ref

    async def _reply(self, ref: dict[str, Any], text: str) -> Message:
        return await self.api.bot.send_message(
            ref["chat_id"],
            text,
            parse_mode=ParseMode.HTML,
            reply_parameters=ReplyParameters(ref["message_id"], allow_sending_without_reply=True),
            link_preview_options=NO_PREVIEW,
        )

    # -- replies to the message ------------------------------------------------------

    async def _remind(self, payload: dict[str, Any], request_id: str) -> str:
        request, policy = await asyncio.to_thread(self.queries.get_with_policy, request_id)
        if not request.is_pending:
            return f"no reminder: the request is {request.state.value}"
        event = str(payload.get("event") or "reminded")
        escalate_to = payload.get("to") or (policy.escalate_to if policy else None)
        if event == "escalated" and escalate_to:
            people = await asyncio.to_thread(self.queries.group_people, str(escalate_to))
        else:
            people = await asyncio.to_thread(self.queries.people_to_remind, request_id)
        text = render.reminder_text(
            request,
            event=event,
            people=people,
            escalate_to=str(escalate_to) if escalate_to else None,
        )
        ref = await self._ensure_posted(request_id)
        await self._reply(ref, text)
        return f"{event}: reply to {ref['message_id']}"

    async def _notice(self, text: str, request_id: str) -> str:
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        body = render.notice_text(text)
        if ref is not None:
            await self._reply(ref, body)
            return "notice as a reply"
        await self.api.bot.send_message(self.chat_id, body, parse_mode=ParseMode.HTML)
        return "notice in the chat"
