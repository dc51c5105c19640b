"""Bolt listeners: ack first, translate the payload, hand it to the chat core.

No rules and no wording here: the chat core (``bot/service/chat/interactions.py``) decides
and words every answer; a ``SlackConversation`` says it the Slack way (an ephemeral
message, the modal's errors, the slash command's response URL). The message itself is
updated by the outbox, never from a listener.

Each listener is a module-level function; ``register`` binds the chat core (``chat``) and
attaches it to the Bolt app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.ids import COMMAND, Action, Block, View
from bot.adapters.slack.markup import SlackMessage, modal_metadata, reject_modal
from bot.adapters.slack.workspace import stranger
from bot.domain.model import ApprovalRequest, VoteKind
from bot.domain.rollout import RolloutAction
from bot.service.chat.interactions import Interactions
from bot.service.chat.parse import parse

log = logging.getLogger("bot.slack")
# A view_submission must be answered within 3 s; past this budget the modal is
# closed and the outcome is told with an ephemeral message instead.
MODAL_ANSWER_BUDGET = 2.0


@dataclass
class SlackConversation:
    """A click, a modal or a command, answered the Slack way. Acked already (Bolt wants an
    ack within 3 s), except a modal, whose ack is its answer."""

    user_id: str
    client: AsyncWebClient
    channel_id: str | None = None
    message_ts: str | None = None
    trigger_id: str | None = None
    ack: AsyncAck | None = None  # a modal's
    respond: AsyncRespond | None = None  # a slash command's
    budget: float = 0.0

    async def answer(
        self, rendered: SlackMessage | None, *, alert: bool = False, keep: bool = False
    ) -> None:
        if self.respond is not None and rendered is not None:
            sent = await self.respond(
                text=rendered.text, blocks=rendered.blocks, response_type="ephemeral"
            )
            if sent.status_code != 200:  # Slack refused it (a used-up or expired URL)
                log.warning(
                    "Slack refused the answer to %s's command: %s %s",
                    self.user_id,
                    sent.status_code,
                    str(sent.body)[:200],
                )
            return
        if self.ack is not None:
            if keep and rendered is not None:  # the modal stays open, showing why
                await self.ack(
                    response_action="errors", errors={Block.REASON.value: rendered.plain[:150]}
                )
                return
            await self.ack()
        if alert and rendered is not None:
            await self.tell(rendered)

    async def tell(self, rendered: SlackMessage) -> None:
        if self.channel_id:
            await self.client.chat_postEphemeral(
                channel=self.channel_id, user=self.user_id, text=rendered.text
            )
        else:  # no channel to whisper in (e.g. a modal opened elsewhere): a direct message
            await self.client.chat_postMessage(channel=self.user_id, text=rendered.text)

    async def prompt_reason(self, request: ApprovalRequest) -> None:
        modal = reject_modal(request.id, channel=self.channel_id, ts=self.message_ts)
        await self.client.views_open(trigger_id=self.trigger_id, view=modal)


def clicked(body: dict[str, Any], client: AsyncWebClient) -> tuple[SlackConversation, str]:
    """A button click: who, where, and the request it names."""
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    conv = SlackConversation(
        user_id=str(body["user"]["id"]),
        client=client,
        channel_id=(body.get("channel") or {}).get("id") or container.get("channel_id"),
        message_ts=(body.get("message") or {}).get("ts") or container.get("message_ts"),
        trigger_id=body.get("trigger_id"),
    )
    return conv, str(action.get("value") or "")


async def ignore_retries(
    req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse:
    """Slack redelivers when it thinks we were slow; the first delivery is being handled."""
    if req.headers.get("x-slack-retry-num"):
        return BoltResponse(status=200, body="")
    return await next()


# -- listeners ----------------------------------------------------------------------------


async def approve(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    chat: Interactions,
) -> None:
    """Approve button: vote as the Slack user who clicked; say why when refused."""
    await ack()
    conv, request_id = clicked(body, client)
    if (where := stranger(body, context)) is not None:
        await chat.stranger(conv, where, request_id, VoteKind.APPROVE)
        return
    await chat.approve(conv, request_id)


async def reject(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    chat: Interactions,
) -> None:
    """Reject button: open the reason modal (the trigger id lives 3 s)."""
    await ack()
    conv, request_id = clicked(body, client)
    if (where := stranger(body, context)) is not None:
        await chat.stranger(conv, where)
        return
    await chat.ask_reason(conv, request_id)


async def reject_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    chat: Interactions,
) -> None:
    """Reject modal: vote with the reason; a refusal is shown next to the reason."""
    meta = modal_metadata(str(view.get("private_metadata") or ""))
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(Block.REASON.value) or {}).get(Block.REASON_INPUT.value) or {}
    conv = SlackConversation(
        user_id=str(body["user"]["id"]),
        client=client,
        channel_id=meta.get("channel"),
        message_ts=meta.get("ts"),
        ack=ack,
        budget=MODAL_ANSWER_BUDGET,
    )
    if (where := stranger(body, context)) is not None:
        await chat.stranger(conv, where, str(meta.get("id") or ""), VoteKind.REJECT)
        return
    await chat.reject(conv, str(meta.get("id") or ""), field.get("value"))


async def approvals_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    chat: Interactions,
) -> None:
    """/approvals: ephemeral answers to queries."""
    await ack()
    words = str(command.get("text") or "").split(maxsplit=1)
    name, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("help", "")
    conv = SlackConversation(user_id=str(command["user_id"]), client=client, respond=respond)
    if (where := stranger(command, context)) is not None:
        await chat.stranger(conv, where)
        return
    await chat.command(conv, parse(name, rest, prefix=f"{COMMAND} ", offered=chat.offered))


async def on_error(error: Exception, body: dict[str, Any]) -> None:
    log.error("unhandled Slack payload %s: %r", body.get("type"), error, exc_info=error)


def bind(
    listener: Callable[..., Awaitable[None]], chat: Interactions
) -> Callable[..., Awaitable[None]]:
    """``listener`` with ``chat`` given; Bolt still sees (and injects) its other arguments."""
    return update_wrapper(partial(listener, chat=chat), listener)


WATCH_ACTIONS = frozenset({Action.DEPLOY_CHAMPION, Action.ALIAS_BACK})
ROLLOUT_ACTIONS = (Action.PAUSE, Action.RESUME, Action.ROLLBACK, Action.PROMOTE_NOW)


async def steer(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    chat: Interactions,
) -> None:
    """A button that steers, as the user who clicked: Pause, Resume, Roll back, Promote now on
    a running canary (the value is the request); Deploy the champion, Move the alias back on a
    divergence's alert (the value is the divergence, docs/watch.md)."""
    await ack()
    conv, subject = clicked(body, client)
    if (where := stranger(body, context)) is not None:
        await chat.stranger(conv, where)
        return
    action = Action(str(((body.get("actions") or [{}])[0]).get("action_id") or ""))
    if action in WATCH_ACTIONS:
        await chat.watch(conv, subject, action.name.lower())
    else:
        await chat.rollout(conv, subject, RolloutAction[action.name])


def register(app: AsyncApp, chat: Interactions) -> None:
    """Attach the listeners to ``app``, each bound to the chat core."""
    app.use(ignore_retries)
    for action in (*ROLLOUT_ACTIONS, *sorted(WATCH_ACTIONS)):
        app.action(action.value)(bind(steer, chat))
    app.action(Action.APPROVE.value)(bind(approve, chat))
    app.action(Action.REJECT.value)(bind(reject, chat))
    app.view(View.REJECT.value)(bind(reject_submitted, chat))
    app.command(COMMAND)(bind(approvals_command, chat))
    app.error(on_error)
