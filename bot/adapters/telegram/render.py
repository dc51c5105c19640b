"""Telegram messages for requests, in Telegram's HTML: the request message and its keyboard,
reminders, the reject prompt, and what a refused tap reads.

Pure functions from domain objects to text: no I/O, no rules. Everything that came from
outside (model names, people, comments, reasons, links) is escaped. The message always
shows the request's *current* state, so rendering it again is harmless.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.adapters import chat_text
from bot.adapters.chat_text import TITLES, clip, gate_line, quorum_line, vote_lines
from bot.adapters.telegram.ids import Button, callback_data
from bot.domain import errors
from bot.domain.model import ApprovalRequest, Person, Policy, State

TEXT_LIMIT = 4096  # a message's text, after entities are parsed
ALERT_LIMIT = 200  # answerCallbackQuery's text


def esc(text: object) -> str:
    """Escape text for Telegram's HTML (``<``, ``>``, ``&``; quotes are left as they are)."""
    return html.escape(str(text), quote=False)


def attr(text: str) -> str:
    """Escape an attribute value (an ``href``)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"


MARKUP = chat_text.Markup(
    esc=esc,
    bold=lambda t: f"<b>{t}</b>",
    italic=lambda t: f"<i>{t}</i>",
    code=lambda t: f"<code>{t}</code>",
    when=when,
)


def mention(person: Person) -> str:
    """A mention by Telegram user id (it notifies them); their name when they have none."""
    if person.telegram is not None:
        return f'<a href="tg://user?id={person.telegram}">{esc(person.name)}</a>'
    return esc(person.name)


def user_link(user_id: int, label: str) -> str:
    return f'<a href="tg://user?id={int(user_id)}">{esc(label)}</a>'


# -- the request message ------------------------------------------------------------


def link(name: str, url: str) -> str:
    """A link for http(s) URLs; anything else is shown as text, never as a link."""
    if urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{attr(url)}">{esc(name)}</a>'
    return f"{esc(name)}: {esc(url)}"


def message_text(
    request: ApprovalRequest, policy: Policy | None, *, problem: str | None = None
) -> str:
    """The request message: evidence, progress, and who decided once it is decided;
    ``problem`` is what keeps the decision from taking effect (``views.launch_problem``)."""
    head = [
        f"<b>{esc(TITLES[request.state])}: {esc(request.model_name)} "
        f"v{esc(request.model_version)}</b>",
        f"Request <code>{esc(request.id)}</code> · requested by {esc(request.requested_by)}",
        f"Deadline {when(request.deadline_at)} · state <b>{esc(request.state.value)}</b>",
    ]
    gates = [gate_line(g, MARKUP) for g in request.gates]
    links = [link(name, url) for name, url in sorted(request.links.items()) if url]
    runs = [
        f"{label} <code>{esc(value)}</code>"
        for label, value in (
            ("challenger run", request.challenger_run_id),
            ("data run", request.data_run_id),
            ("staging run", request.staging_run_id),
        )
        if value
    ]
    votes = vote_lines(request, MARKUP)
    tail: list[str] = []
    if request.is_pending:
        if request.failed_gates and policy is not None and not policy.allow_override_failed_gates:
            tail.append("⚠️ Gates failed and the policy does not allow approving over them.")
    else:
        tail.append(decision_text(request))
    if request.promotion_run_id:
        tail.append(
            f"Promotion run <code>{esc(request.promotion_run_id)}</code>: "
            f"{esc(request.state.value)}"
            + (f" — {esc(request.promotion_detail)}" if request.promotion_detail else "")
        )
    if problem:
        tail.append(f"⚠️ {esc(problem)}")
    return fit(
        head=head,
        gates=gates,
        middle=[" · ".join(links + runs)] if links or runs else [],
        quorum=f"<b>Quorum</b>  {quorum_line(request, policy, MARKUP)}",
        votes=votes,
        tail=tail,
    )


def fit(
    *,
    head: list[str],
    gates: list[str],
    middle: list[str],
    quorum: str,
    votes: list[str],
    tail: list[str],
    limit: int = TEXT_LIMIT,
) -> str:
    """Join the sections, dropping the oldest votes and then the last gates when too long.

    Whole lines are dropped (never cut inside a tag), so the HTML stays valid; the HTML
    length bounds the text Telegram counts.
    """
    gates, votes = list(gates), list(votes)
    dropped_votes = dropped_gates = 0

    def build() -> str:
        parts = ["\n".join(head)]
        if gates or dropped_gates:
            more = [f"… and {dropped_gates} more"] if dropped_gates else []
            parts.append("<b>Gates</b>\n" + "\n".join(gates + more))
        parts += middle
        parts.append(quorum)
        if votes or dropped_votes:
            more = [f"… {dropped_votes} earlier vote(s)"] if dropped_votes else []
            parts.append("<b>Votes</b>\n" + "\n".join(more + votes))
        parts += tail
        return "\n\n".join(p for p in parts if p)

    text = build()
    while len(text) > limit and (votes or gates):
        if votes:
            votes.pop(0)
            dropped_votes += 1
        else:
            gates.pop()
            dropped_gates += 1
        text = build()
    return text


def keyboard(request: ApprovalRequest, policy: Policy | None) -> InlineKeyboardMarkup | None:
    """Approve / Reject while the request is pending; none once it is decided."""
    if not request.is_pending:
        return None
    overridable = (
        bool(request.failed_gates) and policy is not None and policy.allow_override_failed_gates
    )
    # Telegram has no confirmation dialog: the button says what it does instead.
    label = "⚠️ Approve over failed gates" if overridable else "✅ Approve"
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    label, callback_data=callback_data(Button.APPROVE, request.id)
                ),
                InlineKeyboardButton(
                    "❌ Reject", callback_data=callback_data(Button.REJECT, request.id)
                ),
            ]
        ]
    )


def decision_text(request: ApprovalRequest) -> str:
    """Who decided, when and why; a system decision reads differently from a human one."""
    decision = request.decision or request.state
    at = when(request.decided_at)
    reason = (
        f"\n<blockquote>{esc(clip(request.reason, 1000))}</blockquote>" if request.reason else ""
    )
    if decision is State.EXPIRED:
        action = request.expiry_action.value if request.expiry_action else "none"
        return (
            f"<b>Expired</b> by the deadline (system decision), {at}; on expiry: "
            f"{esc(action)}{reason}"
        )
    if decision in (State.SUPERSEDED, State.CANCELLED):
        return (
            f"<b>{decision.value.capitalize()}</b> by {esc(request.decided_by or '-')}, "
            f"{at}{reason}"
        )
    override = " <i>(over failed gates)</i>" if request.override else ""
    who = ", ".join(esc(x) for x in (request.decided_by or "-").split(","))
    return f"<b>{decision.value.capitalize()}</b> by {who}, {at}{override}{reason}"


# -- replies to the message -------------------------------------------------------------


def reminder_text(
    request: ApprovalRequest,
    *,
    event: str,
    people: Sequence[Person],
    escalate_to: str | None = None,
) -> str:
    """A reply that mentions who is still needed (and, escalated, the escalation group)."""
    name = f"{esc(request.model_name)} v{esc(request.model_version)}"
    deadline = when(request.deadline_at)
    if event == "escalated":
        group = esc(escalate_to or "the escalation group")
        text = f"🚨 Escalation to {group}: {name} still has no decision, deadline {deadline}."
    else:
        text = f"⏰ Reminder: {name} is waiting for your vote, deadline {deadline}."
    mentions = list(dict.fromkeys(mention(p) for p in people))
    budget = TEXT_LIMIT - len(text) - 30  # a message holds 4096 characters
    shown: list[str] = []
    for m in mentions:
        if sum(len(x) + 1 for x in shown) + len(m) > budget:
            break
        shown.append(m)
    more = f" and {len(mentions) - len(shown)} more" if len(shown) < len(mentions) else ""
    return f"{text} {' '.join(shown) + more if shown else 'the approver groups'}"


def reject_prompt(request: ApprovalRequest, user_id: int, first_name: str) -> str:
    return (
        f"✍️ {user_link(user_id, first_name or 'You')}, why reject "
        f"{esc(request.model_name)} v{esc(request.model_version)} "
        f"(request <code>{esc(request.id)}</code>)? Reply to this message with the reason."
    )


def notice_text(text: str) -> str:
    return esc(clip(text, TEXT_LIMIT - 100))


# -- what the person who tapped or typed reads ------------------------------------------


def explain(exc: errors.DomainError, user_id: int | str) -> str:
    """Plain text (alerts have no formatting), one line."""
    if isinstance(exc, errors.AlreadyVoted | errors.AlreadyDecided):
        return f"ℹ️ {exc.message}."
    if isinstance(exc, errors.UnknownPerson):
        return (
            f"⛔ Your Telegram account ({user_id}) is not enrolled as an approver, so the "
            f"vote was not counted. Ask an admin to add telegram: {user_id} to the config."
        )
    if isinstance(exc, errors.Refused):
        return f"⛔ Your vote was not counted: {exc.message}."
    return f"⚠️ {exc.message}."


def alert(text: str) -> str:
    return clip(text, ALERT_LIMIT)
