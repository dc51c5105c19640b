"""Telegram's markup: the chat core's messages in Telegram's HTML, with the inline keyboard.

Pure functions from the core's rich text (``bot/service/chat``) to what the Bot API takes:
no I/O, no rules, no wording. ``TelegramMarkup.escape`` is the one place text is made safe
for Telegram's HTML. A message holds 4096 characters: the oldest votes, then the last gates,
give way first, whole lines at a time, so the HTML stays valid.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.adapters.telegram.ids import Button, callback_data
from bot.domain.model import ApprovalRequest, Person
from bot.service.chat.alerts import AlertButtons
from bot.service.chat.message import Buttons, RequestMessage
from bot.service.chat.rich import PLAIN, Markup, Mentions, Reply, joined
from bot.service.chat.rollout import RolloutButtons

# Telegram counts every length in UTF-16 code units (Bot API, MessageEntity), after the
# entities are parsed: an emoji outside the BMP is two.
TEXT_LIMIT = 4096  # a message's text, after entities are parsed
ALERT_LIMIT = 200  # answerCallbackQuery's text
_TAG = re.compile(r"<[^>]*>")
MENTIONS_BUDGET = TEXT_LIMIT - 400  # a reminder's mentions leave room for its words


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    html: str
    keyboard: InlineKeyboardMarkup | None = None
    plain: str = ""  # without markup (an alert)


class TelegramMarkup(Markup):
    BOLD, ITALIC, CODE = "<b>{}</b>", "<i>{}</i>", "<code>{}</code>"

    def escape(self, text: str) -> str:
        """``<``, ``>`` and ``&`` (quotes are left as they are outside attributes)."""
        return html.escape(str(text), quote=False)

    def command(self, text: str) -> str:
        return self.escape(text)  # plain: Telegram makes /commands tappable

    def link(self, label: str, url: str) -> str:
        href = html.escape(url, quote=False).replace('"', "&quot;")
        return f'<a href="{href}">{self.escape(label)}</a>'

    def mention(self, person: Person) -> str | None:
        """A mention by Telegram user id (it notifies them)."""
        user_id = person.identity("telegram")
        return user_link(int(user_id), person.name) if user_id else None

    def mentions(self, m: Mentions) -> str:
        """As many as fit in a message (``MENTIONS_BUDGET``), then how many more."""
        found = list(dict.fromkeys(self.mention(p) or self.escape(p.name) for p in m.people))
        shown: list[str] = []
        for mention in found:
            if sum(len(x) + 1 for x in shown) + len(mention) > MENTIONS_BUDGET:
                break
            shown.append(mention)
        if not shown:
            return self.escape(m.fallback)
        more = f" and {len(found) - len(shown)} more" if len(shown) < len(found) else ""
        return " ".join(shown) + more

    def reply(self, reply: Reply) -> TelegramMessage:
        if reply.message is not None:
            return self.message(reply.message, buttons=False)
        text = lines_fit([self.render(line) for line in reply.lines])
        return TelegramMessage(text, plain=PLAIN.lines(reply.lines))

    def alert(self, reply: Reply, buttons: AlertButtons | None) -> TelegramMessage:
        shown = self.reply(reply)
        if buttons is None:
            return shown
        return TelegramMessage(shown.html, alert_keyboard(buttons), shown.plain)

    def message(self, message: RequestMessage, *, buttons: bool = True) -> TelegramMessage:
        head = [self.BOLD.format(self.escape(message.title))]
        values = [f"{label} {self.render(value)}" for label, value in message.fields]
        head += [" · ".join(values[i : i + 2]) for i in range(0, len(values), 2)]
        tail = [self.render(note) for note in message.notes]
        if message.decision is not None:
            reason = message.reason
            quote = f"\n<blockquote>{self.escape(reason)}</blockquote>" if reason else ""
            tail.append(self.render(message.decision) + quote)
        tail += [self.render(x) for x in (message.promotion, message.problem) if x is not None]
        tail += [self.render(line) for line in message.rollout]
        text = fit(
            head=head,
            gates=[self.render(g) for g in message.gates],
            middle=[self.render(joined(message.links, " · "))] if message.links else [],
            quorum=f"<b>Quorum</b>  {self.render(message.quorum)}",
            votes=[self.render(v) for v in message.votes],
            tail=tail,
        )
        markup = keyboard(message.buttons) if buttons and message.buttons else None
        if buttons and message.rollout_buttons is not None:
            markup = rollout_keyboard(message.rollout_buttons)
        return TelegramMessage(text, markup, message.notification)

    def digest(self, rendered: TelegramMessage) -> str:
        """What an edit changes: the text and the keyboard (editMessageText answers "message
        is not modified" when neither does)."""
        keyboard = rendered.keyboard.to_json() if rendered.keyboard is not None else ""
        return hashlib.sha256(f"{rendered.html}\0{keyboard}".encode()).hexdigest()


def user_link(user_id: int, label: str) -> str:
    return f'<a href="tg://user?id={int(user_id)}">{html.escape(label, quote=False)}</a>'


def units(text: str) -> int:
    """``text``'s length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def clip_units(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-16 code units, "…" ending a cut."""
    if units(text) <= limit:
        return text
    kept, used = [], 1  # room for the "…"
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        kept.append(ch)
    return "".join(kept) + "…"


def visible(rendered: str) -> str:
    """What Telegram shows of ``rendered`` (and counts): its text without the tags (an
    ``href`` is not counted), the entities parsed."""
    return html.unescape(_TAG.sub("", rendered))


def plain_fit(rendered: str, limit: int = TEXT_LIMIT) -> str:
    """The last resort for a text too long with nothing left to drop (a long problem and a
    long reason): its plain text, the middle cut out so that the title and the decision at
    the end stay, escaped again (the formatting is lost, not the message)."""
    plain = visible(rendered)
    tail = clip_units(plain[::-1], limit // 4)[::-1].lstrip("…")
    head = clip_units(plain, limit - units(tail) - 2)
    return html.escape(f"{head}\n{tail}", quote=False)


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
    while units(visible(text)) > limit and (votes or gates):
        if votes:
            votes.pop(0)
            dropped_votes += 1
        else:
            gates.pop()
            dropped_gates += 1
        text = build()
    return text if units(visible(text)) <= limit else plain_fit(text, limit)


def lines_fit(lines: list[str], limit: int = TEXT_LIMIT) -> str:
    """Join whole lines, dropping the last ones (with a note) past Telegram's limit."""
    kept = list(lines)
    dropped = 0
    while units(visible("\n".join(kept))) > limit - 40 and len(kept) > 1:
        kept.pop()
        dropped += 1
    text = "\n".join(kept + ([f"… and {dropped} more"] if dropped else []))
    return text if units(visible(text)) <= limit else plain_fit(text, limit)


def keyboard(buttons: Buttons) -> InlineKeyboardMarkup:
    """Approve / Reject. Telegram has no confirmation dialog: when approving would override
    failed gates, the button says so instead."""
    label = "⚠️ Approve over failed gates" if buttons.failed else f"✅ {buttons.approve_label}"
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    label, callback_data=callback_data(Button.APPROVE, buttons.request_id)
                ),
                InlineKeyboardButton(
                    "❌ Reject", callback_data=callback_data(Button.REJECT, buttons.request_id)
                ),
            ]
        ]
    )


def alert(text: str) -> str:
    return clip_units(text, ALERT_LIMIT)


# -- the reject prompt: a reply to it is the reason ----------------------------------------

NOT_YOUR_PROMPT = (
    "This prompt is for the person who tapped Reject; your reply does not count. "
    "Tap Reject yourself to reject."
)
NOT_A_PERSON = (
    "⚠️ You are writing anonymously or as a channel, so Telegram does not say who you are: "
    "write as yourself (turn off “Remain anonymous”) to vote or use commands."
)


def reject_in_private(request_id: str, bot_username: str | None) -> str:
    """The Reject tap in a channel, where nobody can reply to a prompt (an alert: plain)."""
    where = f"@{bot_username}" if bot_username else "the bot"
    return alert(
        f"A channel cannot take a reply with your reason: send /reject {request_id} "
        f"<reason> to {where} in a private chat."
    )


REASON_REQUIRED = "⚠️ A reason is required to reject: reply to the prompt with it, as text."


def reject_prompt(request: ApprovalRequest, user_id: int, first_name: str) -> str:
    esc = TelegramMarkup().escape
    return (
        f"✍️ {user_link(user_id, first_name or 'You')}, why reject "
        f"{esc(request.model_name)} v{esc(request.model_version)} "
        f"(request <code>{esc(request.id)}</code>)? Reply to this message with the reason."
    )


def alert_keyboard(buttons: AlertButtons) -> InlineKeyboardMarkup:
    """Deploy the champion, Move the alias back on a divergence's alert (docs/watch.md)."""
    did = buttons.divergence_id
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label, callback_data=callback_data(Button[a.upper()], did))
                for a, label in buttons.labelled()
            ]
        ]
    )


def rollout_keyboard(buttons: RolloutButtons) -> InlineKeyboardMarkup:
    """Pause or Resume, Roll back, Promote now on a running canary."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    label, callback_data=callback_data(Button[action.name], buttons.request_id)
                )
                for action, label in buttons.labelled()
            ]
        ]
    )
