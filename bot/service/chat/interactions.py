"""The chat core's inbound side: what a person does in a channel (a click, a command, a reply
with a reason), decided and answered in one flow for every channel.

A channel's listeners translate what its platform sends into calls here, with a
``Conversation`` to answer in (``bot/ports/chat.py``); what the answer says is worded here
(``texts``) and written by the channel's markup. No rules: who may vote, and on what, is the
service's answer. Votes and reads block (the database), so they run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import errors
from bot.domain.model import ApprovalRequest, VoteKind
from bot.domain.rollout import RolloutAction
from bot.ports.chat import Conversation
from bot.ports.store import StoreUnavailable
from bot.service.chat import alerts, answers, texts
from bot.service.chat.parse import EVERYTHING, ROLLOUT, VOTES, ChatCommand
from bot.service.chat.rich import Line, Markup, Reply
from bot.service.chat.rollout import COMMANDS, done_line
from bot.service.commands import VoteResult, Vouched
from bot.service.identity import Identity

if TYPE_CHECKING:
    from bot.service import Services

log = logging.getLogger("bot.chat")

Vouch = Callable[[str], Awaitable[frozenset[str]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a vote came to: counted (``result``), refused, or failed (``ref`` in the log)."""

    result: VoteResult | None = None
    refused: errors.DomainError | None = None
    ref: str | None = None
    unavailable: bool = False  # the database was away (logged once by the unit of work)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def fixable(self) -> bool:
        """Refused for something the person can change (not: already voted or decided)."""
        return self.refused is not None and not isinstance(
            self.refused, errors.AlreadyVoted | errors.AlreadyDecided
        )


class Interactions:
    """One channel's inbound flows. ``vouch``: the groups the channel vouches a person is in
    (its own user groups), counted for the groups whose ``source`` is the channel's."""

    def __init__(
        self,
        services: Services,
        *,
        channel: str,
        markup: Markup,
        prefix: str = "/",
        offered: Collection[str] = EVERYTHING,
        vouch: Vouch | None = None,
        source: str | None = None,
    ) -> None:
        self.commands = services.commands
        self.rollouts = services.rollouts
        self.watch_actions = services.watch
        self.queries = services.queries
        self.channel = channel
        self.kind = self.queries.identities.of(channel)
        self.markup = markup
        self.prefix = prefix
        self.offered = offered
        self.vouch = vouch
        self.source = source

    def who(self, user_id: str) -> Identity:
        return Identity(self.channel, user_id)

    def say(self, *lines: Line) -> object:
        return self.markup.reply(Reply(lines))

    # -- votes ------------------------------------------------------------------------

    async def vote(
        self, user_id: str, request_id: str, kind: VoteKind, comment: str | None = None
    ) -> Outcome:
        """Cast the vote; refusals and failures are returned, not raised."""
        try:
            vouched = None
            if self.vouch is not None and self.source is not None:
                vouched = Vouched(self.source, await self.vouch(user_id))
            result = await asyncio.to_thread(
                self.commands.vote,
                request_id,
                self.who(user_id),
                kind,
                comment=comment,
                vouched=vouched,
            )
        except errors.DomainError as exc:
            log.info("%s %s by %s on %s refused: %s", self.channel, kind, user_id, request_id, exc)
            return Outcome(refused=exc)
        except StoreUnavailable:
            return Outcome(unavailable=True)
        except Exception:
            ref = secrets.token_hex(4)
            log.exception(
                "%s %s by %s on %s failed (ref %s)", self.channel, kind, user_id, request_id, ref
            )
            return Outcome(ref=ref)
        return Outcome(result=result)

    def outcome_line(self, outcome: Outcome, user_id: str) -> Line:
        """What the person who voted reads."""
        if outcome.refused is not None:
            return texts.explain(outcome.refused, self.kind, user_id)
        if outcome.unavailable:
            return (texts.UNAVAILABLE,)
        if outcome.result is None:
            return texts.failed(outcome.ref or "?")
        r = outcome.result
        return texts.counted(r.request, r.vote.vote, r.decided)

    async def _answered(self, conv: Conversation, voting: Awaitable[Outcome]) -> Outcome:
        """Answer with the outcome when it comes within the conversation's budget; else answer
        at once, and tell a refusal or failure when it comes."""
        task = asyncio.ensure_future(voting)
        if conv.budget > 0:
            await asyncio.wait({task}, timeout=conv.budget)
        if task.done():
            outcome = task.result()
            said = self.say(self.outcome_line(outcome, conv.user_id))
            await conv.answer(said, alert=not outcome.ok, keep=outcome.fixable)
            return outcome
        await conv.answer(self.say((texts.COUNTING,)) if conv.budget > 0 else None)
        outcome = await task
        if not outcome.ok:
            await conv.tell(self.say(self.outcome_line(outcome, conv.user_id)))
        return outcome

    async def approve(
        self, conv: Conversation, request_id: str, comment: str | None = None
    ) -> Outcome:
        """Approve, as the person who pressed the button or typed the command."""
        return await self._answered(
            conv, self.vote(conv.user_id, request_id, VoteKind.APPROVE, comment)
        )

    async def reject(self, conv: Conversation, request_id: str, reason: str | None) -> Outcome:
        """Reject with the reason given (a modal, a reply to the prompt, the command)."""
        return await self._answered(
            conv, self.vote(conv.user_id, request_id, VoteKind.REJECT, reason)
        )

    async def ask_reason(self, conv: Conversation, request_id: str) -> None:
        """The Reject button: ask for the reason, unless a reject could not be counted (not a
        reader, an unknown or decided request): then say why."""
        request, problem = await asyncio.to_thread(self._may_reject, conv.user_id, request_id)
        if request is None:
            await conv.answer(self.say(problem), alert=True)
            return
        await conv.prompt_reason(request)

    def _may_reject(self, user_id: str, request_id: str) -> tuple[ApprovalRequest | None, Line]:
        try:
            self.queries.reader(self.who(user_id))
            request = self.queries.get(request_id)
        except errors.UnknownPerson as exc:
            return None, texts.explain(exc, self.kind, user_id)
        except errors.DomainError as exc:
            return None, (f"⚠️ {exc.message}.",)
        if not request.is_pending:
            return None, texts.not_pending(request)
        return request, ()

    async def stranger(
        self,
        conv: Conversation,
        where: str,
        request_id: str | None = None,
        vote: VoteKind | None = None,
    ) -> None:
        """Someone the channel says is none of its own people (another workspace: ``where``):
        told so, whoever they are there; a vote they tried is audited as refused votes are."""
        refusal = texts.stranger(self.kind, conv.user_id, where)
        log.info("%s %s of %s refused: another workspace", self.channel, conv.user_id, where)
        if request_id and vote is not None:
            with contextlib.suppress(errors.DomainError, StoreUnavailable):  # nothing to note
                await asyncio.to_thread(
                    self.commands.refuse, request_id, self.who(conv.user_id), vote, refusal
                )
        line = (
            texts.explain(refusal, self.kind, conv.user_id)
            if vote is not None
            else texts.not_answered(refusal)
        )
        await conv.answer(self.say(line), alert=True, keep=True)

    # -- a canary's rollout -----------------------------------------------------------

    async def rollout(self, conv: Conversation, request_id: str, action: RolloutAction) -> bool:
        """Pause, Resume, Roll back or Promote now (a button or a command); answered with
        what was done or why not. The promotion run acts on it (bot/domain/rollout.py)."""

        def control(vouched: Vouched | None) -> Line:
            who = self.who(conv.user_id)
            self.rollouts.control(request_id, who, action, vouched=vouched)
            return done_line(action, request_id)

        return await self._steer(conv, f"{action} on {request_id}", control)

    # -- a divergence's alert (docs/watch.md) ---------------------------------------------

    async def watch(self, conv: Conversation, divergence_id: str, action: str) -> bool:
        """Deploy the champion, or Move the alias back (a button on the alert); answered with
        what was done or why not. The alert itself shows who asked (its update)."""

        def act(vouched: Vouched | None) -> Line:
            found = self.watch_actions.act(divergence_id, self.who(conv.user_id), action, vouched)
            return alerts.done_line(action, found)

        return await self._steer(conv, f"{action} on divergence {divergence_id}", act)

    async def _steer(
        self, conv: Conversation, what: str, call: Callable[[Vouched | None], Line]
    ) -> bool:
        """``call`` (blocking: in a thread) with what the channel vouches for; the person is
        answered with its line, or why not."""
        ok = False
        try:
            vouched = None
            if self.vouch is not None and self.source is not None:
                vouched = Vouched(self.source, await self.vouch(conv.user_id))
            line, ok = await asyncio.to_thread(call, vouched), True
        except errors.UnknownPerson as exc:
            line = texts.explain(exc, self.kind, conv.user_id)
        except errors.DomainError as exc:
            log.info("%s %s by %s refused: %s", self.channel, what, conv.user_id, exc)
            line = (f"⛔ Not done: {exc.message}.",)
        except StoreUnavailable:
            line = (texts.UNAVAILABLE,)
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("%s %s by %s failed (ref %s)", self.channel, what, conv.user_id, ref)
            line = texts.failed(ref)
        await conv.answer(self.say(line), alert=not ok, keep=not ok)
        return ok

    # -- commands ---------------------------------------------------------------------

    async def command(
        self, conv: Conversation, command: ChatCommand, where: str | None = None
    ) -> None:
        """Answer a command: a vote, or a read (``where``: the chat it was typed in)."""
        if command.name in VOTES and command.name in self.offered:
            assert command.request_id is not None
            vote = self.approve if command.name == "approve" else self.reject
            await vote(conv, command.request_id, command.text)
            return
        if command.name in ROLLOUT and command.name in self.offered:
            assert command.request_id is not None
            await self.rollout(conv, command.request_id, COMMANDS[command.name])
            return
        try:
            vouched = frozenset[str]()
            if command.name == "whoami" and self.vouch is not None:
                vouched = await self.vouch(conv.user_id)
            reply = await asyncio.to_thread(
                answers.answer,
                self.queries,
                command,
                self.who(conv.user_id),
                prefix=self.prefix,
                offered=self.offered,
                where=where,
                vouched=vouched,
            )
        except StoreUnavailable:  # logged once by the unit of work
            reply = Reply.of("⚠️ The approval database is unavailable. Try again shortly.")
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("%s %s %s failed (ref %s)", self.channel, self.prefix, command.name, ref)
            reply = Reply((texts.failed(ref),))
        await conv.answer(self.markup.reply(reply))
