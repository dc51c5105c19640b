"""Bolt listeners: ack first, translate the payload, call the service, render the result.

No rules here: who may vote, and on what, is the service's answer. The service
blocks (database), so it runs in a worker thread; the message itself is updated
by the outbox (``kick`` delivers at once), never from a listener.

Each listener is a module-level function; ``register`` binds its dependencies
(``deps``) and attaches it to the Bolt app.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import blocks, commands
from bot.adapters.slack.ids import COMMAND, Action, Block, View
from bot.adapters.slack.usergroups import UsergroupDirectory
from bot.domain import errors
from bot.domain.model import VoteKind
from bot.domain.names import Channel
from bot.ports import StoreUnavailable
from bot.service import Services
from bot.service.identity import Identity

log = logging.getLogger("bot.slack")
# A view_submission must be answered within 3 s; past this budget the modal is
# closed and the outcome is told with an ephemeral message instead.
MODAL_ANSWER_BUDGET = 2.0


@dataclass(frozen=True, slots=True)
class Deps:
    services: Services
    usergroups: UsergroupDirectory
    kick: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Click:
    """A button click (or a modal submission), translated."""

    request_id: str
    user_id: str
    channel_id: str | None
    message_ts: str | None
    trigger_id: str | None


def parse_click(body: dict[str, Any]) -> Click:
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    return Click(
        request_id=str(action.get("value") or ""),
        user_id=str(body["user"]["id"]),
        channel_id=(body.get("channel") or {}).get("id") or container.get("channel_id"),
        message_ts=(body.get("message") or {}).get("ts") or container.get("message_ts"),
        trigger_id=body.get("trigger_id"),
    )


def parse_modal(body: dict[str, Any], view: dict[str, Any]) -> tuple[Click, str | None]:
    """The reject modal's submission: who, on which request (and message), and the reason."""
    meta = blocks.modal_metadata(str(view.get("private_metadata") or ""))
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(Block.REASON.value) or {}).get(Block.REASON_INPUT.value) or {}).get(
        "value"
    )
    click = Click(
        request_id=str(meta.get("id") or ""),
        user_id=str(body["user"]["id"]),
        channel_id=meta.get("channel"),
        message_ts=meta.get("ts"),
        trigger_id=None,
    )
    return click, reason


def explain(exc: errors.DomainError, user_id: str) -> str:
    """What the person who clicked reads."""
    if isinstance(exc, errors.AlreadyVoted | errors.AlreadyDecided):
        return f"ℹ️ {exc.message}."
    if isinstance(exc, errors.UnknownPerson):
        return (
            f"⛔ Your Slack account (`{user_id}`) is not enrolled as an approver, so the "
            "vote was not counted. Ask an admin to add it to the approval-bot config."
        )
    if isinstance(exc, errors.Refused):
        return f"⛔ Your vote was not counted: {exc.message}."
    return f"⚠️ {exc.message}."


async def ignore_retries(
    req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse:
    """Slack redelivers when it thinks we were slow; the first delivery is being handled."""
    if req.headers.get("x-slack-retry-num"):
        return BoltResponse(status=200, body="")
    return await next()


# -- helpers ----------------------------------------------------------------------------


async def vote(
    deps: Deps, request_id: str, user_id: str, kind: VoteKind, comment: str | None = None
) -> errors.DomainError | None:
    """Cast the vote; the refusal, if any, is returned for the caller to show."""
    synced = await deps.usergroups.groups_of(user_id)
    try:
        await asyncio.to_thread(
            deps.services.commands.vote,
            request_id,
            Identity(Channel.SLACK, user_id),
            kind,
            comment=comment,
            extra_groups=synced,
        )
    except errors.DomainError as exc:
        log.info("slack %s by %s on %s refused: %s", kind.value, user_id, request_id, exc)
        return exc
    deps.kick()  # the outbox updates the message in place, now
    return None


async def tell(client: AsyncWebClient, channel: str | None, user: str, text: str) -> None:
    if channel:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
    else:  # no channel to whisper in (e.g. a modal opened elsewhere): a direct message
        await client.chat_postMessage(channel=user, text=text)


async def failed(client: AsyncWebClient, click: Click, what: str) -> None:
    ref = secrets.token_hex(4)
    error = sys.exc_info()[1]
    if isinstance(error, StoreUnavailable):  # logged once by the unit of work
        text = "⚠️ The approval database is unavailable; nothing was recorded. Try again shortly."
    else:
        log.exception("slack %s on %s failed (ref %s)", what, click.request_id, ref)
        text = f"⚠️ Something went wrong; nothing was recorded (ref `{ref}`). Try again."
    try:
        await tell(client, click.channel_id, click.user_id, text)
    except Exception:
        log.exception("could not tell %s about ref %s", click.user_id, ref)


# -- listeners ----------------------------------------------------------------------------


async def approve(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, *, deps: Deps
) -> None:
    """Approve button: vote as the Slack user who clicked; say why when refused."""
    await ack()
    click = parse_click(body)
    try:
        refused = await vote(deps, click.request_id, click.user_id, VoteKind.APPROVE)
        if refused is not None:
            await tell(client, click.channel_id, click.user_id, explain(refused, click.user_id))
    except Exception:
        await failed(client, click, "approve")


async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    """Reject button: open the reason modal at once (the trigger id lives 3 s)."""
    await ack()
    click = parse_click(body)
    try:
        await client.views_open(
            trigger_id=click.trigger_id,
            view=blocks.reject_modal(
                click.request_id, channel=click.channel_id, ts=click.message_ts
            ),
        )
    except Exception:
        await failed(client, click, "reject")


async def reject_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    *,
    deps: Deps,
) -> None:
    """Reject modal: vote with the reason; a refusal is shown next to the reason."""
    click, reason = parse_modal(body, view)
    task = asyncio.create_task(vote(deps, click.request_id, click.user_id, VoteKind.REJECT, reason))
    done, _ = await asyncio.wait({task}, timeout=MODAL_ANSWER_BUDGET)
    if not done:
        await ack()  # close the modal in time; the outcome comes as a message
    try:
        refused = await task
    except Exception:
        if done:
            await ack()
        await failed(client, click, "reject")
        return
    if not done:
        if refused is not None:
            await tell(client, click.channel_id, click.user_id, explain(refused, click.user_id))
        return
    await answer_modal(ack, client, click, refused)


async def answer_modal(
    ack: AsyncAck, client: AsyncWebClient, click: Click, refused: errors.DomainError | None
) -> None:
    """Close the modal, or keep it open with the refusal next to the reason."""
    if refused is None:
        await ack()
    elif isinstance(refused, errors.AlreadyDecided | errors.AlreadyVoted):
        await ack()
        await tell(client, click.channel_id, click.user_id, explain(refused, click.user_id))
    else:
        await ack(
            response_action="errors",
            errors={Block.REASON.value: explain(refused, click.user_id)[:150]},
        )


async def approvals_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, *, deps: Deps
) -> None:
    """/approvals: ephemeral answers to queries."""
    await ack()
    user_id = str(command["user_id"])
    parsed = commands.parse(str(command.get("text") or ""))
    try:
        synced = (
            await deps.usergroups.groups_of(user_id)
            if parsed.name == "whoami"
            else frozenset[str]()
        )
        reply = await asyncio.to_thread(
            commands.execute,
            deps.services.queries,
            parsed,
            Identity(Channel.SLACK, user_id),
            synced,
        )
    except StoreUnavailable:  # logged once by the unit of work
        reply = commands.Reply("⚠️ The approval database is unavailable. Try again shortly.")
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("%s %s failed (ref %s)", COMMAND, parsed.name, ref)
        reply = commands.Reply(f"⚠️ Something went wrong (ref `{ref}`). Try again.")
    await respond(
        text=reply.text,
        blocks=reply.blocks or [blocks.section(reply.text)],
        response_type="ephemeral",
    )


async def on_error(error: Exception, body: dict[str, Any]) -> None:
    log.error("unhandled Slack payload %s: %r", body.get("type"), error, exc_info=error)


def bind(listener: Callable[..., Awaitable[None]], deps: Deps) -> Callable[..., Awaitable[None]]:
    """``listener`` with ``deps`` given; Bolt still sees (and injects) its other arguments."""
    return update_wrapper(partial(listener, deps=deps), listener)


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach the listeners to ``app``, each bound to ``deps`` where it needs them."""
    app.use(ignore_retries)
    app.action(Action.APPROVE.value)(bind(approve, deps))
    app.action(Action.REJECT.value)(reject)
    app.view(View.REJECT.value)(bind(reject_submitted, deps))
    app.command(COMMAND)(bind(approvals_command, deps))
    app.error(on_error)
