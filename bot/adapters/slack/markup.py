"""Slack's markup: the chat core's messages as Block Kit and mrkdwn.

Pure functions from the core's rich text (``bot/service/chat``) to Slack JSON: no I/O, no
rules, no wording (the core words everything). ``SlackMarkup.escape`` is the one place
text is made safe for mrkdwn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.adapters.slack.ids import Action, Block, View
from bot.domain.model import Group, Person
from bot.service.chat.message import Buttons, RequestMessage
from bot.service.chat.rich import PLAIN, Markup, Reply, clip, joined

Blocks = list[dict[str, Any]]

TEXT_LIMIT = 2900  # a section's text may hold 3000 characters
SOURCE = "slack_usergroup"  # the group source Slack vouches for (``SPEC.group_source``)


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What ``chat.postMessage`` / ``chat.update`` / ``respond`` take."""

    text: str  # the notification, and the fallback for clients without blocks
    blocks: Blocks = field(default_factory=list)
    plain: str = ""  # without markup (a modal's error)


class SlackMarkup(Markup):
    BOLD, ITALIC, CODE = "*{}*", "_{}_", "`{}`"

    def escape(self, text: str) -> str:
        """Slack's three control characters (mrkdwn and ``text`` alike)."""
        return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def link(self, label: str, url: str) -> str:
        return f"<{self.escape(url)}|{self.escape(label)}>"

    def when(self, at: datetime | None) -> str:
        """A date Slack shows in the reader's time zone, with a UTC fallback."""
        if at is None:
            return "-"
        fallback = at.strftime("%Y-%m-%d %H:%M UTC")
        return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"

    def mention(self, person: Person) -> str | None:
        slack_id = person.identity("slack")
        return f"<@{slack_id}>" if slack_id else None

    def group_mention(self, group: Group) -> str | None:
        usergroup = group.source(SOURCE)
        return f"<!subteam^{usergroup}>" if usergroup else None

    # -- replies and messages -----------------------------------------------------------

    def reply(self, reply: Reply) -> SlackMessage:
        if reply.message is not None:
            return self.message(reply.message)
        text = clip(self.lines(reply.lines), TEXT_LIMIT)
        return SlackMessage(text, [section(text)], PLAIN.lines(reply.lines))

    def message(self, message: RequestMessage) -> SlackMessage:
        """The request message: evidence, progress, buttons while it is pending."""
        fields = [mrkdwn(f"*{label}*\n{self.render(value)}") for label, value in message.fields]
        blocks: Blocks = [
            {"type": "header", "text": plain(message.title)},
            {"type": "section", "fields": fields},
        ]
        if message.gates:
            blocks.append(section("*Gates*\n" + self.lines(message.gates)))
        if message.links:
            blocks.append(context(self.render(joined(message.links, " · "))))
        blocks.append(section(f"*Quorum*  {self.render(message.quorum)}"))
        if message.votes:
            blocks.append(section("*Votes*\n" + self.lines(message.votes)))
        if message.buttons is not None:
            blocks.append(self.buttons(message.buttons))
        blocks += [context(self.render(note)) for note in message.notes]
        if message.decision is not None:
            quote = "".join(f"\n>{self.escape(x)}" for x in (message.reason or "").splitlines())
            blocks.append(section(self.render(message.decision) + quote))
        if message.promotion is not None:
            blocks.append(context(self.render(message.promotion)))
        if message.problem is not None:
            blocks.append(section(self.render(message.problem)))
        return SlackMessage(self.escape(message.notification), blocks)

    def buttons(self, buttons: Buttons) -> dict[str, Any]:
        approve: dict[str, Any] = {
            "type": "button",
            "action_id": Action.APPROVE.value,
            "text": plain(buttons.approve_label),
            "style": "primary",
            "value": buttons.request_id,
        }
        if buttons.failed:
            names = self.escape(", ".join(buttons.failed))
            approve["confirm"] = {
                "title": plain("Approve over failed gates?", 100),
                "text": mrkdwn(
                    f"These gates failed: *{names}*. Your approval will be recorded "
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
            "value": buttons.request_id,
        }
        return {"type": "actions", "block_id": Block.ACTIONS.value, "elements": [approve, reject]}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:10]}


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


# -- the reject modal ---------------------------------------------------------------


def reject_modal(request_id: str, *, channel: str | None, ts: str | None) -> dict[str, Any]:
    meta = json.dumps({"id": request_id, "channel": channel, "ts": ts}, separators=(",", ":"))
    escape = SlackMarkup().escape
    return {
        "type": "modal",
        "callback_id": View.REJECT.value,
        "private_metadata": meta,
        "title": plain("Reject request", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"Reject request `{escape(request_id)}`? The challenger will not be promoted."),
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
