"""Rich text without markup: what the chat core says, for each channel's markup to render.

The core words every message as ``Line``s of parts: plain strings (text from anywhere,
never markup) and a few styles (bold, italic, code, links, times, mentions). A channel's
``Markup`` renders them: ``escape`` is the one place where text becomes safe in that
channel's markup (mrkdwn, HTML, ...), and ``plain`` renders without any
(an alert, a notification's fallback).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Union

from bot.domain.people import Group, Person

if TYPE_CHECKING:
    from bot.service.chat.alerts import AlertButtons
    from bot.service.chat.message import RequestMessage


@dataclass(frozen=True, slots=True)
class Bold:
    parts: Line


@dataclass(frozen=True, slots=True)
class Italic:
    parts: Line


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    """A link to an http(s) URL (``link`` makes anything else plain text)."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class When:
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Mention:
    """A person, notified where the channel can (by its id for them), named otherwise."""

    person: Person


@dataclass(frozen=True, slots=True)
class Mentions:
    """People and groups to notify; ``fallback`` when the channel can name none of them."""

    people: tuple[Person, ...]
    groups: tuple[Group, ...] = ()
    fallback: str = "the approver groups"


@dataclass(frozen=True, slots=True)
class Command:
    """A command as the person types it (``/approvals show ID``, ``/show ID``)."""

    text: str


Part = Union[str, Bold, Italic, Code, Link, When, Mention, Mentions, Command]  # noqa: UP007
Line = tuple[Part, ...]


def bold(*parts: Part) -> Bold:
    return Bold(parts)


def italic(*parts: Part) -> Italic:
    return Italic(parts)


def link(label: str, url: str) -> Part:
    """A link for http(s) URLs; anything else is shown as text, never as a link."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return Link(label, url) if scheme in ("http", "https") else f"{label}: {url}"


def joined(parts: Iterable[Line], sep: str) -> Line:
    out: list[Part] = []
    for i, line in enumerate(parts):
        if i:
            out.append(sep)
        out += line
    return tuple(out)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core says to someone: lines, or a request's message (``show``)."""

    lines: tuple[Line, ...] = ()
    message: RequestMessage | None = None
    quote: str | None = None  # free text quoted after the lines (a reason)

    @classmethod
    def of(cls, *parts: Part) -> Reply:
        return cls((tuple(parts),))


class Markup:
    """How one channel writes rich text; this base writes none (plain text: an alert, a
    notification's fallback). A channel's markup overrides ``escape`` and the styles; the
    walk over the parts is here, once."""

    # How each style wraps what it styles (already rendered, so already escaped).
    BOLD = ITALIC = CODE = "{}"
    MORE = "… +{} more"  # after the items ``fit`` left out

    def clip(self, text: str, limit: int) -> str:
        """Rendered ``text`` in at most ``limit`` characters (a markup a cut can break
        overrides it)."""
        return clip(text, limit)

    def fit(self, items: Sequence[str], limit: int, sep: str = "\n") -> str:
        """As many of the rendered ``items`` as fit in ``limit`` characters, joined by
        ``sep``, then how many were left out ("… +3 more"); a first item longer than the
        limit is clipped."""
        whole = sep.join(items)
        if len(whole) <= limit or len(items) == 1:
            return self.clip(whole, limit)
        kept, used = 0, -len(sep)
        for item in items[:-1]:  # keep one more while it and the count after it fit
            more = sep + self.MORE.format(len(items) - kept - 1)
            if used + len(sep) + len(item) + len(more) > limit:
                break
            used += len(sep) + len(item)
            kept += 1
        more = sep + self.MORE.format(len(items) - max(kept, 1))
        if kept == 0:
            return self.clip(items[0], limit - len(more)) + more
        return sep.join(items[:kept]) + more

    def escape(self, text: str) -> str:
        """Text from anywhere, made safe in this markup: the only place that escapes."""
        return text

    def link(self, label: str, url: str) -> str:
        """``label`` and ``url`` as given (escape them)."""
        return self.escape(label)

    def when(self, at: datetime | None) -> str:
        return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"

    def mention(self, person: Person) -> str | None:
        """A notifying mention, or None when this channel has no id for them."""
        return None

    def group_mention(self, group: Group) -> str | None:
        """A notifying mention of a group, or None (most channels have none)."""
        return None

    def command(self, text: str) -> str:
        return self.CODE.format(self.escape(text))

    def render(self, parts: Sequence[Part]) -> str:
        return "".join(self.part(p) for p in parts)

    def part(self, p: Part) -> str:
        if isinstance(p, str):
            return self.escape(p)
        if isinstance(p, Bold):
            return self.BOLD.format(self.render(p.parts))
        if isinstance(p, Italic):
            return self.ITALIC.format(self.render(p.parts))
        if isinstance(p, Code):
            return self.CODE.format(self.escape(p.text))
        if isinstance(p, Link):
            return self.link(p.label, p.url)
        if isinstance(p, When):
            return self.when(p.at)
        if isinstance(p, Mention):
            return self.mention(p.person) or self.escape(p.person.name)
        if isinstance(p, Mentions):
            return self.mentions(p)
        return self.command(p.text)

    def mentions(self, m: Mentions) -> str:
        found = [self.mention(p) or self.escape(p.name) for p in m.people]
        found += [g for g in (self.group_mention(g) for g in m.groups) if g]
        return " ".join(dict.fromkeys(found)) or self.escape(m.fallback)

    # -- whole messages (a channel lays them out its way) ---------------------------

    def lines(self, lines: Sequence[Line]) -> str:
        return "\n".join(self.render(line) for line in lines)

    def reply(self, reply: Reply) -> Any:
        """What the core says to someone, as this channel sends it."""
        text = self.lines(reply.lines)
        if reply.quote:
            text += "\n" + self.escape(reply.quote)
        return text

    def message(self, message: RequestMessage) -> Any:
        """A request's message, as this channel posts it."""
        return self.escape(message.notification)

    def alert(self, reply: Reply, buttons: AlertButtons | None) -> Any:
        """A divergence's alert (bot/service/chat/alerts.py) with its buttons, where this
        channel has buttons (the base has none)."""
        return self.reply(reply)

    def digest(self, rendered: Any) -> str:
        """What tells two renderings of a message apart, in 64 characters: an update that
        renders what the message shows already is not sent (``publisher.py``). A hash of
        its ``repr``; a channel whose rendering has no faithful ``repr`` overrides it."""
        return hashlib.sha256(repr(rendered).encode()).hexdigest()


PLAIN = Markup()


def plain(parts: Sequence[Part]) -> str:
    """The text without any markup (alerts, a notification's fallback)."""
    return PLAIN.render(parts)
