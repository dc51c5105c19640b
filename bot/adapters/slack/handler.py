"""The outbox's Slack side: post, update, remind and notify, rendering the current state.

Every message about a request goes through here, delivered by the outbox with
retries, so a failing Slack API delays a message but never loses a vote.

One message per request, across replicas and crashes: the message is claimed before it is
posted (``ChatMessages.claim``; another replica posting it now makes this delivery wait
for a retry), and posted with message metadata naming the request. A claim taken over
from a deliverer that did not finish (a crash, a lost answer) first looks for that post
in the channel's history (``conversations.history``) and keeps it. Thread replies carry
their outbox key in their metadata, and a redelivered one looks in the thread first, so a
reminder is never replied twice. Posts go through a client that does not retry by itself
(only 429s, which Slack did not act on): a retry is the outbox's, and looks first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.locks import KeyedLocks
from bot.adapters.slack import blocks
from bot.domain.effects import CHAT_NOTICE, CHAT_REMIND
from bot.domain.model import ApprovalRequest
from bot.domain.names import Channel
from bot.ports import ChatClaim, OutboxItem, PermanentEffectError
from bot.service import Services
from bot.service.chat import LEASE_SECONDS
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
# Message metadata event types: a request's message, and a thread reply about it.
REQUEST_EVENT = "approval_request"
REPLY_EVENT = "approval_reply"
LOOKBACK_PAGES = 10  # how far back a lookup pages through the channel (200 messages a page)


def wanted_payload(wanted: dict[str, str]) -> dict[str, str]:
    """A metadata lookup's fields without the event type: the ``event_payload`` to post."""
    return {k: v for k, v in wanted.items() if k != "event_type"}


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


class SlackChatHandler:
    """EffectHandler for ``chat.*`` effects in the ``slack`` channel."""

    needs_request = False  # _show reads the message's whole view itself, in one read

    def __init__(
        self,
        client: AsyncWebClient,
        services: Services,
        *,
        channel_id: str | None,
        post_client: AsyncWebClient | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.client = client
        # Posting is not idempotent: its client retries 429s only (see the module doc).
        self.post_client = post_client or client
        self.queries = services.queries
        self.chat = services.chat
        self.channel_id = channel_id
        self.lease_seconds = lease_seconds
        self._lock = KeyedLocks()

    async def deliver(self, item: OutboxItem, request: ApprovalRequest | None) -> str | None:
        request_id = item.request_id
        if request_id is None:
            return "no request: nothing to show"
        async with self._lock(request_id):
            try:
                if item.kind == CHAT_REMIND:
                    return await self._remind(item, request_id)
                if item.kind == CHAT_NOTICE:
                    return await self._notice(item, request_id)
                return await self._show(request_id)
            except SlackApiError as exc:
                error = slack_error(exc)
                if error in PERMANENT:
                    raise PermanentEffectError(f"Slack says {error}") from exc
                raise

    # -- the request message -----------------------------------------------------

    async def _show(self, request_id: str) -> str:
        """Post the message, or update it in place when it exists."""
        view = await asyncio.to_thread(self.queries.message, request_id, CHANNEL)
        request = view.request
        text = blocks.message_text(request)
        body = blocks.request_blocks(request, view.policy, problem=launch_problem(view.effects))
        ref, note = view.ref, ""
        if ref is None:  # not posted yet (as far as this read saw): claim it, then post
            claim = await asyncio.to_thread(
                self.chat.claim, request_id, CHANNEL, lease_seconds=self.lease_seconds
            )
            ref = claim.ref
            if ref is None:
                ref, found = await self._post_claimed(request_id, claim, text, body)
                if not found:
                    return f"posted {ref['channel']}/{ref['ts']}"
                note = "found the earlier post; "  # and show the current state on it
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
        return f"{note}updated {ref['channel']}/{ref['ts']} ({request.state.value})"

    async def _post_claimed(
        self, request_id: str, claim: ChatClaim, text: str, body: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """Post under the claim (or keep the post an earlier deliverer left); (ref, found)."""
        assert claim.token is not None
        try:
            found = await self._find_post(request_id) if claim.retaken else None
            ref = found or await self._post(text, body, request_id)
        except SlackApiError as exc:
            if exc.response.status_code in (200, 429):  # Slack refused it: nothing posted
                await asyncio.to_thread(self.chat.release, request_id, CHANNEL, claim.token)
            else:  # a 5xx: it may have posted
                await asyncio.to_thread(self.chat.abandon, request_id, CHANNEL, claim.token)
            raise
        except Exception:
            # Posted or not, we cannot tell: the next attempt takes over and looks first.
            await asyncio.to_thread(self.chat.abandon, request_id, CHANNEL, claim.token)
            raise
        if not await asyncio.to_thread(self.chat.posted, request_id, CHANNEL, claim.token, ref):
            log.warning(
                "the claim on request %s's Slack message ran out while posting %s/%s; "
                "the deliverer that took it over finds this post by its metadata",
                request_id,
                ref["channel"],
                ref["ts"],
            )
        return ref, found is not None

    async def _post(self, text: str, body: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
        if not self.channel_id:
            raise PermanentEffectError("APPROVAL_BOT_SLACK_CHANNEL is not set")
        response = await self.post_client.chat_postMessage(
            channel=self.channel_id,
            text=text,
            blocks=body,
            unfurl_links=False,
            metadata={"event_type": REQUEST_EVENT, "event_payload": {"request_id": request_id}},
        )
        return {"channel": str(response["channel"]), "ts": str(response["ts"])}

    async def _find_post(self, request_id: str) -> dict[str, Any] | None:
        """The request's message in the channel, posted by a deliverer that did not finish."""
        if not self.channel_id:
            return None
        wanted = {"event_type": REQUEST_EVENT, "request_id": request_id}
        ts = await self._find(wanted, self.client.conversations_history, channel=self.channel_id)
        return {"channel": self.channel_id, "ts": ts} if ts else None

    async def _find(self, wanted: dict[str, str], method: Any, **args: Any) -> str | None:
        """The ts of the first message whose metadata has ``wanted``, paging through
        ``conversations.history`` or ``conversations.replies``."""
        cursor = None
        for _ in range(LOOKBACK_PAGES):
            response = await method(
                **args,
                include_all_metadata=True,
                limit=200,
                **({"cursor": cursor} if cursor else {}),
            )
            for message in response.get("messages") or ():
                meta = message.get("metadata") or {}
                payload = {
                    "event_type": meta.get("event_type"),
                    **(meta.get("event_payload") or {}),
                }
                if all(payload.get(k) == v for k, v in wanted.items()):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _ensure_posted(self, request_id: str) -> dict[str, Any]:
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is None:
            await self._show(request_id)
            ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        assert ref is not None
        return ref

    async def _reply_once(
        self,
        item: OutboxItem,
        channel: str,
        text: str,
        *,
        thread_ts: str | None,
        reply_broadcast: bool | None = None,
    ) -> bool:
        """Post a reply (or a channel notice) for outbox row ``item`` unless a redelivery
        of it finds it already there; True when it posted."""
        rid = str(item.request_id)
        wanted = {"event_type": REPLY_EVENT, "request_id": rid, "key": item.key}
        if item.attempts > 1:  # delivered before? (a crash or a lost answer)
            if thread_ts is not None:
                ts = await self._find(
                    wanted, self.client.conversations_replies, channel=channel, ts=thread_ts
                )
            else:
                ts = await self._find(wanted, self.client.conversations_history, channel=channel)
            if ts is not None:
                return False
        await self.post_client.chat_postMessage(
            channel=channel,
            text=text,
            thread_ts=thread_ts,
            reply_broadcast=reply_broadcast,
            metadata={"event_type": REPLY_EVENT, "event_payload": wanted_payload(wanted)},
        )
        return True

    # -- thread replies ----------------------------------------------------------

    async def _remind(self, item: OutboxItem, request_id: str) -> str:
        payload = item.payload
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
        posted = await self._reply_once(
            item, ref["channel"], text, thread_ts=ref["ts"], reply_broadcast=event == "escalated"
        )
        if not posted:
            return f"{event}: already replied on {ref['ts']}"
        return f"{event}: thread reply on {ref['ts']}"

    async def _notice(self, item: OutboxItem, request_id: str) -> str:
        text = str(item.payload.get("text") or "")
        ref = await asyncio.to_thread(self.chat.ref, request_id, CHANNEL)
        if ref is not None:
            posted = await self._reply_once(item, ref["channel"], text, thread_ts=ref["ts"])
            return "notice in the thread" if posted else "notice already in the thread"
        if not self.channel_id:
            raise PermanentEffectError("APPROVAL_BOT_SLACK_CHANNEL is not set")
        posted = await self._reply_once(item, self.channel_id, text, thread_ts=None)
        return "notice in the channel" if posted else "notice already in the channel"
