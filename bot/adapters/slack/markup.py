"""Slack's markup: the chat core's messages as Block Kit and mrkdwn.

Pure functions from the core's rich text (``bot/service/chat``) to Slack JSON: no I/O, no
rules, no wording (the core words everything). ``SlackMarkup.escape`` is the one place
text is made safe for mrkdwn; ``plain_text`` objects take text as it is.

Every field is kept within Block Kit's limits, taken from the Slack SDK's models (a
section's text 3,000 characters, a header's 150, a confirm dialog's text 300, ...), so
that no request within the API's own limits makes a message Slack refuses: long lists
show what fits and "… +N more", a cut never splits an entity or a ``<…>`` link.
``tests/adapters/slack/block_kit.py`` is how the strict fake Slack checks it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models import views
from slack_sdk.models.blocks import (
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    SectionBlock,
)

from bot.adapters.slack.ids import Action, Block, View
from bot.domain.model import Group, Person
from bot.service.chat.alerts import AlertButtons
from bot.service.chat.message import Buttons, RequestMessage
from bot.service.chat.rich import PLAIN, Markup, Reply
from bot.service.chat.rollout import RolloutButtons

Blocks = list[dict[str, Any]]

TEXT_LIMIT = SectionBlock.text_max_length  # 3000: a section's text, any text object's
# A section field's text (docs.slack.dev/reference/block-kit/blocks/section-block).
FIELD_LIMIT = 2000
HEADER_LIMIT = HeaderBlock.text_max_length  # 150
BUTTON_LIMIT = ButtonElement.text_max_length  # 75
CONTEXT_ELEMENTS = ContextBlock.elements_max_length  # 10
SOURCE = "slack_usergroup"  # the group source Slack vouches for (``SPEC.group_source``)
# The end of a cut: an entity (&amp;) or a <…> (link, mention, date) left open.
_CUT_ENTITY = re.compile(r"&[#\w]*$")


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

    def clip(self, text: str, limit: int) -> str:
        """Cut where nothing breaks: not inside an entity, nor inside a ``<…>``."""
        if len(text) <= limit:
            return text
        cut = _CUT_ENTITY.sub("", text[: limit - 1])
        opened = cut.rfind("<")
        if opened > cut.rfind(">"):
            cut = cut[:opened]
        return cut + "…"

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
        text = self.clip(self.lines(reply.lines), TEXT_LIMIT)
        return SlackMessage(text, [self.section(text)], PLAIN.lines(reply.lines))

    def alert(self, reply: Reply, buttons: AlertButtons | None) -> SlackMessage:
        shown = self.reply(reply)
        if buttons is None:
            return shown
        return SlackMessage(shown.text, [*shown.blocks, alert_actions(buttons)], shown.plain)

    def message(self, message: RequestMessage) -> SlackMessage:
        """The request message: evidence, progress, buttons while it is pending."""
        fields = [
            self.mrkdwn(f"*{label}*\n{self.render(value)}", FIELD_LIMIT)
            for label, value in message.fields
        ]
        blocks: Blocks = [
            {"type": "header", "text": plain(message.title, HEADER_LIMIT)},
            {"type": "section", "fields": fields},
        ]
        if message.gates:
            blocks.append(self.listed("*Gates*\n", [self.render(g) for g in message.gates]))
        if message.links:
            links = self.fit([self.render(link) for link in message.links], TEXT_LIMIT, " · ")
            blocks.append(self.context(links))
        blocks.append(self.section(f"*Quorum*  {self.render(message.quorum)}"))
        if message.votes:
            blocks.append(self.listed("*Votes*\n", [self.render(v) for v in message.votes]))
        if message.buttons is not None:
            blocks.append(self.buttons(message.buttons))
        blocks += [self.context(self.render(note)) for note in message.notes]
        if message.decision is not None:
            quote = "".join(f"\n>{self.escape(x)}" for x in (message.reason or "").splitlines())
            blocks.append(self.section(self.render(message.decision) + quote))
        if message.promotion is not None:
            blocks.append(self.context(self.render(message.promotion)))
        if message.problem is not None:
            blocks.append(self.section(self.render(message.problem)))
        if message.rollout:
            blocks.append(self.listed("", [self.render(line) for line in message.rollout]))
        if message.rollout_buttons is not None:
            blocks.append(rollout_actions(message.rollout_buttons))
        return SlackMessage(self.escape(message.notification), blocks)

    def buttons(self, buttons: Buttons) -> dict[str, Any]:
        approve: dict[str, Any] = {
            "type": "button",
            "action_id": Action.APPROVE.value,
            "text": plain(buttons.approve_label, BUTTON_LIMIT),
            "style": "primary",
            "value": buttons.request_id,
        }
        if buttons.failed:
            approve["confirm"] = override_confirm(buttons.failed)
        reject = {
            "type": "button",
            "action_id": Action.REJECT.value,
            "text": plain("Reject", BUTTON_LIMIT),
            "style": "danger",
            "value": buttons.request_id,
        }
        return {"type": "actions", "block_id": Block.ACTIONS.value, "elements": [approve, reject]}

    # -- blocks -------------------------------------------------------------------------

    def mrkdwn(self, text: str, limit: int = TEXT_LIMIT) -> dict[str, Any]:
        """Rendered mrkdwn, ``verbatim``: Slack parses only what the markup wrote (a bare
        ``@here`` in a model's name stays text; ``<@U…>`` mentions still notify)."""
        return {"type": "mrkdwn", "text": self.clip(text, limit), "verbatim": True}

    def section(self, text: str) -> dict[str, Any]:
        return {"type": "section", "text": self.mrkdwn(text)}

    def listed(self, head: str, lines: list[str]) -> dict[str, Any]:
        """A section of lines under ``head``: those that fit, then how many more."""
        return self.section(head + self.fit(lines, TEXT_LIMIT - len(head)))

    def context(self, *texts: str) -> dict[str, Any]:
        return {
            "type": "context",
            "elements": [self.mrkdwn(t) for t in texts if t][:CONTEXT_ELEMENTS],
        }


CONFIRM = (
    "These gates failed: ",
    ". Your approval will be recorded as an override in the audit log.",
)


def override_confirm(failed: tuple[str, ...]) -> dict[str, Any]:
    """The Approve button's confirmation when gates failed: plain_text (the only kind a
    confirm dialog takes), its text within 300 characters however many gates failed."""
    head, tail = CONFIRM
    names = PLAIN.fit(list(failed), ConfirmObject.text_max_length - len(head) - len(tail), ", ")
    return {
        "title": plain("Approve over failed gates?", ConfirmObject.title_max_length),
        "text": plain(head + names + tail, ConfirmObject.text_max_length),
        "confirm": plain("Approve anyway", ConfirmObject.confirm_max_length),
        "deny": plain("Cancel", ConfirmObject.deny_max_length),
        "style": "danger",
    }


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: the text as it is (Slack parses nothing in it), within ``limit``."""
    return {"type": "plain_text", "text": PLAIN.clip(text, limit), "emoji": True}


# -- the reject modal ---------------------------------------------------------------


def reject_modal(request_id: str, *, channel: str | None, ts: str | None) -> dict[str, Any]:
    meta = json.dumps({"id": request_id, "channel": channel, "ts": ts}, separators=(",", ":"))
    markup = SlackMarkup()
    escape = markup.escape
    return {
        "type": "modal",
        "callback_id": View.REJECT.value,
        "private_metadata": meta,
        "title": plain("Reject request", views.View.title_max_length),
        "submit": plain("Reject", views.View.submit_max_length),
        "close": plain("Cancel", views.View.close_max_length),
        "blocks": [
            markup.section(
                f"Reject request `{escape(request_id)}`? The challenger will not be promoted."
            ),
            {
                "type": "input",
                "block_id": Block.REASON.value,
                "label": plain("Reason", InputBlock.label_max_length),
                "hint": plain(
                    "Recorded in the audit log and with the decision in MLflow.",
                    InputBlock.hint_max_length,
                ),
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


def rollout_actions(buttons: RolloutButtons) -> dict[str, Any]:
    """Pause or Resume, Roll back (confirmed first), Promote now; the value is the request."""
    elements = []
    for action, label in buttons.labelled():
        element: dict[str, Any] = {
            "type": "button",
            "action_id": Action[action.name].value,
            "text": plain(label, BUTTON_LIMIT),
            "value": buttons.request_id,
        }
        if action.name == "ROLLBACK":
            element["style"] = "danger"
            element["confirm"] = {
                "title": plain("Roll the canary back?", 100),
                "text": plain("All traffic goes back to the previous revision.", 300),
                "confirm": plain("Roll back", 30),
                "deny": plain("Cancel", 30),
            }
        elements.append(element)
    return {"type": "actions", "block_id": Block.ROLLOUT.value, "elements": elements}


def alert_actions(buttons: AlertButtons) -> dict[str, Any]:
    """Deploy the champion, Move the alias back (each confirmed first); the value is the
    divergence (docs/watch.md)."""
    confirm = {
        "deploy_champion": (
            "Deploy the champion?",
            "A promotion run serves the version @champion names.",
            "Deploy",
        ),
        "alias_back": (
            "Move @champion back?",
            "@champion goes back to the version serving serves.",
            "Move it back",
        ),
    }
    elements = []
    for action, label in buttons.labelled():
        title, text, yes = confirm[action]
        elements.append(
            {
                "type": "button",
                "action_id": Action[action.upper()].value,
                "text": plain(label, BUTTON_LIMIT),
                "value": buttons.divergence_id,
                "confirm": {
                    "title": plain(title, 100),
                    "text": plain(text, 300),
                    "confirm": plain(yes, 30),
                    "deny": plain("Cancel", 30),
                },
            }
        )
    return {"type": "actions", "block_id": Block.WATCH.value, "elements": elements}
