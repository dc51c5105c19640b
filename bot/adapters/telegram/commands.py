"""Telegram commands: parse a message's text into a command, run the read commands.

    /pending                 requests waiting for a decision
    /show ID                 one request: gates, quorum, votes
    /approve ID [comment]    approve
    /reject ID reason        reject, with the reason
    /history [MODEL] [N]     the last N requests (of MODEL), default 10
    /audit ID                the audit trail of one request
    /whoami                  your Telegram user id (to enrol) and who the bot thinks you are
    /help                    this text

``/cmd@BotName`` works in groups (a command for another bot is not ours). Read commands
answer enrolled people only. ``execute`` blocks (it reads the database): run it in a worker
thread. Votes (``/approve``, ``/reject``) are cast by the listeners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.adapters.chat_text import clip
from bot.adapters.telegram import render
from bot.adapters.telegram.render import esc, when
from bot.domain import errors
from bot.ports import RequestFilter
from bot.service.identity import Identity
from bot.service.queries import Queries
from bot.service.views import event_summary

_COMMAND = re.compile(r"/(\S+)(.*)\Z", re.DOTALL)
HISTORY_DEFAULT = 10
HISTORY_MAX = 50
READS = ("pending", "show", "history", "audit")
VOTES = ("approve", "reject")
HELP = "\n".join(
    [
        "<b>approval-bot</b>: approval requests for model promotion",
        "/pending: requests waiting for a decision",
        "/show ID: one request, with its gates, quorum and votes",
        "/approve ID [comment]: approve",
        "/reject ID reason: reject, with the reason",
        f"/history [MODEL] [N]: the last N requests (default {HISTORY_DEFAULT})",
        "/audit ID: the audit trail of one request",
        "/whoami: your Telegram user id (to enrol) and who the bot thinks you are",
        "/help: this text",
        "",
        "Or tap <b>Approve</b> / <b>Reject</b> on a request's message.",
    ]
)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # pending | show | approve | reject | history | audit | whoami | help | usage
    request_id: str | None = None
    text: str | None = None  # the comment of /approve, the reason of /reject
    model: str | None = None
    limit: int = HISTORY_DEFAULT
    problem: str | None = None  # why the text was not understood (usage)


def parse(text: str, bot_username: str | None) -> Command | None:
    """The command in a message's text; None when it is not a command for this bot."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    name, _, addressee = match.group(1).partition("@")
    rest = match.group(2).strip()
    if addressee and (bot_username is None or addressee.lower() != bot_username.lower()):
        return None  # /cmd@OtherBot
    name = name.lower()
    args = rest.split()
    if name in ("pending", "whoami", "help", "start"):
        if args:
            return usage(f"/{name} takes no arguments")
        return Command("help" if name == "start" else name)
    if name in ("show", "audit"):
        if len(args) != 1:
            return usage(f"/{name} takes one request id: /{name} ID")
        return Command(name, request_id=args[0])
    if name == "approve":
        if not args:
            return usage("/approve needs a request id: /approve ID [comment]")
        return Command(name, request_id=args[0], text=_after_first(rest) or None)
    if name == "reject":
        if not args:
            return usage("/reject needs a request id and a reason: /reject ID reason")
        reason = _after_first(rest)
        if not reason:
            return usage(f"a reason is required to reject: /reject {args[0]} your reason")
        return Command(name, request_id=args[0], text=reason)
    if name == "history":
        return _history(args)
    return usage(f"I don't know /{name[:50]}")


def _after_first(rest: str) -> str:
    parts = rest.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _history(args: list[str]) -> Command:
    if len(args) > 2:
        return usage("/history takes a model and a number: /history [MODEL] [N]")
    model: str | None = None
    limit = HISTORY_DEFAULT
    for i, arg in enumerate(args):
        if arg.isdigit() and i == len(args) - 1:
            limit = min(max(int(arg), 1), HISTORY_MAX)
        elif i == 0:
            model = arg
        else:
            return usage(f"{arg[:50]} is not a number")
    return Command("history", model=model, limit=limit)


def usage(problem: str) -> Command:
    return Command("usage", problem=problem)


# -- running the read commands ----------------------------------------------------------


def execute(queries: Queries, command: Command, who: Identity, chat_id: int | None = None) -> str:
    """The answer (Telegram HTML) to a read command, whoami or help, as ``who`` in ``chat_id``."""
    if command.name == "help":
        return HELP
    if command.name == "usage":
        return f"⚠️ {esc(command.problem or 'unknown command')}.\n\n{HELP}"
    if command.name == "whoami":
        here = f"\nThis chat's id is <code>{chat_id}</code>." if chat_id is not None else ""
        return whoami(queries, who) + here
    try:
        queries.reader(who)
    except errors.UnknownPerson:
        return "⛔ Only enrolled approvers can read requests.\n" + whoami(queries, who)
    try:
        if command.name == "pending":
            return pending(queries)
        if command.name == "show":
            assert command.request_id is not None
            request, policy = queries.get_with_policy(command.request_id)
            return render.message_text(request, policy)
        if command.name == "history":
            return history(queries, command.model, command.limit)
        if command.name == "audit":
            assert command.request_id is not None
            return audit(queries, command.request_id)
    except errors.DomainError as exc:
        return f"⚠️ {esc(exc.message)}"
    return HELP


def lines_fit(lines: list[str], limit: int = render.TEXT_LIMIT) -> str:
    """Join whole lines, dropping the last ones (with a note) past Telegram's limit."""
    kept = list(lines)
    dropped = 0
    while len("\n".join(kept)) > limit - 40 and len(kept) > 1:
        kept.pop()
        dropped += 1
    return "\n".join(kept + ([f"… and {dropped} more"] if dropped else []))


def pending(queries: Queries) -> str:
    requests = queries.pending()
    if not requests:
        return "Nothing is waiting for a decision. 🎉"
    lines = [f"<b>{len(requests)} pending request(s)</b>"]
    for r in requests:
        lines.append(
            f"• <code>{esc(r.id)}</code> <b>{esc(r.model_name)} v{esc(r.model_version)}</b> "
            f"by {esc(r.requested_by)}, {len(r.approvals())} approval(s), "
            f"deadline {when(r.deadline_at)}"
        )
    return lines_fit(lines)


def history(queries: Queries, model: str | None, limit: int) -> str:
    requests = queries.search(RequestFilter(model=model, newest_first=True, limit=limit))
    scope = f" of {esc(model)}" if model else ""
    if not requests:
        return f"No requests{scope} yet."
    lines = [f"<b>The last {len(requests)} request(s){scope}</b>"]
    for r in requests:
        decided = f" by {esc(r.decided_by or '-')}, {when(r.decided_at)}" if r.decided_at else ""
        reason = f" — {esc(clip(r.reason, 120))}" if r.reason else ""
        lines.append(
            f"• <code>{esc(r.id)}</code> {esc(r.model_name)} v{esc(r.model_version)}: "
            f"<b>{esc(r.state.value)}</b>{decided}{reason}"
        )
    return lines_fit(lines)


def audit(queries: Queries, request_id: str) -> str:
    request = queries.get(request_id)
    records = queries.history([request])[request.id]
    lines = [
        f"<b>Audit trail of <code>{esc(request.id)}</code></b> "
        f"({esc(request.model_name)} v{esc(request.model_version)})"
    ]
    for rec in records:
        detail = event_summary(rec)
        lines.append(
            f"{rec.seq}. {when(rec.at)} <b>{esc(rec.kind)}</b> by {esc(rec.actor)}"
            + (f" — {esc(clip(detail, 300))}" if detail else "")
        )
    lines.append("<i>Verify the whole chain with approval-bot audit verify.</i>")
    return lines_fit(lines)


def whoami(queries: Queries, who: Identity) -> str:
    person, groups = queries.whoami(who)
    if person is None:
        return (
            f"Your Telegram user id is <code>{esc(who.value)}</code> and it is not enrolled: "
            f"ask an admin to add <code>telegram: {esc(who.value)}</code> to a person in the "
            "approval-bot config."
        )
    listed = ", ".join(esc(g) for g in sorted(groups)) or "none"
    return (
        f"You are <b>{esc(person.name)}</b> (Telegram user id <code>{esc(who.value)}</code>); "
        f"groups: {listed}."
    )
