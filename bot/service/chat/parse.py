"""The chat commands, parsed once for every channel.

    pending                 requests waiting for a decision
    show ID                 one request: gates, quorum, votes
    approve ID [comment]    approve
    reject ID reason        reject, with the reason
    history [MODEL] [N]     the last N requests (of MODEL), default 10
    audit ID                the audit trail of one request
    whoami                  who the bot thinks you are, and your groups
    pause ID                pause a running canary (resume ID goes on)
    rollback ID             roll a running canary back
    promote-now ID          skip a canary's remaining steps
    help                    this text

A channel hands over the command's name and the rest of the text, and says how its people
type a command (``prefix``: ``/`` for one, ``/approvals `` for another) and which
commands it offers (``offered``); problems are worded with that prefix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

HISTORY_DEFAULT = 10
HISTORY_MAX = 50
READS = ("pending", "show", "history", "audit")
VOTES = ("approve", "reject")
ROLLOUT = ("pause", "resume", "rollback", "promote-now")  # a canary (chat/rollout.py)
EVERYTHING = (*READS, *VOTES, "whoami", *ROLLOUT, "help")
# (usage after the name, what it does), in the order help lists them
USAGE = {
    "pending": ("", "requests waiting for a decision"),
    "show": (" ID", "one request: gates, quorum, votes"),
    "approve": (" ID [comment]", "approve"),
    "reject": (" ID reason", "reject, with the reason"),
    "history": (" [MODEL] [N]", f"the last N requests (default {HISTORY_DEFAULT})"),
    "audit": (" ID", "the audit trail of one request"),
    "whoami": ("", "who the bot thinks you are, and your groups"),
    "pause": (" ID", "pause a running canary"),
    "resume": (" ID", "resume a paused canary"),
    "rollback": (" ID", "roll a running canary back"),
    "promote-now": (" ID", "skip a canary's remaining steps"),
    "help": ("", "this text"),
}


@dataclass(frozen=True, slots=True)
class ChatCommand:
    name: str  # one of EVERYTHING, or "usage"
    request_id: str | None = None
    text: str | None = None  # the comment of approve, the reason of reject
    model: str | None = None
    limit: int = HISTORY_DEFAULT
    problem: str | None = None  # why the text was not understood (usage)


def usage(problem: str) -> ChatCommand:
    return ChatCommand("usage", problem=problem)


def parse(
    name: str, rest: str, *, prefix: str = "/", offered: Collection[str] = EVERYTHING
) -> ChatCommand:
    """The command ``name`` with its arguments (``rest``); ``usage`` when not understood."""
    name = name.lower()
    if name == "promote_now":  # Telegram's commands have no hyphens
        name = "promote-now"
    args = rest.split()
    if name == "start":  # what a chat app sends first, by convention
        name = "help"
    if name not in offered:
        return usage(f"I don't know {prefix}{name[:50]}")
    if name in ("pending", "whoami", "help"):
        return usage(f"{prefix}{name} takes no arguments") if args else ChatCommand(name)
    if name in ("show", "audit", *ROLLOUT):
        if len(args) != 1:
            return usage(f"{prefix}{name} takes one request id: {prefix}{name} ID")
        return ChatCommand(name, request_id=args[0])
    if name == "history":
        return _history(args, prefix)
    if not args:
        return usage(
            f"{prefix}{name} needs a request id{_and_reason(name)}: {prefix}{name}{USAGE[name][0]}"
        )
    text = _after_first(rest)
    if name == "reject" and not text:
        return usage(f"a reason is required to reject: {prefix}reject {args[0]} your reason")
    return ChatCommand(name, request_id=args[0], text=text or None)


def _and_reason(name: str) -> str:
    return " and a reason" if name == "reject" else ""


def _after_first(rest: str) -> str:
    parts = rest.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _history(args: list[str], prefix: str) -> ChatCommand:
    if len(args) > 2:
        return usage(f"{prefix}history takes a model and a number: {prefix}history [MODEL] [N]")
    model: str | None = None
    limit = HISTORY_DEFAULT
    for i, arg in enumerate(args):
        if arg.isdigit() and i == len(args) - 1:
            limit = min(max(int(arg), 1), HISTORY_MAX)
        elif i == 0:
            model = arg
        else:
            return usage(f"{arg[:50]} is not a number")
    return ChatCommand("history", model=model, limit=limit)
