"""``ChatMessageRepository`` over SQLAlchemy Core: where each channel shows a request, and
the claim a deliverer holds while it posts the message (one message per request/channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.db import tables as t
from bot.ports import ChatClaim

_c = t.chat_messages.c
POSTING, POSTED = "posting", "posted"


class SqlChatMessageRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def _where(self, request_id: str, channel: str) -> Any:
        return (_c.request_id == request_id) & (_c.channel == channel)

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(_c.ref).where(self._where(request_id, channel), _c.state == POSTED)
        ).first()
        return dict(row.ref) if row else None

    def put(self, request_id: str, channel: str, ref: dict[str, Any], at: datetime) -> None:
        res = self.conn.execute(
            update(t.chat_messages)
            .where(self._where(request_id, channel))
            .values(ref=ref, updated_at=at, state=POSTED, claim_token=None, lease_until=None)
        )
        if res.rowcount == 0:
            self.conn.execute(
                insert(t.chat_messages).values(
                    request_id=request_id, channel=channel, ref=ref, updated_at=at, state=POSTED
                )
            )

    def _row(self, request_id: str, channel: str) -> Any:
        q = select(_c.state, _c.ref, _c.claim_token, _c.lease_until).where(
            self._where(request_id, channel)
        )
        if self._locking:
            q = q.with_for_update()
        return self.conn.execute(q).first()

    def claim(
        self, request_id: str, channel: str, *, token: str, now: datetime, lease_until: datetime
    ) -> ChatClaim:
        row = self._row(request_id, channel)
        if row is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        insert(t.chat_messages).values(
                            request_id=request_id,
                            channel=channel,
                            ref={},
                            updated_at=now,
                            state=POSTING,
                            claim_token=token,
                            lease_until=lease_until,
                        )
                    )
                return ChatClaim(token=token)
            except IntegrityError:  # another deliverer inserted it first: see what it holds
                row = self._row(request_id, channel)
        if row.state == POSTED:
            return ChatClaim(ref=dict(row.ref))
        if row.lease_until is not None and row.lease_until > now:
            return ChatClaim()  # someone is posting it now
        res = self.conn.execute(
            update(t.chat_messages)
            .where(
                self._where(request_id, channel),
                _c.state == POSTING,
                _c.claim_token == row.claim_token,
            )
            .values(claim_token=token, lease_until=lease_until, updated_at=now)
        )
        return ChatClaim(token=token, retaken=True) if res.rowcount == 1 else ChatClaim()

    def finish(
        self, request_id: str, channel: str, *, token: str, ref: dict[str, Any], at: datetime
    ) -> bool:
        res = self.conn.execute(
            update(t.chat_messages)
            .where(self._where(request_id, channel), _c.state == POSTING, _c.claim_token == token)
            .values(ref=ref, updated_at=at, state=POSTED, claim_token=None, lease_until=None)
        )
        return bool(res.rowcount == 1)

    def abandon(self, request_id: str, channel: str, *, token: str, at: datetime) -> None:
        self.conn.execute(
            update(t.chat_messages)
            .where(self._where(request_id, channel), _c.state == POSTING, _c.claim_token == token)
            .values(lease_until=at, updated_at=at)
        )

    def release(self, request_id: str, channel: str, *, token: str) -> None:
        self.conn.execute(
            delete(t.chat_messages).where(
                self._where(request_id, channel), _c.state == POSTING, _c.claim_token == token
            )
        )
