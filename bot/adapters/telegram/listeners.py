"""PTB handlers: translate a tap, a command or a reply, and hand it to the chat core.

No rules and no wording of outcomes here: the chat core (``bot/service/chat/interactions.py``)
decides and words every answer; a ``Tap`` or a ``Said`` conversation says it the Telegram
way. The request message itself is edited by the outbox, never from a handler.

A callback query can be answered only once, and only that answer can show an alert, so a
tap waits for its vote before answering, for at most ``ANSWER_BUDGET`` seconds: a vote is
one short transaction, so the answer normally carries the outcome (the refusal as an
alert). Past the budget the tap is answered "counting your vote" and a refusal comes as a
message in the chat instead, so Telegram's client never spins.

Each handler is a module-level function taking ``(update, deps)``; ``register`` binds them
to the application.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, ForceReply, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatID, ChatType, ParseMode
from telegram.ext import CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.adapters.telegram import ids, markup
from bot.adapters.telegram.api import App, TelegramApi
from bot.adapters.telegram.markup import TelegramMessage
from bot.adapters.telegram.pacing import Paced
from bot.domain.model import ApprovalRequest
from bot.domain.rollout import RolloutAction
from bot.service.chat.interactions import Interactions
from bot.service.chat.parse import VOTES, ChatCommand, parse
from bot.service.chat.state import ChannelState

log = logging.getLogger("bot.telegram")
ANSWER_BUDGET = 2.0  # seconds a tap waits for its vote before answering
MESSAGE_BUDGET = 60.0  # a command or a reason is answered by a message, whenever ready
REPLY_WAIT = 20.0  # seconds an answer in the chat may wait for its flood-control slot
_COMMAND = re.compile(r"/(\S+)(.*)\Z", re.DOTALL)
# Who Telegram names as the sender of what no person sent: every anonymous admin, whoever
# writes as a channel, channel posts (Bot API, Message.from and sender_chat).
STAND_INS = frozenset(int(c) for c in ChatID)


def not_a_person(message: Message) -> bool:
    """Sent anonymously or as a chat: nobody's identity, whatever ``from`` says."""
    sender = message.from_user
    return message.sender_chat is not None or sender is None or sender.id in STAND_INS


async def _unmoved(old: int | str, new: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Deps:
    chat: Interactions
    api: TelegramApi
    state: ChannelState  # the reject prompts waiting for their reply
    moved: Callable[[int | str, int], Awaitable[None]] = _unmoved  # a group's new id


async def say(deps: Deps, chat_id: int, html: str, *, reply_to: int | None = None) -> Message:
    """A message in the chat (Telegram HTML), paced like every other write."""
    return await deps.api.bot.send_message(
        chat_id,
        html,
        parse_mode=ParseMode.HTML,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        ),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        rate_limit_args=REPLY_WAIT,
    )


@dataclass
class Tap:
    """A tap on a button: answered once (``answerCallbackQuery``), later words in the chat."""

    query: CallbackQuery
    deps: Deps
    budget: float = ANSWER_BUDGET

    @property
    def user_id(self) -> str:
        return str(self.query.from_user.id)

    async def answer(
        self, rendered: TelegramMessage | None, *, alert: bool = False, keep: bool = False
    ) -> None:
        if rendered is None:
            await self.query.answer()
        else:
            await self.query.answer(markup.alert(rendered.plain), show_alert=alert)

    async def tell(self, rendered: TelegramMessage) -> None:
        message, user = self.query.message, self.query.from_user
        if message is not None:
            mention = markup.user_link(user.id, user.first_name)
            html = f"{mention}: {rendered.html}"
            await say(self.deps, message.chat.id, html, reply_to=message.message_id)

    async def prompt_reason(self, request: ApprovalRequest) -> None:
        """A ForceReply prompt bound to this request and this person (their reply to it is
        the reason), replying to the request's message. In a channel nobody can reply: the
        tap is answered with the command to send the bot instead."""
        user, message = self.query.from_user, self.query.message
        if message is not None and message.chat.type == ChatType.CHANNEL:
            text = markup.reject_in_private(request.id, self.deps.api.bot.username)
            await self.query.answer(text, show_alert=True)
            return
        await self.query.answer("✍️ Reply to my message with your reason.")
        prompt = await self.deps.api.bot.send_message(
            message.chat.id if message is not None else user.id,
            markup.reject_prompt(request, user.id, user.first_name),
            parse_mode=ParseMode.HTML,
            reply_parameters=(
                ReplyParameters(message.message_id, allow_sending_without_reply=True)
                if message is not None
                else None
            ),
            reply_markup=ForceReply(selective=True, input_field_placeholder="Reason for rejecting"),
            rate_limit_args=REPLY_WAIT,
        )
        binding = {"request_id": request.id, "user_id": user.id}
        key = ids.prompt_key(prompt.chat.id, prompt.message_id)
        await asyncio.to_thread(self.deps.state.put, key, binding)


@dataclass
class Said:
    """A message (a command, a reply to a prompt): answered with a reply to it."""

    message: Message
    deps: Deps
    budget: float = MESSAGE_BUDGET
    # A vote in a group: its confirmation is what the request message's edit shows, so it
    # costs none of the group's 20 messages a minute (a refusal is still said).
    shown_by_edit: bool = False

    @property
    def user_id(self) -> str:
        assert self.message.from_user is not None
        return str(self.message.from_user.id)

    async def answer(
        self, rendered: TelegramMessage | None, *, alert: bool = False, keep: bool = False
    ) -> None:
        if rendered is None or (self.shown_by_edit and not alert):
            return
        await self.tell(rendered)

    async def tell(self, rendered: TelegramMessage) -> None:
        await say(self.deps, self.message.chat.id, rendered.html, reply_to=self.message.message_id)

    async def prompt_reason(self, request: ApprovalRequest) -> None:  # a command names its reason
        raise NotImplementedError


# -- handlers -------------------------------------------------------------------------------


async def on_tap(update: Update, deps: Deps) -> None:
    query = update.callback_query
    if query is None:
        return
    tap = ids.parse_callback(query.data)
    if tap is None:
        await query.answer("This button is not known any more; try /pending.", show_alert=True)
        return
    if query.from_user.id in STAND_INS:
        log.info("telegram tap by %s, a stand-in and not a person: refused", query.from_user.id)
        await query.answer(markup.alert(markup.NOT_A_PERSON), show_alert=True)
        return
    conv = Tap(query, deps)
    if tap.button is ids.Button.APPROVE:
        await deps.chat.approve(conv, tap.request_id)
    elif tap.button is ids.Button.REJECT:
        await deps.chat.ask_reason(conv, tap.request_id)
    elif tap.button in ids.WATCH_BUTTONS:
        await deps.chat.watch(conv, tap.request_id, tap.button.name.lower())
    else:
        await deps.chat.rollout(conv, tap.request_id, RolloutAction[tap.button.name])


def command_of(text: str, bot_username: str | None) -> ChatCommand | None:
    """The command in a message's text; None when it is not a command for this bot."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    name, _, addressee = match.group(1).partition("@")
    if addressee and (bot_username is None or addressee.lower() != bot_username.lower()):
        return None  # /cmd@OtherBot
    return parse(name, match.group(2).strip(), prefix="/")


async def on_command(update: Update, deps: Deps) -> None:
    message = update.message
    if message is None or message.from_user is None or message.text is None:
        return
    command = command_of(message.text, deps.api.bot.username)
    if command is None:
        return
    if not_a_person(message):
        await refuse_stand_in(message, deps)
        return
    vote = command.name in VOTES and message.chat.type != ChatType.PRIVATE
    await deps.chat.command(
        Said(message, deps, shown_by_edit=vote), command, where=str(message.chat.id)
    )


async def refuse_stand_in(message: Message, deps: Deps) -> None:
    """A command or a reason sent anonymously or as a channel: refused, in a word (the id
    Telegram gives is not theirs, so nobody is told to enrol it)."""
    chat, user = message.sender_chat, message.from_user
    sender = chat.id if chat is not None else user.id if user is not None else None
    log.info("telegram message from %s, not a person: refused", sender)
    if not message.is_automatic_forward:  # a channel's post is nobody's to answer
        await Said(message, deps).tell(TelegramMessage(markup.NOT_A_PERSON))


async def on_message(update: Update, deps: Deps) -> None:
    """A reply to a reject prompt is the reason; in a private chat anything else gets help."""
    message = update.message
    if message is None or message.from_user is None:
        return
    replied = message.reply_to_message
    if (
        replied is not None
        and replied.from_user is not None
        and replied.from_user.id == deps.api.bot.id
    ):
        key = ids.prompt_key(message.chat.id, replied.message_id)
        binding = await asyncio.to_thread(deps.state.get, key)
        if isinstance(binding, dict) and not_a_person(message):
            await refuse_stand_in(message, deps)
        elif isinstance(binding, dict):
            await reason_given(message, key, binding, deps)
            return
    if message.chat.type == ChatType.PRIVATE:
        await deps.chat.command(Said(message, deps), ChatCommand("help"))


async def reason_given(message: Message, key: str, binding: dict[str, Any], deps: Deps) -> None:
    """The reply to a prompt: the reason, if it comes from the person the prompt is for."""
    assert message.from_user is not None
    user_id = message.from_user.id
    conv = Said(message, deps)
    if user_id != binding.get("user_id"):
        log.info("telegram reply to prompt %s by %s, not its user: ignored", key, user_id)
        await conv.tell(TelegramMessage(markup.NOT_YOUR_PROMPT))
        return
    reason = (message.text or "").strip()
    if not reason:
        await conv.tell(TelegramMessage(markup.REASON_REQUIRED))
        return
    conv.shown_by_edit = message.chat.type != ChatType.PRIVATE
    outcome = await deps.chat.reject(conv, str(binding["request_id"]), reason)
    if outcome.ok or outcome.refused is not None:
        await asyncio.to_thread(deps.state.drop, key)


async def on_migrated(update: Update, deps: Deps) -> None:
    """The service messages of a group upgraded to a supergroup (``migrate_to_chat_id`` in
    the old group, ``migrate_from_chat_id`` in the new one): its messages move with it."""
    message = update.message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        await deps.moved(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id is not None:
        await deps.moved(message.migrate_from_chat_id, message.chat.id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(context.error, Paced):  # an answer that would wait too long: dropped
        log.warning("Telegram answer not sent: %s", context.error)
        return
    log.error("unhandled Telegram update: %r", context.error, exc_info=context.error)


def bind(
    handler: Callable[[Update, Deps], Awaitable[None]], deps: Deps
) -> Callable[[Update, Any], Coroutine[Any, Any, None]]:
    async def callback(update: Update, _context: Any) -> None:
        await handler(update, deps)

    callback.__name__ = handler.__name__
    return callback


def register(app: App, deps: Deps) -> None:
    """Attach the handlers to ``app``, each bound to ``deps``."""
    message = filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, bind(on_migrated, deps)))
    app.add_handler(CallbackQueryHandler(bind(on_tap, deps)))
    app.add_handler(MessageHandler(message & filters.COMMAND, bind(on_command, deps)))
    app.add_handler(MessageHandler(message & ~filters.COMMAND, bind(on_message, deps)))
    app.add_error_handler(on_error)
