"""Telegram's transport for the chat core (``bot/ports/chat.py``): post, edit and reply.

Every write is paced to Telegram's flood limits (``pacing.py``). What Telegram refused
(a bad request, no rights) is ``ChatRefused``: nothing was sent; a timeout or a dropped
connection may have sent it. A wait Telegram asks for (``RetryAfter``) or that pacing
needs (``Paced``) is ``TelegramWait``, a ``RetryLater``: the outbox tries again after it
without counting a failure.

A group that became a supergroup has a new id (``ChatMigrated``, "group chat was upgraded
to a supergroup chat", with ``migrate_to_chat_id``): the call is made again to the new id,
and ``on_moved`` moves every stored message there (``channel.py``).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import InputMediaPhoto, LinkPreviewOptions, ReplyParameters
from telegram.constants import MediaGroupLimit, MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter
from telegram.ext import ExtBot

from bot.adapters.telegram.api import TelegramApi
from bot.adapters.telegram.markup import TelegramMessage
from bot.adapters.telegram.pacing import Paced, retry_after_seconds
from bot.domain.evidence import MAX_PICTURES, Picture
from bot.ports.chat import ChatRefused, MessageGone, Ref, Updated
from bot.ports.effects import RetryLater
from bot.service.chat.rich import clip

log = logging.getLogger("bot.telegram")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# BadRequest descriptions (lower case) that say the message can no longer be edited.
GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


# An album takes 2 to 10 photos (telegram.constants.MediaGroupLimit): the bot's most fits.
assert MAX_PICTURES <= MediaGroupLimit.MAX_MEDIA_LENGTH


def chat_ref(chat_id: str) -> int | str:
    """APPROVAL_BOT_TELEGRAM_CHAT_ID as the Bot API takes it: a number, or ``@channel``."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


ChatId = int | str
Moved = Callable[[ChatId, int], Awaitable[None]]


class TelegramWait(ChatRefused, RetryLater):
    """Telegram asked to wait (429 ``retry_after``), or the chat's next paced slot is too
    far: nothing was sent, and it is no failure."""

    def __init__(self, seconds: float, reason: str) -> None:
        RetryLater.__init__(self, seconds, reason)
        self.permanent = False


class ChatMoved(ChatRefused):
    """The group became a supergroup: ``new_chat_id`` is where it is now."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"the Telegram group became supergroup {new_chat_id}", permanent=False)
        self.new_chat_id = new_chat_id


async def calling(call: Awaitable[Any]) -> Any:
    """A Bot API write, with Telegram's refusals as ``ChatRefused``."""
    try:
        return await call
    except ChatMigrated as exc:
        raise ChatMoved(int(exc.new_chat_id)) from exc
    except (BadRequest, Forbidden, InvalidToken) as exc:
        # What retrying cannot fix: a bad chat, no rights, a message we built wrong.
        raise ChatRefused(f"Telegram says: {exc.message}", permanent=True) from exc
    except RetryAfter as exc:
        raise TelegramWait(retry_after_seconds(exc), str(exc)) from exc
    except Paced as exc:
        raise TelegramWait(exc.seconds, str(exc)) from exc


async def _nothing(old: ChatId, new: int) -> None:
    return None


class TelegramTransport:
    def __init__(self, api: TelegramApi, *, chat_id: str, on_moved: Moved = _nothing) -> None:
        self.api = api
        self.chat_id: ChatId = chat_ref(chat_id)
        self.on_moved = on_moved

    async def moved(self, old: ChatId, new: int) -> None:
        """Chat ``old`` is ``new`` now: post there from now on, and move what is stored."""
        if self.chat_id == old:
            self.chat_id = new
        await self.on_moved(old, new)

    async def _to(self, chat_id: ChatId, send: Callable[[ChatId], Awaitable[Any]]) -> Any:
        """``send(chat_id)``; once more to the new id when the group became a supergroup."""
        try:
            return await calling(send(chat_id))
        except ChatMoved as exc:
            log.warning(
                "Telegram chat %s became supergroup %s: writing there, and moving its messages",
                chat_id,
                exc.new_chat_id,
            )
            await self.moved(chat_id, exc.new_chat_id)
            return await calling(send(exc.new_chat_id))

    async def _bot(self) -> ExtBot[float]:
        try:
            return (await self.api.ready()).bot
        except InvalidToken as exc:
            raise ChatRefused("Telegram rejected TELEGRAM_BOT_TOKEN", permanent=True) from exc

    async def post(self, rendered: TelegramMessage, *, request_id: str) -> Ref:
        bot = await self._bot()
        message = await self._to(
            self.chat_id,
            lambda chat_id: bot.send_message(
                chat_id,
                rendered.html,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.keyboard,
                link_preview_options=NO_PREVIEW,
            ),
        )
        return {"chat_id": message.chat_id, "message_id": message.message_id}

    async def update(self, ref: Ref, rendered: TelegramMessage) -> Updated:
        bot = await self._bot()

        def edit(chat_id: ChatId) -> Awaitable[Any]:
            return bot.edit_message_text(
                rendered.html,
                chat_id=chat_id,
                message_id=ref["message_id"],
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.keyboard,
                link_preview_options=NO_PREVIEW,
            )

        try:
            await self._to(ref["chat_id"], edit)
        except ChatRefused as exc:
            reason = exc.__cause__.message.lower() if isinstance(exc.__cause__, BadRequest) else ""
            if "message is not modified" in reason:  # a repeated or late update: harmless
                return Updated.UNCHANGED
            if any(g in reason for g in GONE):
                raise MessageGone(reason) from exc
            raise
        return Updated.UPDATED

    async def reply(
        self, ref: Ref | None, rendered: TelegramMessage, *, key: str, look_first: bool, loud: bool
    ) -> bool:
        """The Bot API has no way to look for an earlier reply: a redelivery replies again."""
        bot = await self._bot()
        await self._to(
            ref["chat_id"] if ref is not None else self.chat_id,
            lambda chat_id: bot.send_message(
                chat_id,
                rendered.html,
                parse_mode=ParseMode.HTML,
                reply_parameters=(
                    ReplyParameters(ref["message_id"], allow_sending_without_reply=True)
                    if ref is not None
                    else None
                ),
                link_preview_options=NO_PREVIEW,
            ),
        )
        return True

    async def pictures(
        self, ref: Ref, pictures: Sequence[Picture], *, request_id: str, look_first: bool
    ) -> int:
        """One photo (``sendPhoto``), or an album (``sendMediaGroup``), replying to the
        request's message, each captioned with its alt text (escaped HTML). The Bot API has no
        way to look for an earlier album: a redelivery after a lost answer sends it again."""
        bot = await self._bot()
        reply = ReplyParameters(ref["message_id"], allow_sending_without_reply=True)
        captions = [
            html.escape(clip(p.info.alt, MessageLimit.CAPTION_LENGTH), quote=False)
            for p in pictures
        ]
        if len(pictures) == 1:
            await calling(
                bot.send_photo(
                    ref["chat_id"],
                    pictures[0].data,
                    caption=captions[0],
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply,
                )
            )
            return 1
        media = [
            InputMediaPhoto(p.data, caption=c, parse_mode=ParseMode.HTML, filename=f"{i}.img")
            for i, (p, c) in enumerate(zip(pictures, captions, strict=True))
        ]
        await calling(bot.send_media_group(ref["chat_id"], media, reply_parameters=reply))
        return len(pictures)

    async def find_post(self, request_id: str) -> Ref | None:
        # The Bot API cannot look for the post of a deliverer that did not finish (it
        # crashed, or its answer was lost): it is posted again.
        log.warning(
            "request %s: taking over a Telegram post that may have been sent; if it was, the "
            "request shows twice in the chat",
            request_id,
        )
        return None
