"""``/approvals``: parse the text into a command, run the query, render the answer.

    /approvals pending              requests waiting for a decision
    /approvals show ID              one request: gates, quorum, votes
    /approvals history [MODEL] [N]  the last N requests (of MODEL), default 10
    /approvals audit ID             the audit trail of one request
    /approvals whoami               who the bot thinks you are, and your groups
    /approvals help                 this text

Answers are ephemeral. ``execute`` blocks (it reads the database): run it in a
worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.adapters.slack import blocks
from bot.adapters.slack.blocks import esc, when
from bot.adapters.slack.ids import COMMAND
from bot.domain import errors
from bot.ports import RequestFilter
from bot.service.identity import Identity
from bot.service.queries import Queries
from bot.service.views import event_summary, launch_problem

HISTORY_DEFAULT = 10
HISTORY_MAX = 50
USAGE = "\n".join(
    [
        f"*{COMMAND}* — approval requests for model promotion",
        f"• `{COMMAND} pending` — requests waiting for a decision",
        f"• `{COMMAND} show ID` — one request: gates, quorum, votes",
        f"• `{COMMAND} history [MODEL] [N]` — the last N requests (default {HISTORY_DEFAULT})",
        f"• `{COMMAND} audit ID` — the audit trail of one request",
        f"• `{COMMAND} whoami` — who the bot thinks you are, and your groups",
        f"• `{COMMAND} help` — this text",
    ]
)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # pending | show | history | audit | whoami | help | usage
    request_id: str | None = None
    model: str | None = None
    limit: int = HISTORY_DEFAULT
    problem: str | None = None  # why the text was not understood (usage)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def parse(text: str) -> Command:
    """The command in the slash command's text; anything not understood is ``usage``."""
    words = text.split()
    if not words:
        return Command("help")
    name, args = words[0].lower(), words[1:]
    if name in ("pending", "whoami", "help") and not args:
        return Command(name)
    if name in ("show", "audit") and len(args) == 1:
        return Command(name, request_id=args[0])
    if name == "history" and len(args) <= 2:
        model: str | None = None
        limit = HISTORY_DEFAULT
        for i, arg in enumerate(args):
            if arg.isdigit() and i == len(args) - 1:
                limit = min(max(int(arg), 1), HISTORY_MAX)
            elif i == 0:
                model = arg
            else:
                return Command("usage", problem=f"`{esc(arg)}` is not a number")
        return Command("history", model=model, limit=limit)
    return Command("usage", problem=f"I don't know `{esc(text.strip()[:100])}`")


def execute(
    queries: Queries,
    command: Command,
    who: Identity,
    synced_groups: frozenset[str] = frozenset(),
) -> Reply:
    """Run a parsed command as ``who``; domain errors become a one-line answer.

    Read commands answer only readers (``Queries.reader``: the same rule in every channel).
    """
    if command.name in READS:
        try:
            queries.reader(who)
        except errors.UnknownPerson as exc:
            return Reply(not_a_reader(queries, who, exc))
    try:
        if command.name == "pending":
            return pending(queries)
        if command.name == "show":
            assert command.request_id is not None
            return show(queries, command.request_id)
        if command.name == "history":
            return history(queries, command.model, command.limit)
        if command.name == "audit":
            assert command.request_id is not None
            return audit(queries, command.request_id)
        if command.name == "whoami":
            return whoami(queries, who, synced_groups)
    except errors.DomainError as exc:
        return Reply(f"⚠️ {esc(exc.message)}")
    if command.name == "help":
        return Reply(USAGE)
    return Reply(f"{command.problem or 'Unknown command'}.\n{USAGE}")


READS = frozenset({"pending", "show", "history", "audit"})


def not_a_reader(queries: Queries, who: Identity, exc: errors.UnknownPerson) -> str:
    if isinstance(exc, errors.NotAReader):
        return f"⛔ {esc(exc.message)}."
    return (
        "⛔ Only people enrolled in the approval-bot config can read requests.\n"
        + whoami(queries, who, frozenset()).text
    )


def pending(queries: Queries) -> Reply:
    requests = queries.pending()
    if not requests:
        return Reply("Nothing is waiting for a decision. 🎉")
    lines = [f"*{len(requests)} pending request(s)*"]
    for r in requests:
        approvals = len(r.approvals())
        lines.append(
            f"• `{r.id}` *{esc(r.model_name)} v{esc(r.model_version)}* by "
            f"{esc(r.requested_by)}, {approvals} approval(s), deadline {when(r.deadline_at)}"
        )
    return Reply(blocks.clip("\n".join(lines)))


def show(queries: Queries, request_id: str) -> Reply:
    request, policy = queries.get_with_policy(request_id)
    problem = launch_problem(queries.effects([request])[request.id])
    return Reply(
        blocks.message_text(request),
        blocks.request_blocks(request, policy, buttons=False, problem=problem),
    )


def history(queries: Queries, model: str | None, limit: int) -> Reply:
    # The filter sorts oldest first and has no "newest first": take the tail.
    requests = queries.search(RequestFilter(model=model, newest_first=True, limit=limit))
    scope = f" of {esc(model)}" if model else ""
    if not requests:
        return Reply(f"No requests{scope} yet.")
    lines = [f"*The last {len(requests)} request(s){scope}*"]
    for r in requests:
        decided = f" by {esc(r.decided_by or '-')}, {when(r.decided_at)}" if r.decided_at else ""
        reason = f" — {esc(blocks.clip(r.reason, 120))}" if r.reason else ""
        lines.append(
            f"• `{r.id}` {esc(r.model_name)} v{esc(r.model_version)}: "
            f"*{r.state.value}*{decided}{reason}"
        )
    return Reply(blocks.clip("\n".join(lines)))


def audit(queries: Queries, request_id: str) -> Reply:
    request = queries.get(request_id)
    records = queries.history([request])[request.id]
    lines = [
        f"*Audit trail of `{request.id}`* ({esc(request.model_name)} v{request.model_version})"
    ]
    for rec in records:
        detail = event_summary(rec)
        lines.append(
            f"{rec.seq}. {when(rec.at)} *{esc(rec.kind)}* by {esc(rec.actor)}"
            + (f" — {esc(detail)}" if detail else "")
        )
    lines.append("_Verify the whole chain with `approval-bot audit verify`._")
    return Reply(blocks.clip("\n".join(lines)))


def whoami(queries: Queries, who: Identity, synced_groups: frozenset[str]) -> Reply:
    person, groups = queries.whoami(who)
    if person is None:
        return Reply(
            f"Your Slack user id is `{esc(who.value)}` and it is not enrolled: ask an admin "
            f"to add `slack: {esc(who.value)}` to a person in the approval-bot config."
        )
    all_groups = sorted(groups | synced_groups)
    listed = ", ".join(esc(g) for g in all_groups) or "none"
    return Reply(f"You are *{esc(person.name)}* (Slack `{esc(who.value)}`); groups: {listed}.")
