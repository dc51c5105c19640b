"""PTB handlers: translate a tap, a command or a reply, call the service, say the result.

No rules here: who may vote, and on what, is the service's answer. The service blocks
(database), so it runs in a worker thread; the request message itself is edited by the
outbox (``kick`` delivers at once), never from a handler.

A callback query can be answered only once, and only that answer can show an alert, so
an Approve tap waits for its vote before answering, for at most ``ANSWER_BUDGET``
seconds: a vote is one short transaction, so the answer normally carries the outcome
(the refusal as an alert). Past the budget the tap is answered "counting your vote" and a
refusal comes as a message in the chat instead, so Telegram's client never spins.

Each handler is a module-level function taking ``(update, deps)``; ``register`` binds
them to the application.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    ForceReply,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.adapters.telegram import commands, ids, render
from bot.adapters.telegram.api import App, TelegramApi
from bot.adapters.telegram.render import esc
from bot.domain import errors
from bot.domain.model import ApprovalRequest, VoteKind
from bot.domain.names import Channel
from bot.ports import StoreUnavailable
from bot.service import Services
from bot.service.commands import VoteResult
from bot.service.identity import Identity

log = logging.getLogger("bot.telegram")
ANSWER_BUDGET = 2.0  # seconds an Approve tap waits for its vote before answering
REPLY_WAIT = 20.0  # seconds an answer in the chat may wait for its flood-control slot


@dataclass(frozen=True, slots=True)
class Deps:
    services: Services
    api: TelegramApi
    kick: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a vote came to: counted (``result``), refused, or failed (``ref`` in the log)."""

    result: VoteResult | None = None
    refused: errors.DomainError | None = None
    ref: str | None = None
    unavailable: bool = False  # the database was away (logged once by the unit of work)

    def text(self, user_id: int) -> str:
        """Plain text for the person who voted."""
        if self.refused is not None:
            return render.explain(self.refused, user_id)
        if self.unavailable:
            return (
                "⚠️ The approval database is unavailable; nothing was recorded. Try again shortly."
            )
        if self.result is None:
            return f"⚠️ Something went wrong; nothing was recorded (ref {self.ref}). Try again."
        request = self.result.request
        name = f"{request.model_name} v{request.model_version}"
        if self.result.vote.vote is VoteKind.REJECT:
            return f"❌ You rejected {name}."
        decided = f" It is now {request.state.value}." if self.result.decided else ""
        return f"✅ Your approval of {name} was counted.{decided}"

    @property
    def ok(self) -> bool:
        return self.result is not None


def identity(user_id: int) -> Identity:
    return Identity(Channel.TELEGRAM, str(user_id))


async def vote(
    deps: Deps, request_id: str, user_id: int, kind: VoteKind, comment: str | None = None
) -> Outcome:
    """Cast the vote as the Telegram user; refusals and failures are returned, not raised."""
    try:
        result = await asyncio.to_thread(
            deps.services.commands.vote, request_id, identity(user_id), kind, comment=comment
        )
    except errors.DomainError as exc:
        log.info("telegram %s by %s on %s refused: %s", kind.value, user_id, request_id, exc)
        return Outcome(refused=exc)
    except StoreUnavailable:
        return Outcome(unavailable=True)
    except Exception:
        ref = secrets.token_hex(4)
        log.exception(
            "telegram %s by %s on %s failed (ref %s)", kind.value, user_id, request_id, ref
        )
        return Outcome(ref=ref)
    deps.kick()  # the outbox edits the message in every channel, now
    return Outcome(result=result)


async def say(deps: Deps, chat_id: int, text: str, *, reply_to: int | None = None) -> Message:
    """A message in the chat (Telegram HTML), paced like every other write."""
    return await deps.api.bot.send_message(
        chat_id,
        text,
        parse_mode=ParseMode.HTML,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        ),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        rate_limit_args=REPLY_WAIT,
    )


# -- taps ---------------------------------------------------------------------------------


async def on_tap(update: Update, deps: Deps) -> None:
    query = update.callback_query
    if query is None:
        return
    tap = ids.parse_callback(query.data)
    if tap is None:
        await query.answer("This button is not known any more; try /pending.", show_alert=True)
        return
    if tap.button is ids.Button.APPROVE:
        await approve_tap(query, tap.request_id, deps)
    else:
        await reject_tap(query, tap.request_id, deps)


async def approve_tap(query: CallbackQuery, request_id: str, deps: Deps) -> None:
    """Vote as the Telegram user who tapped; the answer carries the outcome."""
    user = query.from_user
    task = asyncio.create_task(vote(deps, request_id, user.id, VoteKind.APPROVE))
    done, _ = await asyncio.wait({task}, timeout=ANSWER_BUDGET)
    if done:
        outcome = task.result()
        await query.answer(render.alert(outcome.text(user.id)), show_alert=not outcome.ok)
        return
    await query.answer("⏳ Counting your vote…")
    outcome = await task
    if not outcome.ok and query.message is not None:
        await say(
            deps,
            query.message.chat.id,
            f"{render.user_link(user.id, user.first_name)}: {esc(outcome.text(user.id))}",
            reply_to=query.message.message_id,
        )


def _reject_check(deps: Deps, who: Identity, request_id: str) -> tuple[ApprovalRequest | None, str]:
    """The request a Reject tap may prompt for, or why it gets no prompt (not enrolled,
    unknown or decided request)."""
    try:
        deps.services.queries.reader(who)
        request = deps.services.queries.get(request_id)
    except errors.UnknownPerson as exc:
        return None, render.explain(exc, who.value)
    except errors.DomainError as exc:
        return None, f"⚠️ {exc.message}."
    if not request.is_pending:
        return None, f"ℹ️ Request {request.id} is already {request.state.value}; nothing to reject."
    return request, ""


async def reject_tap(query: CallbackQuery, request_id: str, deps: Deps) -> None:
    """Ask for the reason with a ForceReply prompt bound to this request and this person."""
    user = query.from_user
    request, problem = await asyncio.to_thread(_reject_check, deps, identity(user.id), request_id)
    if request is None:
        await query.answer(render.alert(problem), show_alert=True)
        return
    await query.answer("✍️ Reply to my message with your reason.")
    message = query.message
    prompt = await deps.api.bot.send_message(
        message.chat.id if message is not None else user.id,
        render.reject_prompt(request, user.id, user.first_name),
        parse_mode=ParseMode.HTML,
        reply_parameters=(
            ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if message is not None
            else None
        ),
        reply_markup=ForceReply(selective=True, input_field_placeholder="Reason for rejecting"),
        rate_limit_args=REPLY_WAIT,
    )
    await asyncio.to_thread(
        deps.services.chat.save_telegram_state,
        ids.prompt_key(prompt.chat.id, prompt.message_id),
        {"request_id": request_id, "user_id": user.id},
    )


# -- messages -----------------------------------------------------------------------------


async def on_command(update: Update, deps: Deps) -> None:
    message = update.message
    if message is None or message.from_user is None or message.text is None:
        return
    command = commands.parse(message.text, deps.api.bot.username)
    if command is None:
        return  # for another bot
    user_id = message.from_user.id
    try:
        if command.name in commands.VOTES:
            assert command.request_id is not None
            kind = VoteKind.APPROVE if command.name == "approve" else VoteKind.REJECT
            outcome = await vote(deps, command.request_id, user_id, kind, command.text)
            text = esc(outcome.text(user_id))
        else:
            text = await asyncio.to_thread(
                commands.execute,
                deps.services.queries,
                command,
                identity(user_id),
                message.chat.id,
            )
    except StoreUnavailable:  # logged once by the unit of work
        text = "⚠️ The approval database is unavailable. Try again shortly."
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("telegram /%s failed (ref %s)", command.name, ref)
        text = f"⚠️ Something went wrong (ref {ref}). Try again."
    await say(deps, message.chat.id, text, reply_to=message.message_id)


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
        binding = await asyncio.to_thread(deps.services.chat.telegram_state, key)
        if isinstance(binding, dict):
            await reason_given(message, key, binding, deps)
            return
    if message.chat.type == ChatType.PRIVATE:
        await say(deps, message.chat.id, commands.HELP, reply_to=message.message_id)


async def reason_given(message: Message, key: str, binding: dict[str, Any], deps: Deps) -> None:
    """The reply to a prompt: the reason, if it comes from the person the prompt is for."""
    assert message.from_user is not None
    user_id = message.from_user.id
    if user_id != binding.get("user_id"):
        log.info("telegram reply to prompt %s by %s, not its user: ignored", key, user_id)
        await say(
            deps,
            message.chat.id,
            "This prompt is for the person who tapped Reject; your reply does not count. "
            "Tap Reject yourself to reject.",
            reply_to=message.message_id,
        )
        return
    reason = (message.text or "").strip()
    if not reason:
        await say(
            deps,
            message.chat.id,
            "⚠️ A reason is required to reject: reply to the prompt with it, as text.",
            reply_to=message.message_id,
        )
        return
    outcome = await vote(deps, str(binding["request_id"]), user_id, VoteKind.REJECT, reason)
    if outcome.ok or outcome.refused is not None:
        await asyncio.to_thread(deps.services.chat.drop_telegram_state, key)
    await say(deps, message.chat.id, esc(outcome.text(user_id)), reply_to=message.message_id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    app.add_handler(CallbackQueryHandler(bind(on_tap, deps)))
    app.add_handler(MessageHandler(message & filters.COMMAND, bind(on_command, deps)))
    app.add_handler(MessageHandler(message & ~filters.COMMAND, bind(on_message, deps)))
    app.add_error_handler(on_error)
