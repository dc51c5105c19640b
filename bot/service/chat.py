"""Where each chat channel shows a request, so later changes update the same message; and
the little a channel must remember across restarts and replicas (Telegram's update offset
and its reject prompts).

One message per request and channel, across replicas and crashes: a channel's handler
``claim``s the message before posting it. The claim says whether the message is posted
(update it), whether this deliverer may post it, or that another one is posting it now
(``PostingElsewhere``: the outbox tries again later). A claim taken over from a deliverer
that did not finish (``retaken``) may have a post behind it: the handler looks for it (by
the message's metadata, where the channel has a way) before posting again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from bot.ports import ChatClaim, Clock, UnitOfWorkFactory
from bot.service.clock import SystemClock

LEASE_SECONDS = 60.0  # the outbox's lease (APPROVAL_BOT_OUTBOX_LEASE_SECONDS) by default


class PostingElsewhere(Exception):
    """Another deliverer holds the claim on this message: retried later by the outbox."""

    def __init__(self, request_id: str, channel: str) -> None:
        super().__init__(
            f"the {channel} message of request {request_id} is being posted by another "
            "deliverer; trying again later"
        )


class ChatMessages:
    def __init__(self, uow: UnitOfWorkFactory, *, clock: Clock | None = None) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()

    def ref(self, request_id: str, channel: str) -> dict[str, Any] | None:
        with self.uow() as uow:
            return uow.chat.get(request_id, channel)

    def save(self, request_id: str, channel: str, ref: dict[str, Any]) -> None:
        """Record where the message is, unconditionally (a channel that does not claim)."""
        with self.uow() as uow:
            uow.chat.put(request_id, channel, ref, self.clock.now())
            uow.commit()

    def claim(
        self, request_id: str, channel: str, *, lease_seconds: float = LEASE_SECONDS
    ) -> ChatClaim:
        """Claim posting the request's message in ``channel`` for ``lease_seconds``; raises
        ``PostingElsewhere`` when another deliverer holds the claim."""
        now = self.clock.now()
        with self.uow() as uow:
            claim = uow.chat.claim(
                request_id,
                channel,
                token=secrets.token_hex(8),
                now=now,
                lease_until=now + timedelta(seconds=lease_seconds),
            )
            uow.commit()
        if claim.ref is None and claim.token is None:
            raise PostingElsewhere(request_id, channel)
        return claim

    def posted(self, request_id: str, channel: str, token: str, ref: dict[str, Any]) -> bool:
        """Record the message posted under the claim ``token``; False when the claim ran
        out and was taken over meanwhile (the taker finds this post by its metadata)."""
        with self.uow() as uow:
            ok = uow.chat.finish(request_id, channel, token=token, ref=ref, at=self.clock.now())
            uow.commit()
        return ok

    def abandon(self, request_id: str, channel: str, token: str) -> None:
        """The attempt failed and may or may not have posted: let the next one take the
        claim over at once (and look for the post first)."""
        with self.uow() as uow:
            uow.chat.abandon(request_id, channel, token=token, at=self.clock.now())
            uow.commit()

    def release(self, request_id: str, channel: str, token: str) -> None:
        """The channel refused the post, so nothing was posted: drop the claim (the next
        attempt posts without looking first)."""
        with self.uow() as uow:
            uow.chat.release(request_id, channel, token=token)
            uow.commit()

    # -- Telegram's state ------------------------------------------------------------

    def telegram_state(self, key: str) -> Any | None:
        with self.uow() as uow:
            return uow.telegram.get(key)

    def save_telegram_state(self, key: str, value: Any) -> None:
        with self.uow() as uow:
            uow.telegram.put(key, value, self.clock.now())
            uow.commit()

    def drop_telegram_state(self, key: str) -> bool:
        with self.uow() as uow:
            dropped = uow.telegram.delete(key)
            uow.commit()
        return dropped
