"""The outbox's Slack side: post, update, remind and notify, rendering the current state.

Every message about a request goes through here, delivered by the outbox with
retries, so a failing Slack API delays a message but never loses a vote.
Deliveries for one request are serialised in this process, so a ``chat.update``
racing its ``chat.post`` cannot post the message twice.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import blocks
from bot.domain.effects import CHAT_NOTICE, CHAT_REMIND
from bot.domain.model import ApprovalRequest
from bot.domain.names import Channel
from bot.ports import OutboxItem, PermanentEffectError
from bot.service import Services
from bot.service.views import launch_problem

log = logging.getLogger("bot.slack")
CHANNEL = Channel.SLACK.value

# Errors that retrying cannot fix: dead-letter at once (and report it).
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
    }
)
GONE = frozenset({"message_not_found", "cant_update_message", "thread_not_found"})


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


class SlackChatHandler:
    """EffectHandler for ``chat.*`` effects in the ``slack`` channel."""

    def __init__(
        self, client: AsyncWebClient, services: Services, *, channel_id: str | None
    ) -> None:
        self.client = client
        self.queries = services.queries
        self.chat = services.chat
        self.channel_id = channel_id
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, request_id: str) -> asyncio.Lock:
        lock = self._locks.get(request_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[request_id] = lock
        return lock

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        if request is None:
            return "no request: nothing to show"
        async with self._lock(request.id):
            try:
                if item.kind == CHAT_REMIND:
                    return await self._remind(item.payload, request.id)
                if item.kind == CHAT_NOTICE:
                    return await self._notice(str(item.payload.get("text") or ""), request.id)
                return await self._show(request.id)
            except SlackApiError as exc:
                error = slack_error(exc)
                if error in PERMANENT:
                    raise PermanentEffectError(f"Slack says {error}") from exc
                raise

    # -- the request message -----------------------------------------------------

    async def _show(self, request_id: str) -> str:
        """Post the message, or update it in place when it exists."""
        request, policy = await asyncio.to_thread(self.queries.get_with_policy, request_id)
        effects = await asyncio.to_thread(self.queries.effects, [request])
        text = blocks.message_text(request)
        body = blocks.request_blocks(request, policy, problem=launch_problem(effects[request.id]))
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is None:
            ref = await self._post(request_id, text, body)
            return f"posted {ref['channel']}/{ref['ts']}"
        try:
            await self.client.chat_update(
                channel=ref["channel"], ts=ref["ts"], text=text, blocks=body
            )
        except SlackApiError as exc:
            if slack_error(exc) in GONE:
                log.warning(
                    "the Slack message %s/%s for request %s is gone (%s); not updating it",
                    ref["channel"],
                    ref["ts"],
                    request_id,
                    slack_error(exc),
                )
                return "message deleted in Slack: left alone"
            raise
        return f"updated {ref['channel']}/{ref['ts']} ({request.state.value})"

    async def _post(self, request_id: str, text: str, body: list[dict[str, Any]]) -> dict[str, Any]:
        if not self.channel_id:
            raise PermanentEffectError("APPROVAL_BOT_SLACK_CHANNEL is not set")
        response = await self.client.chat_postMessage(
            channel=self.channel_id, text=text, blocks=body, unfurl_links=False
        )
        ref = {"channel": str(response["channel"]), "ts": str(response["ts"])}
        await asyncio.to_thread(self.chat.save, request_id, CHANNEL, ref)
        return ref

    async def _ensure_posted(self, request_id: str) -> dict[str, Any]:
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is None:
            await self._show(request_id)
            ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        assert ref is not None
        return ref

    # -- thread replies ----------------------------------------------------------

    async def _remind(self, payload: dict[str, Any], request_id: str) -> str:
        request, policy = await asyncio.to_thread(self.queries.get_with_policy, request_id)
        if not request.is_pending:
            return f"no reminder: the request is {request.state.value}"
        event = str(payload.get("event") or "reminded")
        directory = await asyncio.to_thread(self.queries.directory)
        usergroups = {g.name: g.slack_usergroup for g in directory.groups if g.slack_usergroup}
        escalate_to = payload.get("to") or (policy.escalate_to if policy else None)
        if event == "escalated" and escalate_to:
            people = await asyncio.to_thread(self.queries.group_people, str(escalate_to))
            groups = [str(escalate_to)]
        else:
            people = await asyncio.to_thread(self.queries.people_to_remind, request_id)
            groups = [str(m.get("group")) for m in payload.get("missing") or ()]
        text = blocks.reminder_text(
            request,
            event=event,
            people=people,
            usergroups=[usergroups[g] for g in groups if g in usergroups],
            escalate_to=str(escalate_to) if escalate_to else None,
        )
        ref = await self._ensure_posted(request_id)
        await self.client.chat_postMessage(
            channel=ref["channel"],
            thread_ts=ref["ts"],
            text=text,
            reply_broadcast=event == "escalated",
        )
        return f"{event}: thread reply on {ref['ts']}"

    async def _notice(self, text: str, request_id: str) -> str:
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is not None:
            await self.client.chat_postMessage(
                channel=ref["channel"], thread_ts=ref["ts"], text=text
            )
            return "notice in the thread"
        if not self.channel_id:
            raise PermanentEffectError("APPROVAL_BOT_SLACK_CHANNEL is not set")
        await self.client.chat_postMessage(channel=self.channel_id, text=text)
        return "notice in the channel"
