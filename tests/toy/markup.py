"""The toy's markup: square brackets are its only markup, so they are what it escapes."""

from __future__ import annotations

from typing import Any

from bot.service.chat.alerts import AlertButtons
from bot.service.chat.message import RequestMessage
from bot.service.chat.rich import Markup, Reply, joined


class ToyMarkup(Markup):
    def escape(self, text: str) -> str:
        return text.replace("[", "(").replace("]", ")")

    BOLD = "[b]{}[/b]"

    def message(self, message: RequestMessage) -> dict[str, Any]:
        lines = [self.escape(message.title), *(self.render(g) for g in message.gates)]
        lines += [self.render(message.quorum), *(self.render(v) for v in message.votes)]
        if message.decision is not None:
            lines.append(self.render(message.decision))
        buttons = ["approve", "reject"] if message.buttons is not None else []
        return {"text": "\n".join(lines), "buttons": buttons}

    def reply(self, reply: Reply) -> dict[str, Any]:
        return {"text": self.render(joined(reply.lines, "\n"))}

    def alert(self, reply: Reply, buttons: AlertButtons | None) -> dict[str, Any]:
        shown = buttons.labelled() if buttons is not None else ()
        return {**self.reply(reply), "buttons": [{"action": a, "label": b} for a, b in shown]}
