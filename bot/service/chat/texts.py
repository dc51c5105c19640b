"""What the chat core says besides the request message: reminders, refusals, the outcome
of a vote, and the short answers when something fails. Worded once for every channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import errors
from bot.domain.model import ApprovalRequest, Group, Person, Policy, VoteKind
from bot.service.chat.rich import Code, Line, Mentions, When, bold, clip
from bot.service.identity import IdentityKind

NOTICE_SHOWN = 3900  # characters of a notice (a dead-lettered effect's report)
UNAVAILABLE = "⚠️ The approval database is unavailable; nothing was recorded. Try again shortly."
COUNTING = "⏳ Counting your vote…"


def reminder(
    request: ApprovalRequest,
    *,
    escalated_to: str | None,
    people: Sequence[Person],
    groups: Sequence[Group] = (),
) -> Line:
    """A reply that mentions who is still needed (escalated: the escalation group)."""
    name = f"{request.model_name} v{request.model_version}"
    deadline = When(request.deadline_at)
    who = Mentions(tuple(people), tuple(groups))
    if escalated_to is not None:
        return (
            f"🚨 Escalation to {escalated_to}: {name} still has no decision, deadline ",
            deadline,
            ". ",
            who,
        )
    return (f"⏰ Reminder: {name} is waiting for your vote, deadline ", deadline, ". ", who)


def veto_window(request: ApprovalRequest, policy: Policy | None) -> Line | None:
    """What a pending request's veto window means (bot/domain/window.py): when it promotes,
    or, under a policy with a window, why this one has none; None otherwise."""
    if not request.is_pending:
        return None
    if request.in_window:
        return (
            "⏱️ Promotes at ",
            When(request.auto_approve_at),
            " unless rejected: the veto window of policy ",
            Code(request.auto_approve_policy or "-"),
            ". Approve now counts as a vote toward the quorum.",
        )
    if policy is not None and policy.auto_approve_after is not None and request.failed_gates:
        return ("⏱️ No veto window: a gate failed, so this waits for approvers.",)
    return None


def notice(text: str) -> Line:
    return (clip(text, NOTICE_SHOWN),)


def explain(exc: errors.DomainError, kind: IdentityKind, user_id: str) -> Line:
    """Why a vote was not counted, as the person who tried reads it."""
    if isinstance(exc, errors.AlreadyVoted | errors.AlreadyDecided):
        return (f"ℹ️ {exc.message}.",)
    if isinstance(exc, errors.UnknownPerson):
        return (
            f"⛔ Your {kind.account} (",
            Code(user_id),
            ") is not enrolled as an approver, so the vote was not counted. Ask an admin to add ",
            Code(f"{kind.name}: {user_id}"),
            " to the approval-bot config.",
        )
    if isinstance(exc, errors.Refused):
        return (f"⛔ Your vote was not counted: {exc.message}.",)
    return (f"⚠️ {exc.message}.",)


def stranger(kind: IdentityKind, user_id: str, where: str) -> errors.Stranger:
    """Why someone of another workspace (``where``) is not heard, whoever they are there."""
    return errors.Stranger(
        f"your {kind.account} ({user_id}) belongs to another workspace ({where}); only "
        "people of the workspace the bot is installed in can vote or ask it anything"
    )


def not_answered(exc: errors.DomainError) -> Line:
    """Why a command was not answered."""
    return (f"⛔ Not answered: {exc.message}.",)


def counted(request: ApprovalRequest, vote: VoteKind, decided: bool) -> Line:
    """A vote that was counted, for the person who cast it."""
    name = f"{request.model_name} v{request.model_version}"
    if vote is VoteKind.REJECT:
        return (f"❌ You rejected {name}.",)
    now = f" It is now {request.state.value}." if decided else ""
    return (f"✅ Your approval of {name} was counted.{now}",)


def failed(ref: str) -> Line:
    return ("⚠️ Something went wrong; nothing was recorded (ref ", Code(ref), "). Try again.")


def not_pending(request: ApprovalRequest) -> Line:
    return (f"ℹ️ Request {request.id} is already {request.state.value}; nothing to reject.",)


def whoami(
    kind: IdentityKind,
    user_id: str,
    person: Person | None,
    groups: frozenset[str],
    where: str | None = None,
) -> tuple[Line, ...]:
    """Who the bot thinks the person is (and, in a chat, that chat's id, to configure it)."""
    if person is None:
        lines: list[Line] = [
            (
                f"Your {kind.label} is ",
                Code(user_id),
                " and it is not enrolled: ask an admin to add ",
                Code(f"{kind.name}: {user_id}"),
                " to a person in the approval-bot config.",
            )
        ]
    else:
        listed = ", ".join(sorted(groups)) or "none"
        lines = [
            (
                "You are ",
                bold(person.name),
                f" ({kind.label} ",
                Code(user_id),
                f"); groups: {listed}.",
            )
        ]
    if where is not None:
        lines.append(("This chat's id is ", Code(where), "."))
    return tuple(lines)
