"""The answers to the read commands (pending, show, history, audit, whoami, help), worded
once for every channel. They read the database: run them in a worker thread."""

from __future__ import annotations

from collections.abc import Collection

from bot.domain import errors
from bot.domain.model import ApprovalRequest
from bot.ports.store import RequestFilter
from bot.service.chat import texts
from bot.service.chat.message import compose
from bot.service.chat.parse import READS, USAGE, ChatCommand
from bot.service.chat.rich import Code, Command, Line, Part, Reply, When, bold, clip, italic
from bot.service.identity import Identity, IdentityKinds
from bot.service.queries import Queries
from bot.service.views import event_summary, launch_problem

DETAIL_SHOWN = 300  # characters of an audit event's summary
REASON_SHOWN = 120  # of a decision's reason in the history


def answer(
    queries: Queries,
    command: ChatCommand,
    who: Identity,
    *,
    prefix: str,
    offered: Collection[str],
    where: str | None = None,
    vouched: frozenset[str] = frozenset(),
) -> Reply:
    """The answer to a read command, whoami, help or a command not understood, as ``who``
    (``where``: the chat it was asked in; ``vouched``: groups the channel vouches for)."""
    if command.name == "help":
        return help_text(prefix, offered)
    if command.name == "usage":
        problem = (f"⚠️ {command.problem or 'unknown command'}.",)
        return Reply((problem, *help_text(prefix, offered).lines))
    if command.name == "whoami":
        return whoami(queries, who, where, vouched)
    try:
        queries.reader(who)
    except errors.NotAReader as exc:
        return Reply.of(f"⛔ {exc.message}.")
    except errors.UnknownPerson:
        refused = ("⛔ Only enrolled approvers can read requests.",)
        return Reply((refused, *whoami(queries, who, None).lines))
    try:
        return _read(queries, command)
    except errors.DomainError as exc:
        return Reply.of(f"⚠️ {exc.message}")


def _read(queries: Queries, command: ChatCommand) -> Reply:
    if command.name == "pending":
        return pending(queries.pending())
    if command.name == "history":
        return history(queries, command.model, command.limit)
    assert command.request_id is not None and command.name in READS
    if command.name == "show":
        request, policy = queries.get_with_policy(command.request_id)
        problem = launch_problem(queries.effects([request])[request.id])
        return Reply(message=compose(request, policy, problem=problem, buttons=False))
    return audit(queries, command.request_id)


def help_text(prefix: str, offered: Collection[str]) -> Reply:
    lines: list[Line] = [(bold("approval-bot"), ": approval requests for model promotion")]
    for name, (args, does) in USAGE.items():
        if name in offered:
            lines.append(("• ", Command(f"{prefix}{name}{args}"), f": {does}"))
    lines.append(("Or press ", bold("Approve"), " / ", bold("Reject"), " on a request's message."))
    return Reply(tuple(lines))


def pending(requests: list[ApprovalRequest]) -> Reply:
    if not requests:
        return Reply.of("Nothing is waiting for a decision. 🎉")
    lines: list[Line] = [(bold(f"{len(requests)} pending request(s)"),)]
    for r in requests:
        lines.append(
            (
                "• ",
                Code(r.id),
                " ",
                bold(f"{r.model_name} v{r.model_version}"),
                f" by {r.requested_by}, {len(r.approvals())} approval(s), deadline ",
                When(r.deadline_at),
            )
        )
    return Reply(tuple(lines))


def history(queries: Queries, model: str | None, limit: int) -> Reply:
    requests = queries.search(RequestFilter(model=model, newest_first=True, limit=limit))
    scope = f" of {model}" if model else ""
    if not requests:
        return Reply.of(f"No requests{scope} yet.")
    lines: list[Line] = [(bold(f"The last {len(requests)} request(s){scope}"),)]
    for r in requests:
        line: list[Part] = [
            "• ",
            Code(r.id),
            f" {r.model_name} v{r.model_version}: ",
            bold(r.state.value),
        ]
        if r.decided_at:
            line += [f" by {r.decided_by or '-'}, ", When(r.decided_at)]
        if r.reason:
            line.append(f" — {clip(r.reason, REASON_SHOWN)}")
        lines.append(tuple(line))
    return Reply(tuple(lines))


def audit(queries: Queries, request_id: str) -> Reply:
    request = queries.get(request_id)
    records = queries.history([request])[request.id]
    title = f" ({request.model_name} v{request.model_version})"
    lines: list[Line] = [(bold("Audit trail of ", Code(request.id)), title)]
    for rec in records:
        detail = event_summary(rec)
        line: Line = (f"{rec.seq}. ", When(rec.at), " ", bold(rec.kind), f" by {rec.actor}")
        if detail:
            line += (f" — {clip(detail, DETAIL_SHOWN)}",)
        lines.append(line)
    lines.append((italic("Verify the whole chain with ", Code("approval-bot audit verify"), "."),))
    return Reply(tuple(lines))


def whoami(
    queries: Queries,
    who: Identity,
    where: str | None,
    vouched: frozenset[str] = frozenset(),
) -> Reply:
    person, groups = queries.whoami(who)
    kinds: IdentityKinds = queries.identities
    return Reply(texts.whoami(kinds.of(who.channel), who.value, person, groups | vouched, where))
