"""Block Kit for requests: the message, its reminders, and the reject modal.

Pure functions from domain objects to Slack JSON: no I/O, no rules. The message
always shows the request's *current* state, so rendering it again is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.adapters import chat_text
from bot.adapters.chat_text import TITLES, gate_line, quorum_line, vote_lines
from bot.adapters.slack.ids import Action, Block, View
from bot.domain.model import ApprovalRequest, Person, Policy, State

Blocks = list[dict[str, Any]]

TEXT_LIMIT = 2900  # a section's text may hold 3000 characters


def esc(text: object) -> str:
    """Escape user-provided text for mrkdwn (Slack's three control characters)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return chat_text.clip(text, limit)


def when(at: datetime | None) -> str:
    """A date Slack shows in the reader's time zone, with a UTC fallback."""
    if at is None:
        return "-"
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


MARKUP = chat_text.Markup(
    esc=esc, bold=lambda t: f"*{t}*", italic=lambda t: f"_{t}_", code=lambda t: f"`{t}`", when=when
)


def mention(slack_id: str | None, name: str) -> str:
    return f"<@{slack_id}>" if slack_id else esc(name)


def usergroup_mention(usergroup: str) -> str:
    return f"<!subteam^{usergroup}>"


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text)}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:10]}


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


# -- the request message --------------------------------------------------------


def message_text(request: ApprovalRequest) -> str:
    """The notification text (and the fallback for clients without blocks)."""
    title = TITLES[request.state].split(" ", 1)[1]
    return f"{title}: {request.model_name} v{request.model_version} (request {request.id})"


def request_blocks(
    request: ApprovalRequest,
    policy: Policy | None,
    *,
    buttons: bool = True,
    problem: str | None = None,
) -> Blocks:
    """The request message: evidence, progress, and buttons while it is pending; ``problem``
    is what keeps the decision from taking effect (``views.launch_problem``)."""
    blocks: Blocks = [
        {
            "type": "header",
            "text": plain(
                f"{TITLES[request.state]}: {request.model_name} v{request.model_version}"
            ),
        },
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*Request*\n`{esc(request.id)}`"),
                mrkdwn(f"*Requested by*\n{esc(request.requested_by)}"),
                mrkdwn(f"*Deadline*\n{when(request.deadline_at)}"),
                mrkdwn(f"*State*\n{esc(request.state.value)}"),
            ],
        },
    ]
    if request.gates:
        blocks.append(section("*Gates*\n" + "\n".join(gate_line(g, MARKUP) for g in request.gates)))
    links = [f"<{esc(url)}|{esc(name)}>" for name, url in sorted(request.links.items()) if url]
    runs = [
        f"{label} `{esc(value)}`"
        for label, value in (
            ("challenger run", request.challenger_run_id),
            ("data run", request.data_run_id),
            ("staging run", request.staging_run_id),
        )
        if value
    ]
    if links or runs:
        blocks.append(context(" · ".join(links), " · ".join(runs)))
    blocks.append(section(f"*Quorum*  {quorum_line(request, policy, MARKUP)}"))
    votes = vote_lines(request, MARKUP)
    if votes:
        blocks.append(section("*Votes*\n" + "\n".join(votes)))
    if request.is_pending:
        if buttons:
            blocks.append(action_buttons(request, policy))
        if request.failed_gates and policy is not None and not policy.allow_override_failed_gates:
            blocks.append(
                context("⚠️ Gates failed and the policy does not allow approving over them.")
            )
    else:
        blocks.append(section(decision_text(request)))
    if request.promotion_run_id:
        blocks.append(
            context(
                f"Promotion run `{esc(request.promotion_run_id)}`: {request.state.value}"
                + (
                    f" — {esc(clip(request.promotion_detail, 500))}"
                    if request.promotion_detail
                    else ""
                )
            )
        )
    if problem:
        blocks.append(section(f"⚠️ {esc(problem)}"))
    return blocks


def action_buttons(request: ApprovalRequest, policy: Policy | None) -> dict[str, Any]:
    approve: dict[str, Any] = {
        "type": "button",
        "action_id": Action.APPROVE.value,
        "text": plain("Approve"),
        "style": "primary",
        "value": request.id,
    }
    if request.failed_gates and policy is not None and policy.allow_override_failed_gates:
        names = ", ".join(g.name for g in request.failed_gates)
        approve["confirm"] = {
            "title": plain("Approve over failed gates?", 100),
            "text": mrkdwn(
                f"These gates failed: *{esc(names)}*. Your approval will be recorded "
                "as an override in the audit log."
            ),
            "confirm": plain("Approve anyway", 30),
            "deny": plain("Cancel", 30),
            "style": "danger",
        }
    reject = {
        "type": "button",
        "action_id": Action.REJECT.value,
        "text": plain("Reject"),
        "style": "danger",
        "value": request.id,
    }
    return {"type": "actions", "block_id": Block.ACTIONS.value, "elements": [approve, reject]}


def decision_text(request: ApprovalRequest) -> str:
    """Who decided, when and why; a system decision reads differently from a human one."""
    decision = request.decision or request.state
    at = when(request.decided_at)
    reason = f"\n>{esc(clip(request.reason, 1000))}" if request.reason else ""
    if decision is State.EXPIRED:
        action = request.expiry_action.value if request.expiry_action else "none"
        return f"*Expired* by the deadline (system decision), {at}; on expiry: {action}{reason}"
    if decision in (State.SUPERSEDED, State.CANCELLED):
        return f"*{decision.value.capitalize()}* by {esc(request.decided_by or '-')}, {at}{reason}"
    override = " _(over failed gates)_" if request.override else ""
    who = ", ".join(esc(x) for x in (request.decided_by or "-").split(","))
    return f"*{decision.value.capitalize()}* by {who}, {at}{override}{reason}"


# -- thread replies ---------------------------------------------------------------


def reminder_text(
    request: ApprovalRequest,
    *,
    event: str,
    people: Sequence[Person],
    usergroups: Iterable[str] = (),
    escalate_to: str | None = None,
) -> str:
    """A thread reply that mentions who is still needed (and the escalation group)."""
    mentions = [mention(p.slack, p.name) for p in people]
    mentions += [usergroup_mention(u) for u in usergroups]
    who = " ".join(dict.fromkeys(mentions)) or "the approver groups"
    deadline = when(request.deadline_at)
    if event == "escalated":
        group = esc(escalate_to or "the escalation group")
        return (
            f"🚨 Escalation to {group}: {request.model_name} v{request.model_version} still "
            f"has no decision, deadline {deadline}. {who}"
        )
    return (
        f"⏰ Reminder: {request.model_name} v{request.model_version} is waiting for your "
        f"vote, deadline {deadline}. {who}"
    )


# -- the reject modal ---------------------------------------------------------------


def reject_modal(request_id: str, *, channel: str | None, ts: str | None) -> dict[str, Any]:
    meta = json.dumps({"id": request_id, "channel": channel, "ts": ts}, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": View.REJECT.value,
        "private_metadata": meta,
        "title": plain("Reject request", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"Reject request `{esc(request_id)}`? The challenger will not be promoted."),
            {
                "type": "input",
                "block_id": Block.REASON.value,
                "label": plain("Reason"),
                "hint": plain("Recorded in the audit log and with the decision in MLflow.", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Block.REASON_INPUT.value,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def modal_metadata(raw: str) -> dict[str, Any]:
    try:
        meta = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}
