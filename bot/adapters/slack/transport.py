"""Slack's transport for the chat core (``bot/ports/chat.py``): post, update and reply.

Messages are posted with message metadata naming their request, and thread replies with
their outbox key, so a deliverer that takes over an unfinished post finds it in the channel's
history (``conversations.history``) and a redelivered reply finds itself in the thread
(``conversations.replies``) instead of posting twice. Posts go through a client that does not
retry by itself (only 429s, which Slack did not act on): a retry is the outbox's, and looks
first. The outbox's clients wait out a 429 only when Slack asks for a short wait; a longer
one comes back as ``SlackRateLimited`` (``RetryLater``), and the outbox schedules the next
attempt after it, without holding a delivery meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.markup import SlackMessage
from bot.domain.evidence import Picture
from bot.ports.chat import ChatRefused, MessageGone, Ref, Updated
from bot.ports.effects import RetryLater
from bot.service.chat.rich import clip

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
# files.getUploadURLExternal's alt_txt: "Description of image for screen-reader", up to
# 1000 characters (docs.slack.dev/reference/methods/files.getUploadURLExternal).
ALT_MAX = 1000
TITLE_MAX = 250  # a file's title, shown above the picture


def file_name(request_id: str, picture: Picture) -> str:
    extension = "png" if picture.info.media_type == "image/png" else "jpg"
    return f"{request_id}-evidence-{picture.info.index}.{extension}"


class SlackRateLimited(ChatRefused, RetryLater):
    """Slack answered 429: it did nothing, and asks to wait ``seconds`` (``Retry-After``).
    Refused for now (a post's claim is released), and not a failure: the outbox tries again
    after the wait."""

    def __init__(self, seconds: float, reason: str) -> None:
        RetryLater.__init__(self, seconds, reason)
        self.permanent = False


def retry_after(headers: Mapping[str, Any] | None) -> float:
    """Slack's ``Retry-After`` (seconds; a header's value may come as a list); 1 without."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            found = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(1.0, float(found))
            except (TypeError, ValueError):
                break
    return 1.0


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


def refused(exc: SlackApiError) -> ChatRefused | None:
    """Slack answered with an error (or a 429), so it did nothing; None for a 5xx, after which
    it may have."""
    if exc.response.status_code not in (200, 429):
        return None
    error = slack_error(exc)
    if exc.response.status_code == 429:
        wait = retry_after(exc.response.headers)
        return SlackRateLimited(wait, f"Slack says {error}: retry after {wait:g} s")
    return ChatRefused(f"Slack says {error}", permanent=error in PERMANENT)


async def calling(call: Awaitable[Any]) -> Any:
    """A Web API call, with Slack's refusals as ``ChatRefused``."""
    try:
        return await call
    except SlackApiError as exc:
        raise refused(exc) or exc from exc


class SlackTransport:
    def __init__(
        self, client: AsyncWebClient, post_client: AsyncWebClient, *, channel_id: str
    ) -> None:
        self.client = client
        # Posting is not idempotent: its client retries 429s only (see the module doc).
        self.post_client = post_client
        self.channel_id = channel_id

    async def post(self, rendered: SlackMessage, *, request_id: str) -> Ref:
        response = await calling(
            self.post_client.chat_postMessage(
                channel=self.channel_id,
                text=rendered.text,
                blocks=rendered.blocks,
                unfurl_links=False,
                metadata={"event_type": REQUEST_EVENT, "event_payload": {"request_id": request_id}},
            )
        )
        return {"channel": str(response["channel"]), "ts": str(response["ts"])}

    async def update(self, ref: Ref, rendered: SlackMessage) -> Updated:
        try:
            await self.client.chat_update(
                channel=ref["channel"], ts=ref["ts"], text=rendered.text, blocks=rendered.blocks
            )
        except SlackApiError as exc:
            if slack_error(exc) in GONE:
                raise MessageGone(slack_error(exc)) from exc
            raise refused(exc) or exc from exc
        return Updated.UPDATED

    async def reply(
        self, ref: Ref | None, rendered: SlackMessage, *, key: str, look_first: bool, loud: bool
    ) -> bool:
        channel = ref["channel"] if ref is not None else self.channel_id
        thread = ref["ts"] if ref is not None else None
        wanted = {"event_type": REPLY_EVENT, "key": key}
        if look_first:  # delivered before? (a crash or a lost answer)
            if thread is not None:
                found = await self._find(
                    wanted, self.client.conversations_replies, channel=channel, ts=thread
                )
            else:
                found = await self._find(wanted, self.client.conversations_history, channel=channel)
            if found is not None:
                return False
        await calling(
            self.post_client.chat_postMessage(
                channel=channel,
                text=rendered.text,
                thread_ts=thread,
                reply_broadcast=loud or None,
                metadata={"event_type": REPLY_EVENT, "event_payload": {"key": key}},
            )
        )
        return True

    async def pictures(
        self, ref: Ref, pictures: Sequence[Picture], *, request_id: str, look_first: bool
    ) -> int:
        """Uploaded into the message's thread with Slack's upload flow (files.upload is
        retired): ``files.getUploadURLExternal`` per file, the bytes to its URL, then one
        ``files.completeUploadExternal`` sharing them in the thread (slack_sdk's
        ``files_upload_v2``). Each file is named after the request and its place, so a
        redelivery sees in the thread which are there already (needs ``files:write``)."""
        names = {p.info.index: file_name(request_id, p) for p in pictures}
        if look_first:
            there = await self._thread_files(ref)
            pictures = [p for p in pictures if names[p.info.index] not in there]
        if not pictures:
            return 0
        uploads = [
            {
                "content": p.data,
                "filename": names[p.info.index],
                "title": clip(p.info.alt, TITLE_MAX),
                "alt_txt": clip(p.info.alt, ALT_MAX),
            }
            for p in pictures
        ]
        await calling(
            self.post_client.files_upload_v2(
                file_uploads=uploads, channel=ref["channel"], thread_ts=ref["ts"]
            )
        )
        return len(pictures)

    async def _thread_files(self, ref: Ref) -> set[str]:
        response = await calling(
            self.client.conversations_replies(channel=ref["channel"], ts=ref["ts"], limit=200)
        )
        return {
            str(f.get("name")) for m in response.get("messages") or [] for f in m.get("files") or []
        }

    async def find_post(self, request_id: str) -> Ref | None:
        wanted = {"event_type": REQUEST_EVENT, "request_id": request_id}
        history = self.client.conversations_history
        ts = await self._find(wanted, history, channel=self.channel_id)
        return {"channel": self.channel_id, "ts": ts} if ts else None

    async def _find(
        self, wanted: dict[str, str], method: Callable[..., Awaitable[Any]], **args: Any
    ) -> str | None:
        """The ts of the first message whose metadata has ``wanted``, paging through
        ``conversations.history`` or ``conversations.replies``."""
        cursor = None
        for _ in range(LOOKBACK_PAGES):
            response = await calling(
                method(
                    **args,
                    include_all_metadata=True,
                    limit=200,
                    **({"cursor": cursor} if cursor else {}),
                )
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
