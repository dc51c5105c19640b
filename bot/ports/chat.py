"""What a chat channel gives the chat core (``bot/service/chat``): a ``Transport`` to its
platform for the messages the outbox delivers, and, for each thing a person does there
(a click, a command, a reply), a ``Conversation`` to answer them in.

Everything the core says is rendered first by the channel's ``Markup``
(``bot/service/chat/rich.py``): the transport sends what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.evidence import Picture
from bot.domain.model import ApprovalRequest

Ref = dict[str, Any]  # where a message is, as the channel knows it (stored as JSON)


class ChatRefused(Exception):
    """The platform refused the call, so nothing was posted; the message says so in the
    platform's words. ``permanent``: retrying cannot fix it (a wrong channel, no rights, a
    message it will never take)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MessageGone(Exception):
    """The message was deleted on the platform (it is left alone); the platform's words."""


class Updated(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # it already showed that: harmless


class Transport(Protocol):
    """Posts, updates and replies for the outbox. Raises ``ChatRefused`` when the platform
    refused; any other exception means the call may have gone through."""

    async def post(self, rendered: Any, *, request_id: str) -> Ref:
        """Post a request's message (rendered by the markup); where it is."""
        ...

    async def update(self, ref: Ref, rendered: Any) -> Updated:
        """Show ``rendered`` in the message at ``ref``; ``MessageGone`` when it was deleted."""
        ...

    async def reply(
        self, ref: Ref | None, rendered: Any, *, key: str, look_first: bool, loud: bool
    ) -> bool:
        """A reply to the message at ``ref`` (a message in the channel when None); ``key``
        names it. ``look_first``: it may have been posted before (a redelivery): where the
        platform can look, look, and post nothing when found (False). ``loud``: the channel
        sees it too (an escalation)."""
        ...

    async def find_post(self, request_id: str) -> Ref | None:
        """The request's message, posted by a deliverer that did not finish; None when not
        found, or when the platform has no way to look."""
        ...

    async def pictures(
        self, ref: Ref, pictures: Sequence[Picture], *, request_id: str, look_first: bool
    ) -> int:
        """Show the request's evidence pictures with their alt text, in reply to its message
        at ``ref``; how many were sent. ``look_first``: a redelivery: where the platform can
        look, send only those not there yet."""
        ...


class Conversation(Protocol):
    """Something a person did in a channel, and how to answer them there."""

    @property
    def user_id(self) -> str:
        """The channel's id for the person (never a display name)."""
        ...

    @property
    def budget(self) -> float:
        """Seconds the first answer may wait for the outcome (0: answer at once, tell the
        outcome later)."""
        ...

    async def answer(
        self, rendered: Any | None, *, alert: bool = False, keep: bool = False
    ) -> None:
        """The first answer (a click is answered once). ``alert``: it says something went
        wrong; ``keep``: a form stays open, showing it (the person can change something)."""
        ...

    async def tell(self, rendered: Any) -> None:
        """A later word to the person (after the first answer)."""
        ...

    async def prompt_reason(self, request: ApprovalRequest) -> None:
        """Answer by asking for the reason to reject ``request`` (a modal, a reply prompt)."""
        ...
